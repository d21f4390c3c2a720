// SPDX-License-Identifier: Apache-2.0
/*
 * The reconciler's checks of the maps a verdict depends on besides the policy tries and the
 * endpoint entries (verify.c): iof_state (which slot is active, and its revision),
 * iof_any_group (the verdicts of a listed group's other ports), the XDP prefilter's
 * deny-lists of the active slot (tries and host maps), iof_config and iof_failsafe. Each is
 * compared with what this process wrote and written again where it differs; one update is
 * one atomic write, and the host deny-lists are replaced whole by a new map.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "dp_internal.h"
#include "policy/prefix.h"

static int check_state(struct datapath *dp, dp_report_fn report, void *ctx)
{
	struct iof_state st;
	__u32 key = 0;
	char msg[160];

	if (!dp->slot_known || bpf_map_lookup_elem(dp->fds.state, &key, &st))
		return 0;
	if ((st.active_slot & (IOF_SLOTS - 1)) == dp->slot && st.revision[dp->slot] == dp->revision)
		return 0;
	snprintf(msg, sizeof(msg),
		 "iof_state: slot %u (revision %llu) active where slot %u (revision %llu) was: "
		 "activated again",
		 st.active_slot, (unsigned long long)st.revision[st.active_slot & 1], dp->slot,
		 (unsigned long long)dp->revision);
	dp_slot_activate(dp->fds.state, (uint8_t)dp->slot, dp->revision);
	dp_retire_flipped(&dp->retire); /* packets were reading the other slot */
	report(ctx, "state", msg);
	return 1;
}

static int check_any_groups(struct datapath *dp, dp_report_fn report, void *ctx)
{
	int n = 0;

	for (size_t i = 0; i < dp->n_any_groups && dp->fds.any_group >= 0; i++) {
		const struct layout_any_group *g = &dp->any_groups[i];
		__u32 key = iof_any_group_index((uint8_t)dp->slot, 0, 0) + g->index;
		struct iof_policy_val got;
		char msg[160];

		if (!bpf_map_lookup_elem(dp->fds.any_group, &key, &got) &&
		    !memcmp(&got, &g->val, sizeof(got)))
			continue;
		bpf_map_update_elem(dp->fds.any_group, &key, &g->val, BPF_ANY);
		snprintf(msg, sizeof(msg),
			 "iof_any_group: entry %u of slot %u changed (rule %u, action %u expected): "
			 "written again",
			 key, dp->slot, g->val.rule_id, g->val.action);
		report(ctx, "any_group", msg);
		n++;
	}
	return n;
}

/* The key a non-host prefilter entry has in its trie (dp_prefilter_entry's). */
static struct iof_prefilter6_key trie_key(const struct dp_prefilter *pf, uint8_t slot)
{
	struct iof_prefilter6_key k = {.prefixlen = IOF_PREFILTER_PREFIX_BASE + pf->prefix.len,
				       .slot = slot,
				       .ifindex = pf->ifindex};

	memcpy(k.addr, pf->prefix.addr, pf->prefix.family == 4 ? 4 : 16);
	return k;
}

static bool trie_key_expected(const struct datapath *dp, const void *key, size_t key_size,
			      int family)
{
	for (size_t i = 0; i < dp->n_pfs; i++) {
		const struct dp_prefilter *pf = &dp->pfs[i];
		struct iof_prefilter6_key k = trie_key(pf, (uint8_t)dp->slot);

		if (pf->ifindex && pf->prefix.family == family && !prefix_is_host(&pf->prefix) &&
		    !memcmp(&k, key, key_size))
			return true;
	}
	return false;
}

/* One family's trie: every expected entry present with its deny, no other in the slot. */
static bool trie_differs(const struct datapath *dp, int family, char *what, size_t len)
{
	int fd = family == 4 ? dp->fds.prefilter4 : dp->fds.prefilter6;
	size_t key_size = family == 4 ? sizeof(struct iof_prefilter4_key)
				      : sizeof(struct iof_prefilter6_key);
	struct iof_prefilter6_key k, next; /* the larger key holds either */
	void *prev = NULL;
	__u8 val;

	if (fd < 0)
		return false;
	for (size_t i = 0; i < dp->n_pfs; i++) {
		const struct dp_prefilter *pf = &dp->pfs[i];

		if (!pf->ifindex || pf->prefix.family != family || prefix_is_host(&pf->prefix))
			continue;
		k = trie_key(pf, (uint8_t)dp->slot);
		if (bpf_map_lookup_elem(fd, &k, &val) || val != 1) {
			snprintf(what, len, "iof_prefilter%d: an entry missing or changed", family);
			return true;
		}
	}
	while (!bpf_map_get_next_key(fd, prev, &next)) {
		k = next;
		prev = &k;
		if (k.slot == dp->slot && !trie_key_expected(dp, &k, key_size, family)) {
			snprintf(what, len, "iof_prefilter%d: an entry added", family);
			return true;
		}
	}
	return false;
}

static int key_cmp(const void *a, const void *b)
{
	return memcmp(a, b, sizeof(struct iof_prefilter6_host_key));
}

/*
 * The active slot's host deny-list of one family: every expected key present and as many
 * keys as distinct expected ones (so no other). 1 when it differs, 0 when not, -ENOMEM.
 */
