// SPDX-License-Identifier: Apache-2.0
/*
 * Enforcing an image: resolve attach ids (ifindexes of the interfaces that exist, stable ids
 * for cgroups), write the inactive slot, flip it active, then attach hooks to new endpoints
 * and detach the ones gone. Also the netlink path: an interface appearing or vanishing
 * between two applies.
 */
#include <errno.h>
#include <net/if.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <bpf/bpf.h>

#include "dp_internal.h"

/* Images up to this many trie entries have the inactive slot verified before a delta write. */
#define DP_VERIFY_BEFORE_DELTA_MAX 4096

static char *dup_or_null(const char *s, bool *oom)
{
	char *d;

	if (!s)
		return NULL;
	d = strdup(s);
	if (!d)
		*oom = true;
	return d;
}

static void free_copy(struct dp_endpoint *eps, size_t n_eps, struct dp_prefilter *pfs, size_t n_pfs)
{
	for (size_t i = 0; eps && i < n_eps; i++) {
		free(eps[i].name);
		free(eps[i].interface);
		free(eps[i].cgroup);
	}
	free(eps);
	for (size_t i = 0; pfs && i < n_pfs; i++)
		free(pfs[i].interface);
	free(pfs);
}

/* A cgroup keeps the id of its adopted or earlier attachment; a new one gets the lowest id
 * in use by nobody. */
static uint32_t cgroup_endpoint_id(struct datapath *dp, uint64_t cgroup_id,
				   const struct dp_endpoint *eps, size_t n, const uint64_t *cgids)
{
	struct dp_attachment *att = dp_att_find_cgroup(dp, cgroup_id);
	uint32_t id;

	if (att)
		return att->cg_id;
	for (size_t i = 0; i < n; i++)
		if (eps[i].cg_id && cgids[i] == cgroup_id)
			return eps[i].cg_id;
	for (id = 1;; id++) {
		bool used = false;

		for (size_t i = 0; i < dp->n_atts && !used; i++)
			used = dp->atts[i].kind == DP_ATT_CG && dp->atts[i].cg_id == id;
		for (size_t i = 0; i < n && !used; i++)
			used = eps[i].cg_id == id;
		if (!used)
			return id;
	}
}

static int resolve(struct datapath *dp, const struct policy_image *img, struct dp_endpoint *eps,
		   uint64_t *cgids, struct dp_prefilter *pfs, char *err, size_t len)
{
	bool oom = false;
	int r;

	for (size_t i = 0; i < img->n_endpoints; i++) {
		const struct image_endpoint *ie = &img->endpoints[i];
		struct dp_endpoint *ep = &eps[i];

		/* refused here, before anything is written: the kernel would refuse the hooks
		 * only after the flip */
		r = ie->cgroup ? dp_cgroup_check(ie->cgroup) : 0;
		if (r)
			return dp_err(err, len, r, "endpoint %s: cgroup: %s: %s", ie->name,
				      ie->cgroup,
				      r == -EMEDIUMTYPE ? "not a cgroup v2 folder" : strerror(-r));
		ep->name = dup_or_null(ie->name, &oom);
		ep->interface = dup_or_null(ie->interface, &oom);
		ep->cgroup = dup_or_null(ie->cgroup, &oom);
		ep->profile = ie->profile;
		ep->any_ports = ie->any_ports;
		ep->index = (uint16_t)i;
		ep->ifindex = ie->interface ? if_nametoindex(ie->interface) : 0;
		if (ie->cgroup && dp_cgroup_kernel_id(ie->cgroup, &cgids[i]) == 0)
			ep->cg_id = cgroup_endpoint_id(dp, cgids[i], eps, i, cgids);
	}
	for (size_t i = 0; i < img->n_prefilter; i++) {
		pfs[i].interface = dup_or_null(img->prefilter[i].interface, &oom);
		pfs[i].prefix = img->prefilter[i].prefix;
		pfs[i].ifindex = pfs[i].interface ? if_nametoindex(pfs[i].interface) : 0;
	}
	return oom ? dp_err(err, len, -ENOMEM, "out of memory") : 0;
}

/*
 * The slot's endpoints by interface name (iof_ep_ifnames), for early_enforce.c. Best effort:
 * a starting agent without them attaches once the policy is restored.
 */
