// SPDX-License-Identifier: Apache-2.0
/*
 * Delta writes of the per-profile tries (agent/datapath/image_delta.c) against the real maps:
 * a policy is changed a little at a time (an action, a port, a CIDR, a priority, an endpoint's
 * default, a rule or an endpoint hidden and restored, now and then a new document) and each
 * revision is written into the inactive slot the way dp_apply() does it, delta when it can.
 * After every flip both slots are dumped (outer maps, every inner trie, the host caches) and
 * must hold exactly the entries of their images: the active slot the new one, the inactive
 * slot the previous one, which the next delta write starts from.
 *   test_bpf_delta [rounds]    (IOFENCE_SEED reproduces a run)
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "agent/datapath/image_delta.h"
#include "gen.h"
#include "harness.h"

#define SLOT_OFFSET 4
#define KEY_MAX 64

/*
 * Sorted "kind | key | value" records of one slot or one image. Trie entries are keyed by their
 * trie's number in the slot and their inner key ({u32 trie, iof_*_trie_key}), host-table
 * entries by their key with slot byte 0.
 */
struct dump {
	char (*rec)[1 + KEY_MAX + 16];
	size_t n, cap;
};

static void dump_add(struct dump *d, char kind, const void *key, size_t ksz, const void *val,
		     size_t vsz)
{
	if (d->n == d->cap) {
		d->cap = d->cap ? 2 * d->cap : 1024;
		d->rec = realloc(d->rec, d->cap * sizeof(*d->rec));
		if (!d->rec)
			abort();
	}
	memset(d->rec[d->n], 0, sizeof(d->rec[d->n]));
	d->rec[d->n][0] = kind;
	memcpy(d->rec[d->n] + 1, key, ksz);
	memcpy(d->rec[d->n] + 1 + KEY_MAX, val, vsz);
	d->n++;
}

/* A trie entry's record: {t, inner key}. */
static void dump_add_trie(struct dump *d, char kind, uint32_t t, const void *ik, size_t iksz,
			  const void *val, size_t vsz)
{
	char key[KEY_MAX];

	memcpy(key, &t, sizeof(t));
	memcpy(key + sizeof(t), ik, iksz);
	dump_add(d, kind, key, sizeof(t) + iksz, val, vsz);
}

static int rec_cmp(const void *a, const void *b)
{
	return memcmp(a, b, sizeof(((struct dump *)0)->rec[0]));
}

/* Every entry of slot's inner tries of kind k. */
static void dump_outer(struct dump *d, char kind, struct harness *h, enum dp_trie_kind k,
		       uint8_t slot)
{
	struct dp_trie_entries e = dp_trie_entries_of(NULL, &h->fds, k);

	for (__u32 t = 0; t < dp_tries_per_slot(&e); t++) {
		char ik[KEY_MAX], iprev[KEY_MAX], val[16];
		__u32 idx = dp_trie_index(&e, slot, t), id;
		void *q = NULL;
		int fd;

		if (bpf_map_lookup_elem(e.outer_fd, &idx, &id))
			continue;
		fd = bpf_map_get_fd_by_id(id);
		if (fd < 0)
			abort();
		for (; !bpf_map_get_next_key(fd, q, ik); q = iprev) {
			memcpy(iprev, ik, e.inner_key_size);
			if (!bpf_map_lookup_elem(fd, ik, val))
				dump_add_trie(d, kind, t, ik, e.inner_key_size, val, e.val_size);
		}
		close(fd);
	}
}

/* Host cache entries of slot: key {profile, slot, pad, addr}. */
static void dump_hosts(struct dump *d, char kind, int fd, uint8_t slot, size_t ksz, size_t vsz)
{
	char k[KEY_MAX], prev[KEY_MAX], val[16];
	void *p = NULL;

	for (; !bpf_map_get_next_key(fd, p, k); p = prev) {
		memcpy(prev, k, ksz);
		if ((uint8_t)k[4] == slot && !bpf_map_lookup_elem(fd, k, val)) {
			char key[KEY_MAX] = {0};

			memcpy(key, k, ksz);
			key[SLOT_OFFSET] = 0;
			dump_add(d, kind, key, ksz, val, vsz);
		}
	}
}

static void dump_slot(struct harness *h, uint8_t slot, struct dump *d)
{
	d->n = 0;
	dump_outer(d, 'r', h, DP_TRIE_REMOTE4, slot);
	dump_outer(d, 's', h, DP_TRIE_REMOTE6, slot);
	dump_outer(d, 'p', h, DP_TRIE_POLICY, slot);
	dump_hosts(d, 'h', h->fds.remote4_host, slot, sizeof(struct iof_remote4_host_key),
		   sizeof(struct iof_remote_val));
	dump_hosts(d, 'i', h->fds.remote6_host, slot, sizeof(struct iof_remote6_host_key),
		   sizeof(struct iof_remote_val));
	dump_hosts(d, 'a', h->fds.any_ports, slot, sizeof(struct iof_any_port_hkey),
		   sizeof(struct iof_policy_val));
	qsort(d->rec, d->n, sizeof(*d->rec), rec_cmp);
}