static int hosts_differ(const struct datapath *dp, int family, char *what, size_t len)
{
	int outer = family == 4 ? dp->fds.prefilter4_host : dp->fds.prefilter6_host;
	size_t addr_len = family == 4 ? 4 : 16, n = 0, distinct = 0, found = 0, missing = 0;
	struct iof_prefilter6_host_key *keys, k, next;
	__u32 idx = dp->slot, id;
	void *prev = NULL;
	int fd = -1;
	__u8 val;

	if (outer < 0)
		return 0;
	keys = calloc(dp->n_pfs + 1, sizeof(*keys));
	if (!keys)
		return -ENOMEM;
	for (size_t i = 0; i < dp->n_pfs; i++) {
		const struct dp_prefilter *pf = &dp->pfs[i];

		if (!pf->ifindex || pf->prefix.family != family || !prefix_is_host(&pf->prefix))
			continue;
		keys[n].ifindex = pf->ifindex; /* zeroed tail: v4 keys compare on 8 bytes */
		memcpy(keys[n++].addr, pf->prefix.addr, addr_len);
	}
	qsort(keys, n, sizeof(*keys), key_cmp);
	for (size_t i = 0; i < n; i++)
		distinct += !i || key_cmp(&keys[i - 1], &keys[i]);
	if (!bpf_map_lookup_elem(outer, &idx, &id))
		fd = bpf_map_get_fd_by_id(id);
	for (size_t i = 0; fd >= 0 && i < n; i++) {
		memset(&k, 0, sizeof(k));
		memcpy(&k, &keys[i], sizeof(k.ifindex) + addr_len);
		missing += bpf_map_lookup_elem(fd, &k, &val) != 0;
	}
	while (fd >= 0 && !bpf_map_get_next_key(fd, prev, &next)) {
		k = next;
		prev = &k;
		found++;
	}
	if (fd >= 0)
		close(fd);
	free(keys);
	if (!missing && found == distinct)
		return 0;
	snprintf(what, len, "iof_prefilter%d_host: %zu entries where %zu were written, %zu missing",
		 family, found, distinct, missing ? missing : (fd < 0 ? distinct : 0));
	return 1;
}

static const struct policy_prefix *uplink_item(const void *list, size_t i, uint32_t *ifindex)
{
	const struct dp_prefilter *pf = (const struct dp_prefilter *)list + i;

	*ifindex = pf->ifindex;
	return &pf->prefix;
}

/* The active slot's deny-lists: the tries fixed entry by entry, the host maps replaced. */
static int check_prefilter(struct datapath *dp, dp_report_fn report, void *ctx)
{
	char what[160] = "", msg[256];
	bool differs = false;

	for (int family = 4; family <= 6 && !differs; family += 2)
		differs = trie_differs(dp, family, what, sizeof(what)) ||
			  hosts_differ(dp, family, what, sizeof(what)) == 1;
	if (!differs)
		return 0;
	for (int family = 4; family <= 6; family += 2) { /* entries added behind our back */
		int fd = family == 4 ? dp->fds.prefilter4 : dp->fds.prefilter6;
		size_t key_size = family == 4 ? sizeof(struct iof_prefilter4_key)
					      : sizeof(struct iof_prefilter6_key);
		struct iof_prefilter6_key k, next;
		void *prev = NULL;

		while (fd >= 0 && !bpf_map_get_next_key(fd, prev, &next)) {
			k = next;
			if (k.slot == dp->slot && !trie_key_expected(dp, &k, key_size, family)) {
				bpf_map_delete_elem(fd, &k);
				continue; /* the walk goes on from the same predecessor */
			}
			prev = &k;
		}
	}
	for (size_t i = 0; i < dp->n_pfs; i++)
		if (dp->pfs[i].ifindex)
			dp_prefilter_entry(&dp->fds, &dp->pfs[i].prefix, (uint8_t)dp->slot,
					   dp->pfs[i].ifindex, false);
	int r = dp_prefilter_hosts_write(&dp->fds, (uint8_t)dp->slot, dp->pfs, dp->n_pfs,
					 uplink_item);

	snprintf(msg, sizeof(msg), "prefilter of slot %u: %s: %s", dp->slot, what,
		 r ? strerror(-r) : "written again");
	report(ctx, "prefilter", msg);
	return !r;
}

static int check_settings(struct datapath *dp, dp_report_fn report, void *ctx)
{
	struct iof_config cfg;
	struct iof_failsafe fs;
	__u32 key = 0;
	char msg[160];
	int n = 0;

	if (!dp->settings_written)
		return 0;
	if (bpf_map_lookup_elem(dp->fds.config, &key, &cfg) ||
	    memcmp(&cfg, &dp->config_written, sizeof(cfg))) {
		bpf_map_update_elem(dp->fds.config, &key, &dp->config_written, BPF_ANY);
		report(ctx, "config", "iof_config: timeouts or flags changed: written again");
		n++;
	}
	for (key = 0; key < IOF_FAILSAFE_MAX; key++) {
		if (!bpf_map_lookup_elem(dp->fds.failsafe, &key, &fs) &&
		    !memcmp(&fs, &dp->failsafe_written[key], sizeof(fs)))
			continue;
		bpf_map_update_elem(dp->fds.failsafe, &key, &dp->failsafe_written[key], BPF_ANY);
		snprintf(msg, sizeof(msg), "iof_failsafe: entry %u changed: written again", key);
		report(ctx, "failsafe", msg);
		n++;
	}
	return n;
}

int dp_check_slot_maps(struct datapath *dp, dp_report_fn report, void *ctx)
{
	int n;

	pthread_mutex_lock(&dp->lock); /* the link watcher writes the active slot's prefilter */
	n = check_state(dp, report, ctx) + check_any_groups(dp, report, ctx) +
	    check_prefilter(dp, report, ctx) + check_settings(dp, report, ctx);
	pthread_mutex_unlock(&dp->lock);
	return n;
}
