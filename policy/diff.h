/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The object-level difference between two policy documents: which defaults, security groups,
 * rules, endpoints and prefilters were added, changed or removed. `iofencectl diff`, the
 * idempotent apply and `apply --dry-run` print it; the revision number is not part of it.
 */
#ifndef IOFENCE_POLICY_DIFF_H
#define IOFENCE_POLICY_DIFF_H

#include <stdbool.h>
#include <stdio.h>

#include "model.h"
#include "write.h"

enum policy_change_kind {
	POLICY_CHANGE_ADDED = 0,
	POLICY_CHANGE_CHANGED = 1,
	POLICY_CHANGE_REMOVED = 2,
};

enum policy_object_kind {
	POLICY_OBJECT_DEFAULTS = 0,
	POLICY_OBJECT_GROUP = 1,
	POLICY_OBJECT_RULE = 2,
	POLICY_OBJECT_ENDPOINT = 3,
	POLICY_OBJECT_PREFILTER = 4,
};

struct policy_change {
	enum policy_change_kind kind;
	enum policy_object_kind object;
	/*
	 * Which object: "defaults", a group or endpoint name, a prefilter's node, or a rule as
	 * "group/name" when it is named and "group[index]" (index in the document that has it:
	 * the new one, or the old one for a removed rule) when it is not.
	 */
	char *name;
	char *detail; /* one line: what it is (added, removed) or what changed ("a -> b") */
};

struct policy_diff {
	struct policy_change *changes; /* defaults, groups and their rules, endpoints, prefilters */
	size_t n;
	size_t cap;
};

/**
 * policy_diff() - what changes when @new_doc replaces @old_doc.
 * @old_doc: the document in place; NULL for none (everything in @new_doc is added)
 * @ret: filled with the changes (free with policy_diff_free()); empty when both say the same
 *
 * Groups, endpoints and named rules are matched by name, prefilters by node, unnamed rules of a
 * group by content (an unmatched old and new rule at the same rank make one "changed" rule). A
 * group whose rules are the same but in another order is "changed" (rule order decides which
 * of two equal rules is reported and labels unnamed rules).
 *
 * Return: 0 or -ENOMEM.
 */
int policy_diff(const struct policy_document *old_doc, const struct policy_document *new_doc,
		struct policy_diff *ret);

/* Frees the changes; the struct may be reused. Accepts an empty diff. */
void policy_diff_free(struct policy_diff *diff);

const char *policy_change_kind_name(enum policy_change_kind kind);     /* added|changed|removed */
const char *policy_object_kind_name(enum policy_object_kind object);   /* defaults|group|rule... */

/**
 * policy_diff_write() - print a diff: YAML means a table for people ("+ rule web[2]  ..."),
 * one line per change, or "no changes"; JSON means {"equal": bool, "changes": [{"change",
 * "object", "name", "detail"}]}, a stable format for scripts.
 *
 * Return: 0 or -EIO.
 */
int policy_diff_write(const struct policy_diff *diff, enum policy_format fmt, FILE *out);

/* One-line description of a rule: "allow ingress tcp/80,443 from group lb priority 100". */
void policy_rule_describe(const struct policy_rule *rule, char *buf, size_t len);

#endif /* IOFENCE_POLICY_DIFF_H */
