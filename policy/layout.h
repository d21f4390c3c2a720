/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The user-space half of the kernel map layout (bpf/policy_layout.h): the records a map image
 * is made of, one per map entry, and how each is made. A record holds exactly the key and value
 * the map holds, with slot 0 in a slotted key; a trie record starts with the number of its trie
 * within a slot (the outer array index minus the slot's base). The compiler makes records with
 * the functions below; the datapath writer (agent/datapath/image_write.c) batches each table
 * into its map, setting the slot; the delta writer diffs records; policy_image_lookup() walks
 * them as the BPF program walks the maps.
 */
#ifndef IOFENCE_POLICY_LAYOUT_H
#define IOFENCE_POLICY_LAYOUT_H

#include <arpa/inet.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../bpf/policy_layout.h"
#include "model.h"

/* iof_policy: one entry of the trie {profile, part} (trie = iof_policy_index(0, ...)). */
struct layout_policy {
	uint32_t trie;
	struct iof_policy_key key;
	struct iof_policy_val val;
};

/* iof_remote4/6: one entry of the profile's remote trie (trie = the profile). */
struct layout_remote4 {
	uint32_t trie;
	struct iof_remote4_key key;
	struct iof_remote_val val;
};

struct layout_remote6 {
	uint32_t trie;
	struct iof_remote6_key key;
	struct iof_remote_val val;
};

/* iof_remote4/6_host: one host address of a profile. */
struct layout_host4 {
	struct iof_remote4_host_key key;
	struct iof_remote_val val;
};

struct layout_host6 {
	struct iof_remote6_host_key key;
	struct iof_remote_val val;
};

/* iof_any_ports: one listed any-remote port. */
struct layout_any_port {
	struct iof_any_port_key key;
	struct iof_policy_val val;
};

/* iof_any_group: a listed group's verdict for its unlisted ports (index in slot 0). */
struct layout_any_group {
	uint32_t index; /* iof_any_group_index(0, profile, group) */
	struct iof_policy_val val;
};

/* A record is its identity (trie number and key, or key) followed by its value. */
#define LAYOUT_RECORD(rec, key_t, val_t, trie_bytes)                                               \
	_Static_assert(offsetof(struct rec, key) == (trie_bytes), #rec ".key offset");             \
	_Static_assert(offsetof(struct rec, val) == (trie_bytes) + sizeof(key_t), #rec ".val");    \
	_Static_assert(sizeof(struct rec) == (trie_bytes) + sizeof(key_t) + sizeof(val_t),         \
		       #rec " size")
LAYOUT_RECORD(layout_policy, struct iof_policy_key, struct iof_policy_val, 4);
LAYOUT_RECORD(layout_remote4, struct iof_remote4_key, struct iof_remote_val, 4);
LAYOUT_RECORD(layout_remote6, struct iof_remote6_key, struct iof_remote_val, 4);
LAYOUT_RECORD(layout_host4, struct iof_remote4_host_key, struct iof_remote_val, 0);
LAYOUT_RECORD(layout_host6, struct iof_remote6_host_key, struct iof_remote_val, 0);
LAYOUT_RECORD(layout_any_port, struct iof_any_port_key, struct iof_policy_val, 0);
_Static_assert(offsetof(struct layout_any_group, val) == 4, "layout_any_group.val");

/* The tables of an image that the writers handle alike (iof_any_group is an array: apart). */
enum layout_table_id {
	LAYOUT_REMOTE4,
	LAYOUT_REMOTE6,
	LAYOUT_POLICY,
	LAYOUT_HOST4,
	LAYOUT_HOST6,
	LAYOUT_ANY_PORTS,
	LAYOUT_TABLES
};

/* One table of an image: where its records are and what they hold. */
struct layout_table {
	const char *map;	 /* the map's name */
	bool tries;		 /* an array of LPM tries: records start with a __u32 trie number */
	uint32_t tries_per_slot; /* tries: outer indexes per slot */
	uint32_t trie_max;	 /* tries: max_entries of each trie (bpf/maps.h) */
	const char *trie_name;	 /* tries: the name each inner trie is created with */
	const char *base;	 /* records (NULL with n = 0 for a table without an image) */
	size_t n;
	size_t rec_size;
	size_t id_size; /* bytes naming the entry: trie number (tries) and key; the value follows */
	size_t key_off; /* the map key: id bytes from key_off (4 for tries, else 0) */
	size_t val_size; /* the value: at id_size */
};

struct policy_image;

/* Table t of img; img may be NULL (no records: the map's shape only). */
struct layout_table layout_table_of(const struct policy_image *img, enum layout_table_id t);

static inline const char *layout_record(const struct layout_table *t, size_t i)
{
	return t->base + i * t->rec_size;
}

/* The trie a record of a trie table belongs to. */
static inline uint32_t layout_record_trie(const char *rec)
{
	uint32_t trie;

	__builtin_memcpy(&trie, rec, sizeof(trie));
	return trie;
}

/* Sets the slot of a slotted map key (an iof_*_host_key, iof_any_port_key, ...). */
static inline void layout_set_slot(void *key, uint8_t slot)
{
	((uint8_t *)key)[IOF_KEY_SLOT_OFFSET] = slot;
}

/* The policy key of {dir, class, proto, port (host order)} at prefix length plen. */
static inline struct iof_policy_key layout_policy_key(uint8_t dir, uint32_t plen,
						      uint32_t remote_class, uint8_t proto,
						      uint16_t dport)
{
	struct iof_policy_key k = {.prefixlen = plen,
				   .dir = dir,
				   .proto = proto,
				   .dport = htons(dport)};

	__builtin_memcpy(k.remote_class, &remote_class, sizeof(k.remote_class));
	return k;
}

static inline uint32_t layout_policy_class(const struct iof_policy_key *k)
{
	uint32_t cls;

	__builtin_memcpy(&cls, k->remote_class, sizeof(cls));
	return cls;
}

/* The part a policy key goes to: the any part for IOF_CLASS_ANY and the endpoint defaults. */
static inline uint32_t layout_policy_part(const struct iof_policy_key *k)
{
	return k->prefixlen <= IOF_POLICY_PLEN_ENDPOINT || layout_policy_class(k) == IOF_CLASS_ANY
		   ? IOF_POLICY_PART_ANY
		   : IOF_POLICY_PART_CLASS;
}

/* A policy record of profile (its trie from the key's part). */
static inline struct layout_policy layout_policy_entry(uint32_t profile, struct iof_policy_key key,
						       struct iof_policy_val val)
{
	return (struct layout_policy){
	    .trie = iof_policy_index(0, profile, layout_policy_part(&key)), .key = key, .val = val};
}

/*
 * A remote prefix of profile with its class: a host address (/32, /128) goes to the host table
 * (returns true, *host filled), a shorter prefix to the profile's trie (false, *trie filled).
 */
bool layout_remote4_entry(uint32_t profile, const struct policy_prefix *p,
			  struct iof_remote_val val, struct layout_remote4 *trie,
			  struct layout_host4 *host);
bool layout_remote6_entry(uint32_t profile, const struct policy_prefix *p,
			  struct iof_remote_val val, struct layout_remote6 *trie,
			  struct layout_host6 *host);

struct layout_any_port layout_any_port_entry(uint32_t profile, uint8_t dir, uint8_t proto,
					     uint16_t port, struct iof_policy_val val);
struct layout_any_group layout_any_group_entry(uint32_t profile, uint32_t group,
					       struct iof_policy_val val);

#endif /* IOFENCE_POLICY_LAYOUT_H */