/* What the slot should hold for img: each entry in its trie, full-length remotes in the table. */
static void dump_image(struct harness *h, const struct policy_image *img, struct dump *d)
{
	static const char kinds[DP_TRIE_KINDS][2] = {{'r', 'h'}, {'s', 'i'}, {'p', 0}, {0, 'a'}};

	d->n = 0;
	for (int k = 0; k < DP_TRIE_KINDS; k++) {
		struct dp_trie_entries e = dp_trie_entries_of(img, &h->fds, (enum dp_trie_kind)k);

		for (size_t i = 0; i < e.n; i++) {
			const char *ent = e.base + i * e.entry_size;
			uint32_t t = dp_entry_trie(&e, ent);
			char key[KEY_MAX];
			size_t ksz;

			if (t == DP_TRIE_NONE) {
				ksz = dp_host_key(&e, ent, 0, key);
				if (!ksz || !kinds[k][1])
					abort();
				dump_add(d, kinds[k][1], key, ksz, ent + e.val_off, e.val_size);
			} else {
				ksz = dp_inner_key(&e, ent, key);
				dump_add_trie(d, kinds[k][0], t, key, ksz, ent + e.val_off,
					      e.val_size);
			}
		}
	}
	qsort(d->rec, d->n, sizeof(*d->rec), rec_cmp);
}

static bool same(const struct dump *a, const struct dump *b)
{
	return a->n == b->n && !memcmp(a->rec, b->rec, a->n * sizeof(*a->rec));
}

/* Hidden tails: rules and endpoints cut off by a mutation, restored later (and before free). */
struct hidden {
	size_t *n_rules; /* the group's original n_rules */
	size_t n_endpoints;
};

static void mutate(struct gen_rng *r, struct policy_document *doc, struct hidden *hid)
{
	struct policy_group *g =
	    doc->n_groups ? &doc->groups[gen_below(r, (uint32_t)doc->n_groups)] : NULL;
	struct policy_rule *rule =
	    g && g->n_rules ? &g->rules[gen_below(r, (uint32_t)g->n_rules)] : NULL;
	struct policy_endpoint *ep =
	    doc->n_endpoints ? &doc->endpoints[gen_below(r, (uint32_t)doc->n_endpoints)] : NULL;

	switch (gen_below(r, 9)) {
	case 0:
		if (rule)
			rule->action = rule->action == POLICY_ALLOW ? POLICY_DENY : POLICY_ALLOW;
		break;
	case 1:
		if (rule && rule->n_ports) {
			rule->ports[0].lo = (uint16_t)(1 + gen_below(r, 2000));
			rule->ports[0].hi = (uint16_t)(rule->ports[0].lo + gen_below(r, 3));
		}
		break;
	case 2:
		if (rule && rule->remote_kind == POLICY_REMOTE_CIDR)
			rule->cidr.addr[rule->cidr.family == 4 ? 2 : 5] ^= 1; /* inside the mask? */
		break;
	case 3:
		if (rule)
			rule->priority = (uint16_t)gen_below(r, 3000);
		break;
	case 4:
		if (ep)
			ep->ingress = ep->ingress == POLICY_ALLOW ? POLICY_DENY : POLICY_ALLOW;
		break;
	case 5: /* hide the group's last rule */
		if (g && g->n_rules)
			g->n_rules--;
		break;
	case 6: /* restore hidden rules */
		for (size_t i = 0; i < doc->n_groups; i++)
			doc->groups[i].n_rules = hid->n_rules[i];
		break;
	case 7:
		if (doc->n_endpoints > 1)
			doc->n_endpoints--;
		break;
	default:
		doc->n_endpoints = hid->n_endpoints;
		break;
	}
}

static void restore(struct policy_document *doc, const struct hidden *hid)
{
	for (size_t i = 0; i < doc->n_groups; i++)
		doc->groups[i].n_rules = hid->n_rules[i];
	doc->n_endpoints = hid->n_endpoints;
}

/* A prefix whose host bits were set by a mutation would be refused; keep CIDRs masked. */
static void mask_cidrs(struct policy_document *doc)
{
	for (size_t g = 0; g < doc->n_groups; g++)
		for (size_t i = 0; i < doc->groups[g].n_rules; i++) {
			struct policy_prefix *p = &doc->groups[g].rules[i].cidr;

			for (unsigned b = p->len; b < (p->family == 4 ? 32u : 128u); b++)
				p->addr[b / 8] &= (uint8_t) ~(0x80 >> (b % 8));
		}
}

