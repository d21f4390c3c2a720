// SPDX-License-Identifier: Apache-2.0
/*
 * Applied revisions as readers see them: the document and image of the current one, the
 * names of the previous one (for events its slot still emits), reference counted so a reader
 * keeps what it holds while the engine publishes the next.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "snapshot.h"

/*
 * Names of an earlier revision's endpoints and rules, all its events need: the previous
 * revision keeps only these, not its document and image.
 */
struct snapshot_names {
	char **endpoints; /* by endpoint index */
	size_t n_endpoints;
	char **groups;
	size_t n_groups;
	struct snapshot_rule_name {
		uint32_t group, index; /* groups[group], rule index in the group */
		char *name;	       /* the rule's name: (NULL: none) */
	} * rules;		       /* by rule id */
	size_t n_rules;
};

struct snapshot {
	atomic_int refs;
	uint64_t revision;
	struct policy_document *doc;  /* NULL in the previous revision's slim snapshot */
	struct policy_image *image;   /* NULL there too */
	struct snapshot_names *names; /* the slim snapshot's names, else NULL */
	char *source;		      /* source text when applied as text, or NULL */
	char *source_name;
	int64_t applied_unix;
};

struct snapshot *snapshot_new(void)
{
	struct snapshot *s = calloc(1, sizeof(*s));

	if (s)
		atomic_store(&s->refs, 1);
	return s;
}

void snapshot_set(struct snapshot *s, uint64_t revision, struct policy_document *doc,
		  struct policy_image *img, char *source, char *source_name, int64_t applied_unix)
{
	s->revision = revision;
	s->doc = doc;
	s->image = img;
	s->source = source;
	s->source_name = source_name;
	s->applied_unix = applied_unix;
}

struct snapshot *snapshot_ref(struct snapshot *s)
{
	if (s)
		atomic_fetch_add(&s->refs, 1);
	return s;
}

static void names_free(struct snapshot_names *n)
{
	if (!n)
		return;
	for (size_t i = 0; n->endpoints && i < n->n_endpoints; i++)
		free(n->endpoints[i]);
	for (size_t i = 0; n->groups && i < n->n_groups; i++)
		free(n->groups[i]);
	for (size_t i = 0; n->rules && i < n->n_rules; i++)
		free(n->rules[i].name);
	free(n->endpoints);
	free(n->groups);
	free(n->rules);
	free(n);
}

/* The names of s's endpoints and rules, copied (NULL on ENOMEM: events then show numbers). */
static struct snapshot_names *names_of(const struct snapshot *s)
{
	const struct policy_image *img = s->image;
	struct snapshot_names *n = calloc(1, sizeof(*n));
	bool oom = !n;

	if (oom || !img || !s->doc)
		return n;
	n->endpoints = calloc(img->n_endpoints + 1, sizeof(*n->endpoints));
	n->groups = calloc(s->doc->n_groups + 1, sizeof(*n->groups));
	n->rules = calloc(img->n_rules + 1, sizeof(*n->rules));
	oom = !n->endpoints || !n->groups || !n->rules;
	for (size_t i = 0; !oom && i < img->n_endpoints; i++, n->n_endpoints++)
		oom = !(n->endpoints[i] = strdup(img->endpoints[i].name));
	for (size_t i = 0; !oom && i < s->doc->n_groups; i++, n->n_groups++)
		oom = !(n->groups[i] = strdup(s->doc->groups[i].name));
	for (size_t i = 0; !oom && i < img->n_rules; i++, n->n_rules++) {
		const char *name = s->doc->groups[img->rules[i].group_index]
				       .rules[img->rules[i].rule_index]
				       .name;

		n->rules[i] =
		    (struct snapshot_rule_name){.group = (uint32_t)img->rules[i].group_index,
						.index = (uint32_t)img->rules[i].rule_index,
						.name = name ? strdup(name) : NULL};
		oom = name && !n->rules[i].name;
	}
	if (oom) {
		names_free(n);
		n = NULL;
	}
	return n;
}

struct snapshot *snapshot_slim(const struct snapshot *s)
{
	struct snapshot *slim = s ? calloc(1, sizeof(*slim)) : NULL;

	if (!slim)
		return NULL;
	atomic_store(&slim->refs, 1);
	slim->revision = s->revision;
	slim->applied_unix = s->applied_unix;
	slim->names = names_of(s);
	slim->source_name = s->source_name ? strdup(s->source_name) : NULL;
	return slim;
}

void snapshot_unref(struct snapshot *s)
{
	if (!s || atomic_fetch_sub(&s->refs, 1) != 1)
		return;
	names_free(s->names);
	policy_image_free(s->image);
	policy_document_free(s->doc);
	free(s->source);
	free(s->source_name);
	free(s);
}

uint64_t snapshot_revision(const struct snapshot *s)
{
	return s->revision;
}

int64_t snapshot_applied_unix(const struct snapshot *s)
{
	return s->applied_unix;
}

const struct policy_document *snapshot_doc(const struct snapshot *s)
{
	return s->doc;
}

const struct policy_image *snapshot_image(const struct snapshot *s)
{
	return s->image;
}

const char *snapshot_source(const struct snapshot *s)
{
	return s->source;
}

const char *snapshot_source_name(const struct snapshot *s)
{
	return s->source_name;
}

const char *snapshot_endpoint_name(const struct snapshot *s, uint32_t i)
{
	if (s->image && i < s->image->n_endpoints)
		return s->image->endpoints[i].name;
	if (s->names && i < s->names->n_endpoints)
		return s->names->endpoints[i];
	return NULL;
}

bool snapshot_rule_name(const struct snapshot *s, uint32_t id, char *buf, size_t len)
{
	const struct snapshot_names *n = s->names;

	if (s->image && s->doc && id < s->image->n_rules) {
		policy_rule_label(s->doc, s->image->rules[id].group_index,
				  s->image->rules[id].rule_index, buf, len);
		return true;
	}
	if (n && id < n->n_rules && n->rules[id].group < n->n_groups) {
		if (n->rules[id].name)
			snprintf(buf, len, "%s/%s", n->groups[n->rules[id].group],
				 n->rules[id].name);
		else
			snprintf(buf, len, "%s[%u]", n->groups[n->rules[id].group],
				 n->rules[id].index);
		return true;
	}
	return false;
}
