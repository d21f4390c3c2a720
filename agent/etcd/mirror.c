// SPDX-License-Identifier: Apache-2.0
/*
 * The follower's mirror (mirror.h). Events of other generations (a controller staging a new
 * one, or deleting the old one) are ignored: only the head says which generation is the
 * policy, and a head that moves makes the caller read the new generation whole.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mirror.h"

int cluster_mirror_init(struct cluster_mirror *m, const char *prefix)
{
	memset(m, 0, sizeof(*m));
	m->prefix = strdup(prefix);
	m->head_key = cluster_key_head(prefix);
	m->gen_dir = cluster_key_gen_dir(prefix, 0);
	return m->prefix && m->head_key && m->gen_dir ? 0 : -ENOMEM;
}

void cluster_mirror_free(struct cluster_mirror *m)
{
	cluster_objs_free(&m->objs);
	cluster_objs_free(&m->changed);
	free(m->prefix);
	free(m->head_key);
	free(m->gen_dir);
	memset(m, 0, sizeof(*m));
}

int cluster_mirror_install(struct cluster_mirror *m, struct cluster_state *st)
{
	char *dir = cluster_key_gen_dir(m->prefix, st->head ? st->head->generation : 0);

	if (!dir)
		return -ENOMEM;
	free(m->gen_dir);
	m->gen_dir = dir;
	cluster_objs_free(&m->objs);
	m->objs = st->objs;
	memset(&st->objs, 0, sizeof(st->objs));
	m->have_head = st->head != NULL;
	m->gen = st->head ? st->head->generation : 0;
	cluster_mirror_forget_changes(m, true);
	if (st->revision > m->seen_rev)
		m->seen_rev = st->revision;
	if (st->policy_revision != m->policy_rev) {
		m->policy_rev = st->policy_revision;
		m->written_ns = st->head ? st->head->written_unix_nano : 0;
	}
	return 0;
}

/* The head event: 1 when the policy changed, -1 when the generation moved, 0 otherwise. */
static int take_head(struct cluster_mirror *m, const Mvccpb__Event *ev, uint64_t *written)
{
	const Mvccpb__KeyValue *kv = ev->kv;
	Iofence__V1__ClusterHead *h;
	int r = 1;

	if (ev->type == MVCCPB__EVENT__EVENT_TYPE__DELETE) {
		/* no policy: an empty document */
		m->have_head = false;
		cluster_objs_free(&m->objs);
		cluster_mirror_forget_changes(m, true);
		*written = 0;
		return 1;
	}
	h = iofence__v1__cluster_head__unpack(NULL, kv->value.len, kv->value.data);
	if (!h) {
		m->bad_rev = kv->mod_revision;
		snprintf(m->bad, sizeof(m->bad), "%s does not decode as a ClusterHead",
			 m->head_key);
		return 0;
	}
	if (!m->have_head || h->generation != m->gen)
		r = -1;
	*written = h->written_unix_nano;
	m->have_head = true;
	iofence__v1__cluster_head__free_unpacked(h, NULL);
	return r;
}

int64_t cluster_mirror_take(struct cluster_mirror *m, const Etcdserverpb__WatchResponse *wr,
			    bool *changed)
{
	size_t glen = strlen(m->gen_dir);
	int64_t rev = 0;
	uint64_t written = 0;
	bool reload = false;

	*changed = false;
	for (size_t i = 0; i < wr->n_events; i++) {
		const Mvccpb__Event *ev = wr->events[i];
		const Mvccpb__KeyValue *kv = ev ? ev->kv : NULL;
		char *key;

		if (!kv || !kv->key.data)
			continue;
		key = strndup((const char *)kv->key.data, kv->key.len);
		if (!key)
			continue;
		if (kv->mod_revision > rev)
			rev = kv->mod_revision;
		if (!strcmp(key, m->head_key)) {
			int h = take_head(m, ev, &written);

			reload |= h < 0;
			*changed |= h != 0;
		} else if (!strncmp(key, m->gen_dir, glen) && key[glen] && !reload) {
			if (ev->type == MVCCPB__EVENT__EVENT_TYPE__DELETE)
				cluster_objs_del(&m->objs, key + glen);
			else if (cluster_objs_put(&m->objs, key + glen, kv->value.data,
						  kv->value.len, kv->mod_revision))
				m->changed_all = true; /* the next apply reads the mirror whole */
			if (!m->changed_all && cluster_objs_put(&m->changed, key + glen, "", 0, 0))
				m->changed_all = true;
			*changed = true;
		}
		free(key);
	}
	if (rev > m->seen_rev)
		m->seen_rev = rev;
	if (reload) {
		*changed = false;
		return rev > 0 ? rev : 1; /* read the new generation as of the last revision */
	}
	if (*changed) {
		m->policy_rev = rev;
		m->written_ns = written;
	}
	return 0;
}

void cluster_mirror_forget_changes(struct cluster_mirror *m, bool all)
{
	cluster_objs_free(&m->changed);
	m->changed_all = all;
}

/* A change derive can take: an endpoint, or a group that is there in one object. */
static bool derivable_change(const struct cluster_mirror *m, const char *key, long at)
{
	size_t len = strlen(key);

	if (!strncmp(key, "endpoints/", 10))
		return true;
	if (strncmp(key, "groups/", 7) || at < 0 || strchr(key, '#'))
		return false;
	/* parts sort right after the group's first key: "groups/NAME#0001" */
	return (size_t)at + 1 >= m->objs.n || strncmp(m->objs.v[at + 1].key, key, len) ||
	       m->objs.v[at + 1].key[len] != '#';
}

int cluster_mirror_changes(struct cluster_mirror *m, uint64_t base, Iofence__V1__PolicyDelta **ret,
			   bool *derivable)
{
	Iofence__V1__PolicyDelta *d;
	size_t n = m->changed.n;
	int r = 0;

	*ret = NULL;
	*derivable = false;
	if (m->changed_all) {
		cluster_mirror_forget_changes(m, false);
		return 0;
	}
	d = calloc(1, sizeof(*d));
	if (d) {
		iofence__v1__policy_delta__init(d);
		d->base_revision = base;
		d->changes = calloc(n ? n : 1, sizeof(*d->changes));
	}
	if (!d || !d->changes)
		r = -ENOMEM;
	*derivable = true;
	for (size_t i = 0; !r && i < n; i++) {
		const char *key = m->changed.v[i].key;
		long at = cluster_objs_find(&m->objs, key);
		Iofence__V1__ClusterObjectChange *c = calloc(1, sizeof(*c));

		if (!c) {
			r = -ENOMEM;
			break;
		}
		iofence__v1__cluster_object_change__init(c);
		d->changes[d->n_changes++] = c;
		c->key = strdup(key);
		c->removed = at < 0;
		if (at >= 0) {
			c->value.len = m->objs.v[at].len;
			c->value.data = malloc(c->value.len ? c->value.len : 1);
			if (c->value.data && c->value.len)
				memcpy(c->value.data, m->objs.v[at].val, c->value.len);
		}
		if (!c->key || (at >= 0 && !c->value.data))
			r = -ENOMEM;
		*derivable &= derivable_change(m, key, at);
	}
	/* the message is freed as protobuf-c would free an unpacked one (free() throughout) */
	if (r) {
		if (d)
			iofence__v1__policy_delta__free_unpacked(d, NULL);
		cluster_mirror_forget_changes(m, true);
		return r;
	}
	cluster_mirror_forget_changes(m, false);
	*ret = d;
	return 0;
}