static void write_ifnames(struct datapath *dp, const struct dp_endpoint *eps, size_t n,
			  uint8_t slot)
{
	struct iof_ifname_key k, cur, next, *old;
	void *prev = NULL;
	size_t n_old = 0;

	if (dp->fds.ep_ifnames < 0)
		return;
	old = calloc(IOF_SLOTS * IOF_MAX_ENDPOINTS, sizeof(*old));
	if (!old)
		return;
	while (n_old < IOF_SLOTS * IOF_MAX_ENDPOINTS &&
	       !bpf_map_get_next_key(dp->fds.ep_ifnames, prev, &next)) {
		if (next.slot == slot)
			old[n_old++] = next;
		cur = next;
		prev = &cur;
	}
	for (size_t i = 0; i < n_old; i++)
		bpf_map_delete_elem(dp->fds.ep_ifnames, &old[i]);
	free(old);
	for (size_t i = 0; i < n; i++) {
		struct iof_endpoint_val v = dp_endpoint_val(&eps[i]);

		if (!eps[i].interface)
			continue;
		memset(&k, 0, sizeof(k));
		snprintf(k.name, sizeof(k.name), "%s", eps[i].interface);
		k.slot = slot;
		bpf_map_update_elem(dp->fds.ep_ifnames, &k, &v, BPF_ANY);
	}
}

/*
 * Writes img into the inactive slot, once no program reads it any more (slot_retire.h). The
 * tries get a delta write when the slot's content is known (image_delta.h), else the slot is
 * cleared and written whole; endpoints and the prefilter are always rewritten (small).
 * Counters are zeroed as far as the slot's previous image could have touched them.
 */
static int write_slot(struct datapath *dp, const struct policy_image *img, uint32_t slot,
		      const struct dp_endpoint *eps, const struct dp_prefilter *pfs, char *err,
		      size_t len)
{
	uint32_t *ids = calloc(img->n_endpoints + 1, sizeof(*ids));
	uint32_t *pf_ifindex = calloc(img->n_prefilter + 1, sizeof(*pf_ifindex));
	struct dp_delta *d = &dp->delta;
	unsigned whole = DP_SLOT_TRIES | DP_SLOT_OTHER;
	size_t written = 0;
	int r;

	if (!ids || !pf_ifindex) {
		r = dp_err(err, len, -ENOMEM, "out of memory");
		goto out;
	}
	dp_retire_wait(&dp->retire);
	for (size_t i = 0; i < img->n_endpoints; i++)
		ids[i] = eps[i].ifindex ?: (eps[i].cg_id ? IOF_EP_CGROUP_BIT | eps[i].cg_id : 0);
	for (size_t i = 0; i < img->n_prefilter; i++)
		pf_ifindex[i] = pfs[i].ifindex;
	/*
	 * Counters first: what the slot counted for identities that move goes to their bases
	 * (the others count on in place). The first write of a slot after a start zeroes its
	 * counters whole (anything may be there), so every count is carried then; a failure
	 * zeroes them whole too: it costs counts (dp_counter_errors() says so), never
	 * enforcement.
	 */
	bool unknown = d->rules_used[slot] == IOF_MAX_RULES;

	if (dp_ledger_retire(&dp->ledger, (uint8_t)slot, img, unknown) == 0 && !unknown)
		d->rules_used[slot] = d->eps_used[slot] = 0; /* nothing left to zero */
	r = dp_slot_clear_some(&dp->fds, (uint8_t)slot,
			       DP_SLOT_ENDPOINTS |
				   /* host maps: kept by the write below when they hold its list */
				   (d->prefilter_used[slot] ? DP_SLOT_PREFILTER_TRIES : 0),
			       d->rules_used[slot], d->eps_used[slot]);
	if (!r) {
		d->rules_used[slot] = (uint32_t)img->n_rules;
		d->eps_used[slot] = (uint32_t)img->n_endpoints;
		d->prefilter_used[slot] = img->n_prefilter > 0;
		/*
		 * A delta builds on what the slot holds: check it first when that is cheap (the
		 * guard checks larger images every few seconds). A slot changed behind our back
		 * is written whole.
		 */
		if (d->back_valid && img->n_policy + img->n_remote4 + img->n_remote6 <=
					 DP_VERIFY_BEFORE_DELTA_MAX) {
			char what[256];

			if (dp_delta_verify_slot(d, &dp->fds, (uint8_t)slot, false, NULL, 0, what,
						 sizeof(what)))
				d->back_valid = false;
		}
		r = dp_delta_write_tries(d, &dp->fds, img, (uint8_t)slot, &written);
		if (!r)
			whole = DP_SLOT_OTHER;
		else if (r == -E2BIG) /* unknown content or a large difference: write it whole */
			r = dp_slot_clear_some(&dp->fds, (uint8_t)slot, DP_SLOT_TRIES, 0, 0);
	}
	if (r) {
		dp_err(err, len, r, "clear slot %u: %s", slot, strerror(-r));
		goto fail;
	}
	r = dp_image_write_some(&dp->fds, img, (uint8_t)slot, whole, ids, pf_ifindex, err, len);
	/* an endpoint with both an interface and a cgroup has a second entry */
	for (size_t i = 0; !r && i < img->n_endpoints; i++) {
		struct iof_endpoint_key k = {.attach_id = IOF_EP_CGROUP_BIT | eps[i].cg_id,
					     .slot = (__u8)slot};
		struct iof_endpoint_val v = dp_endpoint_val(&eps[i]);

		if (!eps[i].ifindex || !eps[i].cg_id)
			continue;
		if (bpf_map_update_elem(dp->fds.endpoints, &k, &v, BPF_NOEXIST))
			r = dp_err(err, len, -errno, "iof_endpoints: %s", strerror(errno));
	}
	if (!r)
		write_ifnames(dp, eps, img->n_endpoints, (uint8_t)slot);
	if (!r)
		goto out;
fail:
	/* leave no half image behind: the slot is empty, its content known no more */
	dp_slot_clear(&dp->fds, (uint8_t)slot);
	d->back_valid = false;
	d->rules_used[slot] = 0;
	d->eps_used[slot] = 0;
	d->prefilter_used[slot] = false;
out:
	free(ids);
	free(pf_ifindex);
	return r;
}

