// SPDX-License-Identifier: Apache-2.0
/*
 * The cluster keyspace: a policy document as one etcd key per object and back. The document
 * is rebuilt by concatenating the objects' bytes as the PolicyDocument fields they are (a
 * repeated message field on the wire is its items one after the other), so one unpack makes
 * the whole message; when it fails, each object is decoded alone to name the bad key.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster.h"

void cluster_objs_free(struct cluster_objs *objs)
{
	for (size_t i = 0; i < objs->n; i++) {
		free(objs->v[i].key);
		free(objs->v[i].val);
	}
	free(objs->v);
	memset(objs, 0, sizeof(*objs));
}

static int grow(struct cluster_objs *objs)
{
	struct cluster_obj *n;
	size_t cap = objs->cap ? objs->cap * 2 : 64;

	if (objs->n < objs->cap)
		return 0;
	n = realloc(objs->v, cap * sizeof(*n));
	if (!n)
		return -ENOMEM;
	objs->v = n;
	objs->cap = cap;
	return 0;
}

static int obj_init(struct cluster_obj *o, const char *key, const void *val, size_t len,
		    int64_t mod_revision)
{
	o->key = strdup(key);
	o->val = malloc(len ? len : 1);
	o->len = len;
	o->mod_revision = mod_revision;
	if (!o->key || !o->val) {
		free(o->key);
		free(o->val);
		return -ENOMEM;
	}
	if (len)
		memcpy(o->val, val, len);
	return 0;
}

int cluster_objs_add(struct cluster_objs *objs, const char *key, const void *val, size_t len,
		     int64_t mod_revision)
{
	if (grow(objs) || obj_init(&objs->v[objs->n], key, val, len, mod_revision))
		return -ENOMEM;
	objs->n++;
	return 0;
}

static int cmp_obj(const void *a, const void *b)
{
	return strcmp(((const struct cluster_obj *)a)->key, ((const struct cluster_obj *)b)->key);
}

void cluster_objs_sort(struct cluster_objs *objs)
{
	if (objs->n)
		qsort(objs->v, objs->n, sizeof(*objs->v), cmp_obj);
}

/* Index of key, or of where it would go (*found false). */
static size_t lower_bound(const struct cluster_objs *objs, const char *key, bool *found)
{
	size_t lo = 0, hi = objs->n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (strcmp(objs->v[mid].key, key) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = lo < objs->n && !strcmp(objs->v[lo].key, key);
	return lo;
}

long cluster_objs_find(const struct cluster_objs *objs, const char *key)
{
	bool found;
	size_t i = lower_bound(objs, key, &found);

	return found ? (long)i : -1;
}

int cluster_objs_put(struct cluster_objs *objs, const char *key, const void *val, size_t len,
		     int64_t mod_revision)
{
	bool found;
	size_t i = lower_bound(objs, key, &found);
	struct cluster_obj o;

	if (obj_init(&o, key, val, len, mod_revision))
		return -ENOMEM;
	if (found) {
		free(objs->v[i].key);
		free(objs->v[i].val);
		objs->v[i] = o;
		return 0;
	}
	if (grow(objs)) {
		free(o.key);
		free(o.val);
		return -ENOMEM;
	}
	memmove(&objs->v[i + 1], &objs->v[i], (objs->n - i) * sizeof(*objs->v));
	objs->v[i] = o;
	objs->n++;
	return 0;
}

void cluster_objs_del(struct cluster_objs *objs, const char *key)
{
	bool found;
	size_t i = lower_bound(objs, key, &found);

	if (!found)
		return;
	free(objs->v[i].key);
	free(objs->v[i].val);
	memmove(&objs->v[i], &objs->v[i + 1], (objs->n - i - 1) * sizeof(*objs->v));
	objs->n--;
}

/* Appends NAME escaped (%XX outside [A-Za-z0-9._:@-]) to buf at *len. */
static void escape(char *buf, size_t cap, size_t *len, const char *name)
{
	static const char hex[] = "0123456789ABCDEF";

	for (const unsigned char *p = (const unsigned char *)(name ? name : ""); *p; p++) {
		bool plain = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
			     (*p >= '0' && *p <= '9') || strchr("._:@-", *p);

		if (*len + 4 >= cap)
			break;
		if (plain) {
			buf[(*len)++] = (char)*p;
		} else {
			buf[(*len)++] = '%';
			buf[(*len)++] = hex[*p >> 4];
			buf[(*len)++] = hex[*p & 15];
		}
	}
	buf[*len] = 0;
}

/* kind/<a>[/<b>][#part] into buf. */
static void make_key(char *buf, size_t cap, const char *kind, const char *a, const char *b,
		     unsigned part)
{
	size_t len = (size_t)snprintf(buf, cap, "%s/", kind);

	escape(buf, cap, &len, a);
	if (b) {
		buf[len++] = '/';
		escape(buf, cap, &len, b);
	}
	if (part)
		snprintf(buf + len, cap - len, "#%04u", part);
}

int cluster_endpoint_key_cmp(const char *node_a, const char *name_a, const char *node_b,
			     const char *name_b)
{
	char a[1024], b[1024];

	make_key(a, sizeof(a), "endpoints", node_a, name_a, 0);
	make_key(b, sizeof(b), "endpoints", node_b, name_b, 0);
	return strcmp(a, b);
}

char *cluster_key_endpoint(const char *node, const char *name)
{
	char buf[1024];

	make_key(buf, sizeof(buf), "endpoints", node, name, 0);
	return strdup(buf);
}

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1; /* escape() writes upper case only */
}

