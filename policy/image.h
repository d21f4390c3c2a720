/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A map image: the exact entries of the policy maps for one node and one revision, as records of
 * the kernel layout (policy/layout.h, bpf/policy_layout.h) with slot 0, plus the tables user
 * space needs to name what the counters count. The loader sets the slot as it writes them, and
 * writes one iof_endpoints entry per endpoint (attach id -> profile, endpoint index).
 */
#ifndef IOFENCE_POLICY_IMAGE_H
#define IOFENCE_POLICY_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#include "layout.h"
#include "model.h"

struct image_index;

/* One local endpoint: endpoint_index is its position in image.endpoints. */
struct image_endpoint {
	size_t doc_index; /* index in document.endpoints */
	const char *name; /* borrowed from the document */
	const char *interface;
	const char *cgroup;
	uint32_t profile;   /* iof_endpoint_val.profile: the tries and keys of its entries */
	uint16_t any_ports; /* iof_endpoint_val.any_ports: its profile's listed port groups */
	uint64_t identity;  /* its counters' identity: policy_counter_identity() of its name */
};

/* One local rule: rule_id is its position in image.rules. */
struct image_rule {
	size_t group_index; /* index in document.groups */
	size_t rule_index;  /* index in group.rules */
	uint64_t identity;  /* its counters' identity: policy_counter_identity() of its label */
};

/* The parts of an image a profile's records are in: the layout's tables, then iof_any_group. */
#define IMAGE_PART_ANY_GROUPS LAYOUT_TABLES
#define IMAGE_PARTS (LAYOUT_TABLES + 1)

/*
 * One profile of an image (the endpoints sharing groups, defaults and mode share its entries):
 * its number, what identifies it from one revision to the next, and where its records are
 * (records [first[k], first[k] + count[k]) of part k), so that the next revision's compile can
 * keep its number and, when nothing it depends on changed, its records.
 */
struct image_profile {
	uint64_t identity; /* of its groups (by name), defaults and mode: never 0 */
	uint32_t number;   /* the tries and keys of its entries (iof_endpoint_val.profile) */
	uint16_t any_ports;
	size_t n_classes;
	size_t first[IMAGE_PARTS], count[IMAGE_PARTS];
};

/* Prefilter deny entry: interface name (borrowed) and prefix. */
struct image_prefilter {
	const char *interface;
	struct policy_prefix prefix;
};

struct policy_image {
	uint64_t revision;
	struct layout_remote4 *remote4; /* the remote tries' entries: prefixes shorter than hosts */
	size_t n_remote4;
	struct layout_remote6 *remote6;
	size_t n_remote6;
	struct layout_host4 *host4; /* the host addresses */
	size_t n_host4;
	struct layout_host6 *host6;
	size_t n_host6;
	struct layout_policy *policy;
	size_t n_policy;
	struct layout_any_port *any_ports; /* a profile's any-remote port entries, listed */
	size_t n_any_ports;
	struct layout_any_group *any_groups; /* and the other ports' verdicts of those groups */
	size_t n_any_groups;
	struct image_endpoint *endpoints;
	size_t n_endpoints;
	struct image_rule *rules;
	size_t n_rules;
	struct image_prefilter *prefilter;
	size_t n_prefilter;
	size_t n_remote_classes;
	struct image_profile *profiles; /* in the order their records are in */
	size_t n_profiles;
	size_t n_profiles_reused; /* of those, copied from the previous image (not compiled) */
	uint32_t profile_bound; /* every profile number is below it (numbers may leave holes) */
	const struct policy_document *doc; /* compiled from (borrowed, as the names are) */
	char *node;			   /* compiled for */
	bool entries_released;	   /* policy_image_release_entries() was called */
	struct image_index *index; /* built by the first policy_image_lookup() */
};

/**
 * policy_compile() - compile the document for one node into a map image.
 * @doc: a validated document; it must outlive the image (names are borrowed).
 * @node: node name; its endpoints are enforced, all endpoints serve as group members.
 * @ret_image: set to a new image, freed with policy_image_free().
 * @msg: receives, on -E2BIG, which map does not fit and the numbers (may be NULL).
 *
 * Return: 0, -ENOMEM, or -E2BIG when a map capacity of policy_layout.h would be exceeded
 * (the image is not produced).
 */
int policy_compile(const struct policy_document *doc, const char *node,
		   struct policy_image **ret_image, char *msg, size_t msg_len);