/* Hooks for every endpoint and uplink that exists; detach what the image no longer names. */
static int reconcile(struct datapath *dp, const struct dp_endpoint *eps, size_t n_eps,
		     const uint64_t *cgids, const struct dp_prefilter *pfs, size_t n_pfs, char *err,
		     size_t len)
{
	int first = 0, r;
	char msg[256];

	for (size_t i = 0; i < dp->n_atts; i++)
		dp->atts[i].keep = false;
	for (size_t i = 0; i < n_eps; i++) {
		if (eps[i].ifindex) {
			r = dp_attach_tc(dp, eps[i].interface, eps[i].ifindex, msg, sizeof(msg));
			if (r && r != -ENODEV && !first)
				first = dp_err(err, len, r, "endpoint %s: %s", eps[i].name, msg);
		}
		if (eps[i].cg_id) {
			r = dp_attach_cgroup(dp, eps[i].cgroup, cgids[i], eps[i].cg_id, msg,
					     sizeof(msg));
			if (r && r != -ENOENT && !first)
				first = dp_err(err, len, r, "endpoint %s: %s", eps[i].name, msg);
		}
	}
	for (size_t i = 0; i < n_pfs; i++) {
		struct dp_attachment *att = dp_att_find(dp, DP_ATT_XDP, pfs[i].interface);

		if (!pfs[i].ifindex || (att && att->keep))
			continue; /* absent, or already handled for an earlier entry */
		r = dp_attach_xdp(dp, pfs[i].interface, pfs[i].ifindex, msg, sizeof(msg));
		if (r && r != -ENODEV && !first)
			first = dp_err(err, len, r, "prefilter %s: %s", pfs[i].interface, msg);
	}
	for (size_t i = dp->n_atts; i-- > 0;) {
		if (dp->atts[i].keep)
			continue;
		dp_detach(dp, &dp->atts[i]);
		dp_att_remove(dp, i);
	}
	return first;
}

static const struct policy_prefix *uplink_item(const void *list, size_t i, uint32_t *ifindex)
{
	const struct dp_prefilter *pf = (const struct dp_prefilter *)list + i;

	*ifindex = pf->ifindex;
	return &pf->prefix;
}

/*
 * Under dp->lock, before slot is activated: interfaces that came or went while it was written
 * were handled by the link watcher against the active slot only; the new slot's endpoint and
 * prefilter entries follow them here, so no interface is left out of the revision that
 * becomes active (or kept in it after it went).
 */