/* name unescaped into a new string, or NULL (ENOMEM, or a bad escape: EINVAL). */
static char *unescape(const char *s, size_t len)
{
	char *out = malloc(len + 1), *o = out;

	if (!out)
		return NULL;
	for (size_t i = 0; i < len; i++) {
		int hi, lo;

		if (s[i] != '%') {
			*o++ = s[i];
			continue;
		}
		hi = i + 2 < len ? hex_value(s[i + 1]) : -1;
		lo = i + 2 < len ? hex_value(s[i + 2]) : -1;
		if (hi < 0 || lo < 0 || (hi | lo) == 0) {
			free(out);
			errno = EINVAL;
			return NULL;
		}
		*o++ = (char)(hi << 4 | lo);
		i += 2;
	}
	*o = 0;
	return out;
}

int cluster_key_endpoint_split(const char *key, char **ret_node, char **ret_name)
{
	const char *node, *slash;

	*ret_node = *ret_name = NULL;
	if (strncmp(key, "endpoints/", 10))
		return -EINVAL;
	node = key + 10;
	slash = strchr(node, '/');
	if (!slash || slash == node || !slash[1] || strchr(slash + 1, '/') || strchr(key, '#'))
		return -EINVAL;
	*ret_node = unescape(node, (size_t)(slash - node));
	*ret_name = *ret_node ? unescape(slash + 1, strlen(slash + 1)) : NULL;
	if (!*ret_name) {
		free(*ret_node);
		*ret_node = NULL;
		return errno == EINVAL ? -EINVAL : -ENOMEM;
	}
	return 0;
}

int cluster_key_group_name(const char *key, char **ret_name)
{
	const char *name = key + 7;

	*ret_name = NULL;
	if (strncmp(key, "groups/", 7) || !*name || strchr(name, '/') || strchr(name, '#'))
		return -EINVAL;
	*ret_name = unescape(name, strlen(name));
	if (!*ret_name)
		return errno == EINVAL ? -EINVAL : -ENOMEM;
	return 0;
}

char *cluster_key_head(const char *prefix)
{
	char *s;

	return asprintf(&s, "%s/head", prefix) < 0 ? NULL : s;
}

char *cluster_key_status_dir(const char *prefix)
{
	char *s;

	return asprintf(&s, "%s/status/", prefix) < 0 ? NULL : s;
}

char *cluster_key_gen_dir(const char *prefix, uint64_t gen)
{
	char *s;

	return asprintf(&s, "%s/gen/%016llx/", prefix, (unsigned long long)gen) < 0 ? NULL : s;
}

static int add_msg(struct cluster_objs *out, const char *key, const ProtobufCMessage *msg)
{
	size_t len = protobuf_c_message_get_packed_size(msg);
	uint8_t *buf = malloc(len ? len : 1);
	int r;

	if (!buf)
		return -ENOMEM;
	protobuf_c_message_pack(msg, buf);
	r = cluster_objs_add(out, key, buf, len, 0);
	free(buf);
	return r;
}

/* A group, in parts of at most CLUSTER_PART_BYTES when it is larger. */
static int add_group(struct cluster_objs *out, const Iofence__V1__SecurityGroup *g)
{
	Iofence__V1__SecurityGroup part = IOFENCE__V1__SECURITY_GROUP__INIT;
	char key[1024];
	size_t i = 0;
	unsigned n = 0;
	int r;

	if (protobuf_c_message_get_packed_size(&g->base) <= CLUSTER_PART_BYTES) {
		make_key(key, sizeof(key), "groups", g->name, NULL, 0);
		return add_msg(out, key, &g->base);
	}
	part.name = g->name;
	do {
		size_t bytes = 0, j = i;

		while (j < g->n_rules && (j == i || bytes < CLUSTER_PART_BYTES))
			bytes += protobuf_c_message_get_packed_size(&g->rules[j++]->base) + 4;
		part.rules = g->rules + i;
		part.n_rules = j - i;
		make_key(key, sizeof(key), "groups", g->name, NULL, n++);
		r = add_msg(out, key, &part.base);
		if (r)
			return r;
		i = j;
	} while (i < g->n_rules);
	return 0;
}

