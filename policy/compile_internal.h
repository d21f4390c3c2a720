/* SPDX-License-Identifier: Apache-2.0 */
/*
 * State shared by the compiler's parts (compile.c, compile_profiles.c, compile_reuse.c,
 * compile_remote.c, compile_entries.c, compile_ports.c).
 * Not part of the policy API.
 */
#ifndef IOFENCE_POLICY_COMPILE_INTERNAL_H
#define IOFENCE_POLICY_COMPILE_INTERNAL_H

#include <stdint.h>

#include "image.h"

#define SELECTOR_NONE UINT32_MAX /* a rule with any remote */

/* A remote selector: one distinct CIDR or group referenced by a local rule. */
struct selector {
	enum policy_remote_kind kind;
	struct policy_prefix cidr; /* POLICY_REMOTE_CIDR */
	size_t group;              /* POLICY_REMOTE_GROUP */
};

struct compile_ctx {
	const struct policy_document *doc;
	struct policy_image *img;

	/* Local rules, indexed by rule_id (image.rules order). */
	const struct policy_rule **rule; /* the rule itself */
	uint32_t *rank;                  /* precedence: position in (priority, deny, order) */
	uint32_t *rule_selector;         /* selector id or SELECTOR_NONE */
	size_t *group_first;             /* first rule_id of each group; SIZE_MAX if not local */

	struct selector *sel;
	size_t n_sel;
	uint32_t *group_sel;                /* selector id of each group, or SELECTOR_NONE */
	size_t *member_off;                 /* group g's member addresses (all nodes): */
	const struct policy_prefix **member; /*   member[member_off[g]..member_off[g + 1]) */

	/* Remote classes of the profile being compiled, as sets of selector ids (CSR)... */
	uint32_t *class_off, *class_items;
	size_t n_classes, cap_class_off, cap_class_items;
	/* ...and for each of its selectors the classes holding it (sel_stamp == profile + 1). */
	uint32_t *sel_stamp, *sel_class_first, *sel_class_count, *sel_classes;
	void *scratch_points; /* compile_remote.c's point list, reused across profiles */
	size_t cap_points;
	uint32_t *scratch_set;
	size_t cap_set;

	/* Policy entries of the profile being compiled (endpoint field left 0). */
	struct layout_policy *tmpl;
	size_t n_tmpl, cap_tmpl;
	size_t cap_remote4, cap_remote6, cap_host4, cap_host6, cap_policy, cap_any_ports,
	    cap_any_groups;
	const uint32_t *final_any; /* compile_class_entries: any-remote rules to outrank */
	size_t n_final_any;
	bool all_final;
	char *msg; /* why the image does not fit (-E2BIG) */
	size_t msg_len;

	/* The previous image (compile_reuse.c): its profile numbers, and maybe its records. */
	const struct policy_image *prev;
	bool reuse_parts;    /* same groups and local rules as prev: a profile's records may be copied */
	bool *group_changed; /* reuse_parts: per group, its members differ from prev's document */
	bool prepared;       /* ranks and selectors made (only once a profile is compiled) */
};

/* Endpoints with the same profile (groups, defaults, mode) compile to the same entries. */
struct profile_key {
	const struct policy_document *doc;
	size_t local;	/* index in image.endpoints */
	size_t *groups; /* sorted, unique */
	size_t n_groups;
	int ingress, egress, mode;
};

/* compile_profiles.c: every local endpoint's profile key, sorted: equal profiles adjacent. */
int compile_profile_keys(struct compile_ctx *ctx, struct profile_key **ret);
void compile_profile_keys_free(struct profile_key *keys, size_t n);
bool compile_same_profile(const struct profile_key *x, const struct profile_key *y);
/*
 * compile_profiles.c: the runs of (sorted) keys that share a profile: first[i] is the first key
 * of run i (first[n] = n_ep), identity[i] its compile_profile_identity(). 0 or -ENOMEM (the
 * arrays, allocated even then, are the caller's to free).
 */
int compile_distinct_profiles(struct compile_ctx *ctx, const struct profile_key *keys,
			      size_t n_ep, size_t **ret_first, uint64_t **ret_identity,
			      size_t *ret_n);

/* compile_remote.c: selectors of the local rules and group members (once per image). */
int compile_selectors(struct compile_ctx *ctx);

/*
 * compile_remote.c: the remote classes of one profile from its selectors (distinct ids),
 * and its remote trie entries.
 */
int compile_profile_classes(struct compile_ctx *ctx, uint32_t profile, const uint32_t *sels,
			    size_t n_sels);

/*
 * compile_entries.c: the policy entries of one remote class for one direction, given the
 * rules that apply (sorted by rank). any_ids: the direction's any-remote rules (sorted by rank)
 * an entry's verdict must outrank, wherever they could match inside the entry, to be
 * IOF_F_FINAL; NULL for IOF_CLASS_ANY itself, whose entries are all final.
 */
int compile_class_entries(struct compile_ctx *ctx, enum policy_direction dir, uint32_t cls,
			  const uint32_t *rule_ids, size_t n, const uint32_t *any_ids,
			  size_t n_any, bool audit);

/*
 * compile_entries.c: the endpoint default entry for one direction; final when the direction
 * has no any-remote rule (the second lookup could only find this default again).
 */
int compile_default_entry(struct compile_ctx *ctx, enum policy_direction dir,
			  enum policy_action action, bool audit, bool final);

/*
 * compile_ports.c: the listed any-remote ports of the profile in the template (added to
 * image.any_ports) and the iof_any_ports_bit()s of the groups listed.
 */
int compile_any_ports(struct compile_ctx *ctx, uint32_t profile, uint16_t *ret_bits);

/* compile_reuse.c: what identifies a profile from one revision to the next (never 0). */
uint64_t compile_profile_identity(const struct policy_document *doc, const size_t *groups,
				  size_t n_groups, int ingress, int egress, int mode);

/*
 * compile_reuse.c: numbers for n profiles by identity: the number each had in ctx->prev, else
 * the lowest one free. ret_prev[i]: its index in prev->profiles, or -1. Sets the image's
 * profile_bound. 0 or -ENOMEM.
 */
int compile_number_profiles(struct compile_ctx *ctx, const uint64_t *identity, size_t n,
			    uint32_t *ret_numbers, long *ret_prev);

/*
 * compile_reuse.c: whether prev's records can serve this compile (sets ctx->reuse_parts):
 * prev kept its entries, was compiled for the same node from a document with the same groups
 * (shared, unchanged) and the same local rules. Then ctx->group_changed says which groups'
 * members differ. Call after the rules are collected. 0 or -ENOMEM.
 */
int compile_reuse_check(struct compile_ctx *ctx, const char *node);

/*
 * compile_reuse.c: the profile of these groups may take old's records: none of the remote
 * groups its rules name changed members, and the listed ports' capacity decides alike.
 */
bool compile_profile_reusable(const struct compile_ctx *ctx, const size_t *groups,
			      size_t n_groups, const struct image_profile *old);

/* compile_reuse.c: appends old's records (from ctx->prev) to the image; fills *ret. */
int compile_copy_profile(struct compile_ctx *ctx, const struct image_profile *old,
			 struct image_profile *ret);

/* compile_reuse.c: the number of records of part k (IMAGE_PART_*, layout tables) so far. */
size_t compile_part_count(const struct policy_image *img, int k);

#endif /* IOFENCE_POLICY_COMPILE_INTERNAL_H */