static int follow_links(struct datapath *dp, struct dp_endpoint *eps, size_t n_eps,
			struct dp_prefilter *pfs, size_t n_pfs, uint32_t slot, char *err,
			size_t len)
{
	bool uplinks = false;
	int r;

	for (size_t i = 0; i < n_eps; i++) {
		struct dp_endpoint *ep = &eps[i];
		uint32_t now = ep->interface ? if_nametoindex(ep->interface) : 0;
		struct iof_endpoint_key k = {.slot = (__u8)slot};
		struct iof_endpoint_val v = dp_endpoint_val(ep);

		if (now == ep->ifindex)
			continue;
		k.attach_id = ep->ifindex;
		if (ep->ifindex)
			bpf_map_delete_elem(dp->fds.endpoints, &k);
		k.attach_id = now;
		if (now && bpf_map_update_elem(dp->fds.endpoints, &k, &v, BPF_ANY))
			return dp_err(err, len, -errno, "iof_endpoints: %s: %s", ep->name,
				      strerror(errno));
		ep->ifindex = now;
	}
	for (size_t i = 0; i < n_pfs; i++) {
		struct dp_prefilter *pf = &pfs[i];
		uint32_t now = pf->interface ? if_nametoindex(pf->interface) : 0;

		if (now == pf->ifindex)
			continue;
		if (pf->ifindex)
			dp_prefilter_entry(&dp->fds, &pf->prefix, (uint8_t)slot, pf->ifindex, true);
		r = now ? dp_prefilter_entry(&dp->fds, &pf->prefix, (uint8_t)slot, now, false) : 0;
		if (r)
			return dp_err(err, len, r, "prefilter %s: %s", pf->interface, strerror(-r));
		pf->ifindex = now;
		uplinks = true;
	}
	r = uplinks ? dp_prefilter_hosts_write(&dp->fds, (uint8_t)slot, pfs, n_pfs, uplink_item)
		    : 0;
	return r ? dp_err(err, len, r, "prefilter hosts: %s", strerror(-r)) : 0;
}

/* Under dp->lock: activates the written slot and attaches; eps and pfs become dp's copy. */
static int activate(struct datapath *dp, const struct policy_image *img, uint32_t slot,
		    struct dp_endpoint **eps, const uint64_t *cgids, struct dp_prefilter **pfs,
		    uint64_t link_events, char *err, size_t err_len)
{
	int r = 0;

	if (dp->link_events != link_events)
		r = follow_links(dp, *eps, img->n_endpoints, *pfs, img->n_prefilter, slot, err,
				 err_len);
	if (!r && (r = dp_slot_activate(dp->fds.state, slot, img->revision)))
		dp_err(err, err_len, r, "activate slot %u: %s", slot, strerror(-r));
	if (r) {
		dp->delta.back_valid = false; /* the slot holds img, not what back says */
		return r;
	}
	dp->activations++;
	dp_retire_flipped(&dp->retire); /* the slot left behind is written once it is retired */
	dp_delta_activated(&dp->delta, img); /* on ENOMEM: whole writes from now on */
	dp->revision = img->revision;
	dp->slot = slot;
	dp->slot_known = true;
	dp->fill = (struct dp_fill){.remote4 = policy_image_remotes(img, 4),
				    .remote6 = policy_image_remotes(img, 6),
				    .policy = img->n_policy + img->n_any_ports};
	for (size_t i = 0; i < img->n_endpoints; i++)
		dp->fill.endpoints += !!(*eps)[i].ifindex + !!(*eps)[i].cg_id;
	for (size_t i = 0; i < img->n_prefilter; i++)
		dp->fill.prefilter += !!(*pfs)[i].ifindex;
	dp->fill_valid = true;
	dp->slot_verified = true; /* just written */
	dp_fill_publish(dp);
	r = reconcile(dp, *eps, img->n_endpoints, cgids, *pfs, img->n_prefilter, err, err_len);
	/* the image is enforced even if a hook failed: keep it for dp_link_changed() */
	dp_image_copy_free(dp);
	dp->eps = *eps;
	dp->n_eps = img->n_endpoints;
	dp->pfs = *pfs;
	dp->n_pfs = img->n_prefilter;
	*eps = NULL;
	*pfs = NULL;
	/* what the guard compares the active slot's iof_any_group with (none on ENOMEM) */
	dp->any_groups = malloc((img->n_any_groups + 1) * sizeof(*dp->any_groups));
	if (dp->any_groups && img->n_any_groups) {
		memcpy(dp->any_groups, img->any_groups, img->n_any_groups * sizeof(*dp->any_groups));
		dp->n_any_groups = img->n_any_groups;
	}
	return r;
}