int cluster_objs_from_pb(Iofence__V1__PolicyDocument *doc, struct cluster_objs *out)
{
	char key[1024];
	int r = 0;

	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < doc->n_security_groups; i++)
		for (size_t j = 0; j < doc->security_groups[i]->n_rules; j++)
			doc->security_groups[i]->rules[j]->line = 0;
	if (doc->defaults)
		r = add_msg(out, "defaults", &doc->defaults->base);
	for (size_t i = 0; !r && i < doc->n_security_groups; i++)
		r = add_group(out, doc->security_groups[i]);
	for (size_t i = 0; !r && i < doc->n_endpoints; i++) {
		const Iofence__V1__Endpoint *e = doc->endpoints[i];

		make_key(key, sizeof(key), "endpoints", e->node, e->name, 0);
		r = add_msg(out, key, &e->base);
	}
	for (size_t i = 0; !r && i < doc->n_prefilter; i++) {
		unsigned same = 0;

		for (size_t j = 0; j < i; j++)
			same += !strcmp(doc->prefilter[j]->node, doc->prefilter[i]->node);
		make_key(key, sizeof(key), "prefilter", doc->prefilter[i]->node, NULL, same);
		r = add_msg(out, key, &doc->prefilter[i]->base);
	}
	if (r)
		cluster_objs_free(out);
	else
		cluster_objs_sort(out);
	return r;
}

/* The PolicyDocument field and message type of a key, or 0 for keys of no object. */
static unsigned field_of(const char *key, const ProtobufCMessageDescriptor **desc)
{
	if (!strcmp(key, "defaults")) {
		*desc = &iofence__v1__defaults__descriptor;
		return 3;
	}
	if (!strncmp(key, "groups/", 7)) {
		*desc = &iofence__v1__security_group__descriptor;
		return 4;
	}
	if (!strncmp(key, "endpoints/", 10)) {
		*desc = &iofence__v1__endpoint__descriptor;
		return 5;
	}
	if (!strncmp(key, "prefilter/", 10)) {
		*desc = &iofence__v1__prefilter__descriptor;
		return 6;
	}
	return 0;
}

static size_t put_varint(uint8_t *p, uint64_t v)
{
	size_t n = 0;

	do {
		p[n++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
		v >>= 7;
	} while (v);
	return n;
}

/* Joins the parts of a large group (adjacent, same name) into the first. */
static int join_parts(Iofence__V1__PolicyDocument *doc)
{
	size_t out = 0;

	for (size_t i = 0; i < doc->n_security_groups; i++) {
		Iofence__V1__SecurityGroup *g = doc->security_groups[i], *first;

		if (!out || strcmp(doc->security_groups[out - 1]->name, g->name)) {
			doc->security_groups[out++] = g;
			continue;
		}
		first = doc->security_groups[out - 1];
		if (g->n_rules) {
			Iofence__V1__Rule **n =
			    realloc(first->rules, (first->n_rules + g->n_rules) * sizeof(*n));

			if (!n)
				return -ENOMEM;
			memcpy(n + first->n_rules, g->rules, g->n_rules * sizeof(*n));
			first->rules = n;
			first->n_rules += g->n_rules;
			g->n_rules = 0;
		}
		iofence__v1__security_group__free_unpacked(g, NULL);
	}
	doc->n_security_groups = out;
	return 0;
}

int cluster_pb_from_objs(const struct cluster_objs *objs, Iofence__V1__PolicyDocument **ret,
			 char *err, size_t err_len)
{
	const ProtobufCMessageDescriptor *desc;
	size_t total = 0, len = 0;
	uint8_t *buf;

	*ret = NULL;
	for (size_t i = 0; i < objs->n; i++)
		total += objs->v[i].len + 16;
	buf = malloc(total ? total : 1);
	if (!buf)
		return -ENOMEM;
	for (size_t i = 0; i < objs->n; i++) {
		unsigned field = field_of(objs->v[i].key, &desc);

		if (!field)
			continue;
		len += put_varint(buf + len, (uint64_t)field << 3 | 2);
		len += put_varint(buf + len, objs->v[i].len);
		memcpy(buf + len, objs->v[i].val, objs->v[i].len);
		len += objs->v[i].len;
	}
	*ret = iofence__v1__policy_document__unpack(NULL, len, buf);
	free(buf);
	if (!*ret) {
		snprintf(err, err_len, "the objects do not decode");
		for (size_t i = 0; i < objs->n; i++) {
			ProtobufCMessage *m;

			if (!field_of(objs->v[i].key, &desc))
				continue;
			m = protobuf_c_message_unpack(desc, NULL, objs->v[i].len, objs->v[i].val);
			if (m) {
				protobuf_c_message_free_unpacked(m, NULL);
				continue;
			}
			snprintf(err, err_len, "key %s does not decode as %s", objs->v[i].key,
				 desc->name);
			break;
		}
		return -EBADMSG;
	}
	if (join_parts(*ret)) {
		iofence__v1__policy_document__free_unpacked(*ret, NULL);
		*ret = NULL;
		return -ENOMEM;
	}
	return 0;
}