/* What policy_compile_update() takes from the previous image. */
enum policy_compile_reuse {
	POLICY_REUSE_NUMBERS, /* its profile numbers only */
	POLICY_REUSE_PARTS,   /* and the records of the profiles nothing changed for */
};

/**
 * policy_compile_update() - compile the document for one node, given the image of the
 * revision before it.
 * @prev: the previous image for this node (its document still alive), or NULL (as
 *	policy_compile()).
 *
 * Profile numbers are stable: a profile that was in @prev keeps its number, a new one takes the
 * lowest number no kept profile has, so a new profile does not move the entries of the others
 * (the datapath then writes only what changed). Numbers stay below IOF_MAX_PROFILES: below the
 * larger of @prev's bound and the number of profiles.
 *
 * With POLICY_REUSE_PARTS and @prev's entries kept (not released), when the two documents have
 * the same groups (shared, as policy_derive() leaves them) and this node the same rules, a
 * profile none of whose remote groups changed members is not compiled again: its records are
 * copied from @prev. The image is byte for byte the one POLICY_REUSE_NUMBERS gives (the tests
 * compare them). Returns as policy_compile().
 */
int policy_compile_update(const struct policy_document *doc, const char *node,
			  const struct policy_image *prev, enum policy_compile_reuse reuse,
			  struct policy_image **ret_image, char *msg, size_t msg_len);

void policy_image_free(struct policy_image *image);

/* Remote prefixes of a family (the trie's and the host table's entries). */
static inline size_t policy_image_remotes(const struct policy_image *img, int family)
{
	return family == 4 ? img->n_remote4 + img->n_host4 : img->n_remote6 + img->n_host6;
}

/* Entries of the policy maps (the tries, the host tables, the listed ports and groups). */
static inline size_t policy_image_entries(const struct policy_image *img)
{
	return policy_image_remotes(img, 4) + policy_image_remotes(img, 6) + img->n_policy +
	       img->n_any_ports + img->n_any_groups;
}

/*
 * Frees the map entries (the tries', host tables', listed ports', and the lookup index) once they are in the
 * maps, keeping the tables that name what counters count (endpoints, rules, prefilter), the
 * profiles' numbers and the entry counts. The image can no longer be looked up or written
 * (-ENODATA), nor its parts reused.
 */
void policy_image_release_entries(struct policy_image *image);

/*
 * Checks the image against the map capacities. Return: 0, or -E2BIG with a message such as
 * "iof_policy: 2500000 entries exceed the capacity of 2097152" written to msg.
 */
int policy_image_check_capacity(const struct policy_image *image, char *msg, size_t msg_len);

/* A packet as the datapath sees it, from the endpoint's point of view. */
struct image_packet {
	uint32_t endpoint_index;
	enum policy_direction direction;
	struct policy_prefix remote; /* host address (len 32 or 128) */
	uint8_t proto;
	uint16_t dport; /* host order; 0 for protocols without ports */
};

struct image_verdict {
	enum policy_action action;
	bool audit;
	bool is_default;  /* no rule matched: endpoint default */
	uint32_t rule_id; /* IOF_RULE_NONE for a default */
	unsigned lookups; /* map lookups made: at most IOF_NEW_FLOW_LOOKUPS_MAX */
	bool class_part;  /* the class part was looked up */
	bool any_part;	  /* the any-remote verdict was looked up (not skipped by a final one) */
	bool listed;	  /* that verdict came from a listed group (iof_any_ports or its group) */
};

/**
 * policy_image_lookup() - judge a new flow over the image's records exactly as the BPF program
 * (bpf/verdict.h) walks the maps: the endpoint, the host table then the profile's remote trie,
 * the class part unless the class has no rules in the direction, and unless that verdict is
 * final the any-remote verdict (a listed group's port, else its group entry; otherwise the any
 * part); the lower rank wins. Kernel longest-prefix-match and exact-match semantics, one trie
 * per {profile, part} as in the maps. The first call builds an index (not thread-safe); later
 * calls are read-only.
 *
 * Return: 0, or -ENOENT when a lookup the program fails closed on misses (unknown endpoint).
 */
int policy_image_lookup(const struct policy_image *image, const struct image_packet *pkt,
			struct image_verdict *ret_verdict);

#endif /* IOFENCE_POLICY_IMAGE_H */