/* Under dp->write_lock. */
static int apply_locked(struct datapath *dp, const struct policy_image *img, char *err,
			size_t err_len)
{
	if (img->entries_released) {
		snprintf(err, err_len, "image of revision %llu has no entries left to write",
			 (unsigned long long)img->revision);
		return -ENODATA;
	}
	struct dp_endpoint *eps = calloc(img->n_endpoints + 1, sizeof(*eps));
	struct dp_prefilter *pfs = calloc(img->n_prefilter + 1, sizeof(*pfs));
	uint64_t *cgids = calloc(img->n_endpoints + 1, sizeof(*cgids));
	uint64_t link_events;
	char msg[256];
	uint32_t slot;
	int r;

	if (!eps || !pfs || !cgids) {
		r = dp_err(err, err_len, -ENOMEM, "out of memory");
		goto out;
	}
	r = policy_image_check_capacity(img, msg, sizeof(msg));
	if (r) {
		dp_err(err, err_len, r, "%s", msg);
		goto out;
	}
	pthread_mutex_lock(&dp->lock);
	r = resolve(dp, img, eps, cgids, pfs, err, err_len);
	link_events = dp->link_events;
	pthread_mutex_unlock(&dp->lock);
	if (r)
		goto out;
	/*
	 * The slot this process activated, not iof_state's: the guard puts a tampered iof_state
	 * back, and an apply must never take the live slot for the inactive one meanwhile.
	 */
	slot = (dp->slot_known ? dp->slot : dp_active_slot(dp)) ^ 1;
	dp->writes++; /* a verification reading this slot concludes nothing now */
	r = write_slot(dp, img, slot, eps, pfs, err, err_len);
	if (r)
		goto out;
	pthread_mutex_lock(&dp->lock);
	r = activate(dp, img, slot, &eps, cgids, &pfs, link_events, err, err_len);
	pthread_mutex_unlock(&dp->lock);
out:
	free_copy(eps, img->n_endpoints, pfs, img->n_prefilter);
	free(cgids);
	return r;
}

int dp_apply(struct datapath *dp, const struct policy_image *img, char *err, size_t err_len)
{
	int r;

	pthread_mutex_lock(&dp->write_lock);
	r = apply_locked(dp, img, err, err_len);
	pthread_mutex_unlock(&dp->write_lock);
	return r;
}

int dp_apply_again(struct datapath *dp, const struct policy_image *img, char *err,
		   size_t err_len)
{
	int r = -ESTALE;

	pthread_mutex_lock(&dp->write_lock);
	if (dp->revision == img->revision) {
		dp->delta.cur_valid = false; /* trust nothing remembered of the slots */
		dp->delta.back_valid = false;
		r = apply_locked(dp, img, err, err_len);
	} else {
		snprintf(err, err_len, "revision %llu is active now, not %llu",
			 (unsigned long long)dp->revision, (unsigned long long)img->revision);
	}
	pthread_mutex_unlock(&dp->write_lock);
	return r;
}

/* The active slot's host deny-lists again, after an uplink came or went. */
static int rewrite_hosts(struct datapath *dp, uint32_t slot)
{
	return dp_prefilter_hosts_write(&dp->fds, (uint8_t)slot, dp->pfs, dp->n_pfs, uplink_item);
}

static uint64_t now_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000ull + (uint64_t)ts.tv_nsec / 1000;
}