static struct policy_document *new_doc(struct gen_rng *r, struct hidden *hid)
{
	struct policy_document *doc;

	if (gen_below(r, 2)) {
		doc = gen_random_policy(r);
	} else {
		struct gen_realistic_opts o = {.rules = 200 + gen_below(r, 800),
					       .endpoints = 4 + gen_below(r, 12),
					       .groups = 3 + gen_below(r, 10),
					       .group_pct = 50,
					       .any_pct = 5};

		doc = gen_realistic_policy(r, &o);
	}
	if (!doc)
		abort();
	free(hid->n_rules);
	hid->n_rules = calloc(doc->n_groups + 1, sizeof(size_t));
	for (size_t i = 0; i < doc->n_groups; i++)
		hid->n_rules[i] = doc->groups[i].n_rules;
	hid->n_endpoints = doc->n_endpoints;
	return doc;
}

int main(int argc, char **argv)
{
	unsigned rounds = argc > 1 ? (unsigned)atoi(argv[1]) : 300, delta_rounds = 0;
	uint64_t seed = gen_seed_from_env();
	struct gen_rng rng = {.state = seed};
	struct harness h;
	struct hidden hid = {0};
	struct policy_document *doc;
	struct policy_image *prev = NULL;
	struct dp_delta d;
	struct dump got = {0}, want = {0};
	size_t written_total = 0, entries_total = 0;
	int failed = 0;

	printf("bpf_delta: seed %llu (IOFENCE_SEED=%llu reproduces), %u rounds\n",
	       (unsigned long long)seed, (unsigned long long)seed, rounds);
	harness_open(&h);
	dp_delta_init(&d);
	doc = new_doc(&rng, &hid);
	for (unsigned round = 0; round < rounds && !failed; round++) {
		struct policy_image *img = NULL;
		uint8_t slot = h.slot ^ 1;
		size_t written = 0;
		char msg[256];
		int err;

		if (round && gen_below(&rng, 40) == 0) {
			restore(doc, &hid);
			policy_document_free(doc);
			doc = new_doc(&rng, &hid);
		} else if (round) {
			for (unsigned m = 1 + gen_below(&rng, 3); m; m--)
				mutate(&rng, doc, &hid);
			mask_cidrs(doc);
		}
		err = policy_compile(doc, GEN_NODE, &img, msg, sizeof(msg));
		if (!ASSERT_EQ(err, 0, msg)) {
			failed = 1;
			break;
		}
		err = dp_slot_clear_some(&h.fds, slot, DP_SLOT_OTHER, IOF_MAX_RULES,
					 IOF_MAX_ENDPOINTS);
		if (!err)
			err = dp_delta_write_tries(&d, &h.fds, img, slot, &written);
		if (!err)
			delta_rounds++;
		else if (err == -E2BIG &&
			 !(err = dp_slot_clear_some(&h.fds, slot, DP_SLOT_TRIES, 0, 0)))
			err = dp_image_write_some(&h.fds, img, slot, DP_SLOT_TRIES, NULL, NULL, msg,
						  sizeof(msg));
		if (!err)
			err = dp_slot_activate(h.fds.state, slot, ++h.revision);
		if (!ASSERT_EQ(err, 0, "write")) {
			failed = 1;
			policy_image_free(img);
			break;
		}
		h.slot = slot;
		if (!ASSERT_EQ(dp_delta_activated(&d, img), 0, "activated"))
			failed = 1;
		written_total += written;
		entries_total += img->n_remote4 + img->n_remote6 + img->n_policy;
		dump_slot(&h, slot, &got);
		dump_image(&h, img, &want);
		if (!ASSERT_TRUE(same(&got, &want),
				 "round %u: active slot %u holds %zu entries, the image %zu", round,
				 slot, got.n, want.n))
			failed = 1;
		if (prev) {
			dump_slot(&h, slot ^ 1, &got);
			dump_image(&h, prev, &want);
			if (!ASSERT_TRUE(same(&got, &want),
					 "round %u: inactive slot holds %zu entries, the previous "
					 "image %zu",
					 round, got.n, want.n))
				failed = 1;
		}
		policy_image_free(prev);
		prev = img;
	}
	printf("bpf_delta: %u of %u revisions written as deltas (%zu map operations for %zu "
	       "entries)\n",
	       delta_rounds, rounds, written_total, entries_total);
	if (!failed && !ASSERT_TRUE(delta_rounds * 10 > rounds, "too few delta writes"))
		failed = 1;
	policy_image_free(prev);
	restore(doc, &hid);
	policy_document_free(doc);
	free(hid.n_rules);
	free(got.rec);
	free(want.rec);
	dp_delta_free(&d);
	harness_close(&h);
	printf("bpf_delta: %s\n", failed ? "FAIL" : "ok");
	return failed;
}
