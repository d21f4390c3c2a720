/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A map image: the exact entries of the policy maps (bpf/policy_maps.h) for one node and one
 * revision, as the compiler produces them, plus the tables user space needs to name what the
 * counters count. Keys carry slot 0; the loader sets the slot as it writes them, and writes
 * one iof_endpoints entry per endpoint (attach id -> profile, endpoint index).
 */
#ifndef IOFENCE_POLICY_IMAGE_H
#define IOFENCE_POLICY_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#include "../bpf/policy_maps.h"
#include "model.h"

struct image_index;

struct image_remote4 {
	struct iof_remote4_key key;
	struct iof_remote_val val;
};

struct image_remote6 {
	struct iof_remote6_key key;
	struct iof_remote_val val;
};

struct image_policy {
	struct iof_policy_key key;
	struct iof_policy_val val;
};

/* A listed any-remote port (policy_maps.h: iof_any_port_key). */
struct image_any_port {
	struct iof_any_port_key key;
	struct iof_policy_val val;
};

/* A listed group's verdict for its unlisted ports (policy_maps.h: iof_any_group). */
struct image_any_group {
	uint32_t profile;
	uint32_t group; /* iof_any_group_of() */
	struct iof_policy_val val;
};

/* One local endpoint: endpoint_index is its position in image.endpoints. */
struct image_endpoint {
	size_t doc_index; /* index in document.endpoints */
	const char *name; /* borrowed from the document */
	const char *interface;
	const char *cgroup;
	uint32_t profile;   /* iof_policy_key.profile of its entries */
	uint16_t any_ports; /* iof_endpoint_val.any_ports: its profile's listed port groups */
};

/* One local rule: rule_id is its position in image.rules. */
struct image_rule {
	size_t group_index; /* index in document.groups */
	size_t rule_index;  /* index in group.rules */
};

/* Prefilter deny entry: interface name (borrowed) and prefix. */
struct image_prefilter {
	const char *interface;
	struct policy_prefix prefix;
};

struct policy_image {
	uint64_t revision;
	struct image_remote4 *remote4;
	size_t n_remote4;
	struct image_remote6 *remote6;
	size_t n_remote6;
	struct image_policy *policy;
	size_t n_policy;
	struct image_any_port *any_ports; /* derived from policy: its any-remote ports, listed */
	size_t n_any_ports;
	struct image_any_group *any_groups; /* and the other ports' verdicts of those groups */
	size_t n_any_groups;
	struct image_endpoint *endpoints;
	size_t n_endpoints;
	struct image_rule *rules;
	size_t n_rules;
	struct image_prefilter *prefilter;
	size_t n_prefilter;
	size_t n_remote_classes;
	size_t n_profiles;
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
 * Return: 0, -ENOMEM, or -E2BIG when a map capacity of policy_maps.h would be exceeded
 * (the image is not produced).
 */
int policy_compile(const struct policy_document *doc, const char *node,
		   struct policy_image **ret_image, char *msg, size_t msg_len);

void policy_image_free(struct policy_image *image);

/*
 * Frees the map entries (remote4, remote6, policy, and the lookup index) once they are in the
 * maps, keeping the tables that name what counters count (endpoints, rules, prefilter) and
 * the entry counts. The image can no longer be looked up or written (-ENODATA).
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
	unsigned lookups; /* map lookups made (remote + policy): at most 3 */
};

/**
 * policy_image_lookup() - judge a new flow exactly as the BPF program does: one LPM lookup in
 * the remote trie of the packet's family, one in the policy trie for the remote class and,
 * unless that verdict is final, one for IOF_CLASS_ANY; the lower rank wins. Kernel
 * longest-prefix-match semantics over the image's entries (slot 0). The first call builds an
 * index (not thread-safe); later calls are read-only.
 *
 * Return: 0, or -ENOENT when the policy lookup misses (unknown endpoint: the program drops).
 */
int policy_image_lookup(const struct policy_image *image, const struct image_packet *pkt,
			struct image_verdict *ret_verdict);

#endif /* IOFENCE_POLICY_IMAGE_H */