/* 2 if it attached hooks, 1 if the image names the interface but they were in place, or -errno. */
static int link_up(struct datapath *dp, const char *ifname, uint32_t ifindex, uint64_t *hooks_usec)
{
	uint32_t slot = dp_active_slot(dp);
	struct dp_attachment *att = dp_att_find(dp, DP_ATT_TC, ifname);
	struct dp_attachment *xatt = dp_att_find(dp, DP_ATT_XDP, ifname);
	bool tc = false, xdp = false, hosts = false, fresh = !att || att->ifindex != ifindex;
	bool xdp_fresh = !xatt || xatt->ifindex != ifindex;
	char msg[256];
	int r;

	/*
	 * Entries and hooks are written only for an interface new to its endpoint or uplink.
	 * Any RTM_NEWLINK of a known one (flags, master, a bridge port's state ~15 s after it
	 * joined) leaves them alone: they were written with it, and a tampered entry or a
	 * detached link is the guard's to repair and report.
	 */
	for (size_t i = 0; i < dp->n_eps; i++) {
		struct dp_endpoint *ep = &dp->eps[i];
		struct iof_endpoint_key k = {.slot = (__u8)slot};
		struct iof_endpoint_val v = dp_endpoint_val(ep);

		if (!ep->interface || strcmp(ep->interface, ifname))
			continue;
		tc = true;
		if (ep->ifindex == ifindex)
			continue;
		if (ep->ifindex) {
			k.attach_id = ep->ifindex;
			bpf_map_delete_elem(dp->fds.endpoints, &k);
		}
		k.attach_id = ifindex;
		if (bpf_map_update_elem(dp->fds.endpoints, &k, &v, BPF_ANY))
			return -errno;
		if (!ep->ifindex)
			dp->fill.endpoints++;
		ep->ifindex = ifindex;
	}
	for (size_t i = 0; i < dp->n_pfs; i++) {
		struct dp_prefilter *pf = &dp->pfs[i];

		if (!pf->interface || strcmp(pf->interface, ifname))
			continue;
		xdp = true;
		if (pf->ifindex == ifindex)
			continue;
		if (pf->ifindex)
			dp_prefilter_entry(&dp->fds, &pf->prefix, (uint8_t)slot, pf->ifindex, true);
		r = dp_prefilter_entry(&dp->fds, &pf->prefix, (uint8_t)slot, ifindex, false);
		if (r)
			return r;
		if (!pf->ifindex)
			dp->fill.prefilter++;
		pf->ifindex = ifindex;
		hosts = true;
	}
	if (hosts && (r = rewrite_hosts(dp, slot)))
		return r;
	/* entries first, hooks second: no packet meets a hook without its endpoint */
	uint64_t t0 = now_usec();

	if (tc && fresh && (r = dp_attach_tc(dp, ifname, ifindex, msg, sizeof(msg))))
		return r;
	if (xdp && xdp_fresh && (r = dp_attach_xdp(dp, ifname, ifindex, msg, sizeof(msg))))
		return r;
	*hooks_usec = now_usec() - t0;
	return tc || xdp ? 1 + (tc && fresh) : 0;
}

/* 1 if the image named the interface. */
static int link_down(struct datapath *dp, const char *ifname, uint32_t ifindex)
{
	uint32_t slot = dp_active_slot(dp);
	struct dp_attachment *att;
	bool gone = false, named = false;

	for (size_t i = 0; i < dp->n_eps; i++) {
		struct dp_endpoint *ep = &dp->eps[i];
		struct iof_endpoint_key k = {.attach_id = ep->ifindex, .slot = (__u8)slot};

		if (!ep->interface || strcmp(ep->interface, ifname) || !ep->ifindex ||
		    (ifindex && ep->ifindex != ifindex))
			continue;
		named = true;
		bpf_map_delete_elem(dp->fds.endpoints, &k);
		ep->ifindex = 0;
		dp->fill.endpoints--;
	}
	for (size_t i = 0; i < dp->n_pfs; i++) {
		struct dp_prefilter *pf = &dp->pfs[i];

		if (!pf->interface || strcmp(pf->interface, ifname) || !pf->ifindex ||
		    (ifindex && pf->ifindex != ifindex))
			continue;
		dp_prefilter_entry(&dp->fds, &pf->prefix, (uint8_t)slot, pf->ifindex, true);
		pf->ifindex = 0;
		dp->fill.prefilter--;
		gone = true;
	}
	if (gone)
		rewrite_hosts(dp, slot);
	for (int kind = DP_ATT_TC; kind <= DP_ATT_XDP; kind++) {
		att = dp_att_find(dp, (enum dp_att_kind)kind, ifname);
		if (att && (!ifindex || att->ifindex == ifindex)) {
			dp_detach(dp, att);
			dp_att_remove(dp, (size_t)(att - dp->atts));
			named = true;
		}
	}
	return named || gone;
}

int dp_link_changed(struct datapath *dp, const char *ifname, int ifindex, bool up,
		    struct dp_link_timing *ret_timing)
{
	struct dp_link_timing t = {0};
	uint64_t t0 = now_usec();
	int r;

