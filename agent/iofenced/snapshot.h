/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One applied revision as readers see it (snapshot.c): immutable once published, reference
 * counted, read through these accessors only. The previous revision is kept "slim": its
 * endpoint and rule names only, all its flow events need (a large model is tens of MB).
 */
#ifndef IOFENCE_IOFENCED_SNAPSHOT_H
#define IOFENCE_IOFENCED_SNAPSHOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "policy/image.h"
#include "policy/model.h"

struct snapshot;

/* An empty snapshot (reference count 1) to fill before publishing, or NULL on ENOMEM. */
struct snapshot *snapshot_new(void);
/* Gives s its revision; s owns doc, img (entries released), source and source_name (NULL ok). */
void snapshot_set(struct snapshot *s, uint64_t revision, struct policy_document *doc,
		  struct policy_image *img, char *source, char *source_name, int64_t applied_unix);
/* A copy of s with its names only (see above), or NULL. */
struct snapshot *snapshot_slim(const struct snapshot *s);
struct snapshot *snapshot_ref(struct snapshot *s);
void snapshot_unref(struct snapshot *s);

uint64_t snapshot_revision(const struct snapshot *s);
int64_t snapshot_applied_unix(const struct snapshot *s);
/* NULL in a slim snapshot. */
const struct policy_document *snapshot_doc(const struct snapshot *s);
const struct policy_image *snapshot_image(const struct snapshot *s);
/* The source text when applied as text by this process, else NULL. */
const char *snapshot_source(const struct snapshot *s);
/* Who sent it ("etcd" for the datastore follower), or NULL. */
const char *snapshot_source_name(const struct snapshot *s);

/* Name of the endpoint with this datapath index, or NULL if the revision has none. */
const char *snapshot_endpoint_name(const struct snapshot *s, uint32_t endpoint_index);
/* "group[index]" of the rule with this datapath id into buf; false if the revision has none. */
bool snapshot_rule_name(const struct snapshot *s, uint32_t rule_id, char *buf, size_t len);

#endif /* IOFENCE_IOFENCED_SNAPSHOT_H */