	if (!ifname)
		return -EINVAL;
	if (up && ifindex <= 0)
		ifindex = (int)if_nametoindex(ifname);
	if (up && ifindex <= 0)
		return -ENODEV;
	pthread_mutex_lock(&dp->lock);
	t.lock_wait_usec = now_usec() - t0;
	dp->link_events++; /* an apply writing the other slot follows it (follow_links) */
	if (up)
		r = link_up(dp, ifname, (uint32_t)ifindex, &t.hooks_usec);
	else
		r = link_down(dp, ifname, ifindex > 0 ? (uint32_t)ifindex : 0);
	dp_fill_publish(dp);
	pthread_mutex_unlock(&dp->lock);
	if (ret_timing)
		*ret_timing = t;
	return r;
}

static int cgroup_appeared(struct datapath *dp, const char *path)
{
	uint32_t slot = dp_active_slot(dp), cg_id = 0;
	uint64_t cgroup_id;
	char msg[256];
	int r = dp_cgroup_kernel_id(path, &cgroup_id);

	if (r)
		return r;
	for (size_t i = 0; i < dp->n_eps; i++) {
		struct dp_endpoint *ep = &dp->eps[i];
		struct iof_endpoint_key k = {.slot = (__u8)slot};
		struct iof_endpoint_val v = dp_endpoint_val(ep);
		struct dp_attachment *att;

		if (!ep->cgroup || strcmp(ep->cgroup, path))
			continue;
		if (!cg_id) {
			att = dp_att_find_cgroup(dp, cgroup_id);
			cg_id = att ? att->cg_id : ep->cg_id;
			for (uint32_t id = 1; !cg_id; id++) { /* lowest id nobody uses */
				bool used = false;

				for (size_t j = 0; j < dp->n_atts && !used; j++)
					used = dp->atts[j].kind == DP_ATT_CG &&
					       dp->atts[j].cg_id == id;
				for (size_t j = 0; j < dp->n_eps && !used; j++)
					used = dp->eps[j].cg_id == id;
				if (!used)
					cg_id = id;
			}
		}
		if (ep->cg_id && ep->cg_id != cg_id) {
			k.attach_id = IOF_EP_CGROUP_BIT | ep->cg_id;
			bpf_map_delete_elem(dp->fds.endpoints, &k);
		}
		k.attach_id = IOF_EP_CGROUP_BIT | cg_id;
		if (bpf_map_update_elem(dp->fds.endpoints, &k, &v, BPF_ANY))
			return -errno;
		if (!ep->cg_id)
			dp->fill.endpoints++;
		ep->cg_id = cg_id;
	}
	/* entries first, hooks second (a hook without its id in iof_cg_ids fails closed) */
	return cg_id ? dp_attach_cgroup(dp, path, cgroup_id, cg_id, msg, sizeof(msg)) : 0;
}

static void cgroup_gone(struct datapath *dp, const char *path)
{
	uint32_t slot = dp_active_slot(dp), cg_id = 0;

	for (size_t i = 0; i < dp->n_eps; i++) {
		struct dp_endpoint *ep = &dp->eps[i];
		struct iof_endpoint_key k = {.slot = (__u8)slot};

		if (!ep->cgroup || strcmp(ep->cgroup, path) || !ep->cg_id)
			continue;
		k.attach_id = IOF_EP_CGROUP_BIT | ep->cg_id;
		bpf_map_delete_elem(dp->fds.endpoints, &k);
		cg_id = ep->cg_id;
		ep->cg_id = 0;
		dp->fill.endpoints--;
	}
	for (size_t i = 0; cg_id && i < dp->n_atts; i++) {
		if (dp->atts[i].kind == DP_ATT_CG && dp->atts[i].cg_id == cg_id) {
			dp_detach(dp, &dp->atts[i]);
			dp_att_remove(dp, i);
			break;
		}
	}
}

int dp_cgroup_changed(struct datapath *dp, const char *path, bool exists)
{
	int r = 0;

	if (!path)
		return -EINVAL;
	pthread_mutex_lock(&dp->lock);
	if (!exists)
		cgroup_gone(dp, path);
	else
		r = cgroup_appeared(dp, path);
	dp_fill_publish(dp);
	pthread_mutex_unlock(&dp->lock);
	return r;
}
