// SPDX-License-Identifier: Apache-2.0
/*
 * Checking the datapath against what this process wrote, for the agent's reconciler: links
 * still attached (a `bpftool link detach` leaves a defunct link behind) and pinned, the pins of
 * maps and programs, the active slot's endpoint entries (repaired in place: one entry is one
 * atomic write) and its policy tries (compared with what the delta writer remembers; a
 * difference is the caller's to repair by writing the revision again, whole). A difference in
 * the inactive slot makes the next apply write whole: a delta never builds on a damaged slot.
 */
#include <errno.h>
#include <stdatomic.h>
#include <limits.h>
#include <net/if.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "dp_internal.h"

static bool pin_is(const char *path, int fd)
{
	struct bpf_link_info a, b; /* the first fields (type, id) are those of every object */
	__u32 la = sizeof(a), lb = sizeof(b);
	int pfd = bpf_obj_get(path);
	bool same;

	if (pfd < 0)
		return false;
	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	same = !bpf_obj_get_info_by_fd(pfd, &a, &la) && !bpf_obj_get_info_by_fd(fd, &b, &lb) &&
	       a.id == b.id;
	close(pfd);
	return same;
}

/* Pins fd at path again if the pin is gone or names another object. 1 if it did. */
static int repin(const char *path, int fd)
{
	char dir[PATH_MAX], *slash;

	if (fd < 0 || pin_is(path, fd))
		return 0;
	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (slash) {
		*slash = 0;
		dp_mkdir_p(dir, 0700);
	}
	unlink(path);
	return bpf_obj_pin(fd, path) ? -errno : 1;
}

static int check_pins(struct datapath *dp, dp_report_fn report, void *ctx)
{
	char path[PATH_MAX], msg[PATH_MAX + 64];
	struct bpf_map *m;
	int n = 0, r;

	bpf_object__for_each_map(m, dp->obj)
	{
		if (bpf_map__is_internal(m))
			continue;
		snprintf(path, sizeof(path), "%s/maps/%s", dp->pin_dir, bpf_map__name(m));
		r = repin(path, bpf_map__fd(m));
		if (r) {
			snprintf(msg, sizeof(msg), "map pin %s %s", path,
				 r > 0 ? "was missing: pinned again" : strerror(-r));
			report(ctx, "pin", msg);
			n += r > 0;
		}
	}
	for (int i = 0; i < DP_PROG_MAX; i++) {
		snprintf(path, sizeof(path), "%s/progs/%s", dp->pin_dir, dp_prog_names[i]);
		r = repin(path, dp->prog_fd[i]);
		if (r) {
			snprintf(msg, sizeof(msg), "program pin %s %s", path,
				 r > 0 ? "was missing: pinned again" : strerror(-r));
			report(ctx, "pin", msg);
			n += r > 0;
		}
	}
	for (size_t i = 0; i < dp->n_atts; i++) {
		struct dp_attachment *att = &dp->atts[i];
		size_t hooks;

		dp_hooks_of(att->kind, &hooks);
		for (size_t h = 0; h < hooks && !att->tc_legacy; h++) {
			if (att->link_fd[h] < 0 || !dp_link_alive(att->link_fd[h]))
				continue; /* dp_check_links() attaches it again */
			dp_hook_path(dp, att, h, path, sizeof(path));
			r = repin(path, att->link_fd[h]);
			if (r) {
				snprintf(msg, sizeof(msg), "link pin %s %s", path,
					 r > 0 ? "was missing: pinned again" : strerror(-r));
				report(ctx, "pin", msg);
				n += r > 0;
			}
		}
	}
	return n;
}

static const char *cgroup_path_of(const struct datapath *dp, uint32_t cg_id)
{
	for (size_t i = 0; i < dp->n_eps; i++)
		if (dp->eps[i].cg_id == cg_id && dp->eps[i].cgroup)
			return dp->eps[i].cgroup;
	return NULL;
}

static int check_links(struct datapath *dp, dp_report_fn report, void *ctx)
{
	char msg[512], err[256];
	size_t restarts = 0;
	int n = 0;

	for (size_t i = 0; i < dp->n_atts; i++) {
		struct dp_attachment *att = &dp->atts[i];
		enum dp_att_kind kind = att->kind;
		const char *dead = "", *path = NULL;
		char name[IF_NAMESIZE + 16], now[IF_NAMESIZE];
		uint32_t ifindex = att->ifindex, cg_id = att->cg_id;
		uint64_t cgroup_id = att->cgroup_id;
		int r;

		if (dp_att_alive(att, &dead))
			continue;
		snprintf(name, sizeof(name), "%s", att->name);
		if (kind == DP_ATT_CG && !(path = cgroup_path_of(dp, cg_id)))
			continue;
		if (kind != DP_ATT_CG && (!if_indextoname(ifindex, now) || strcmp(now, name)))
			continue; /* the interface went: the link watcher handles it */
		/* attach_ifindex/dp_attach_cgroup replace a dead attachment (it moves in atts) */
		if (kind == DP_ATT_TC)
			r = dp_attach_tc(dp, name, ifindex, err, sizeof(err));
		else if (kind == DP_ATT_XDP)
			r = dp_attach_xdp(dp, name, ifindex, err, sizeof(err));
		else
			r = dp_attach_cgroup(dp, path, cgroup_id, cg_id, err, sizeof(err));
		snprintf(msg, sizeof(msg), "%s link %s/%s was detached: %s%s", dp_kind_dir[kind],
			 name, dead, r ? "attach failed: " : "attached again", r ? err : "");
		report(ctx, "link", msg);
		n += !r;
		/* the table changed: start over (a repaired one is alive); bounded, so that a
		 * repair that did not take cannot spin under the lock */
		if (++restarts > dp->n_atts)
			break;
		i = (size_t)-1;
	}
	return n;
}

/* The active slot's iof_endpoints entries: each endpoint's, with its value, and no other. */
static int check_endpoint_entries(struct datapath *dp, dp_report_fn report, void *ctx)
{
	uint8_t slot = (uint8_t)dp_active_slot(dp);
	struct iof_endpoint_key k, next, *prev = NULL;
	char msg[256];
	int n = 0;

	for (size_t i = 0; i < dp->n_eps; i++) {
		const struct dp_endpoint *ep = &dp->eps[i];
		struct iof_endpoint_val want = dp_endpoint_val(ep), got;
		uint32_t ids[2] = {ep->ifindex, ep->cg_id ? IOF_EP_CGROUP_BIT | ep->cg_id : 0};

		for (int j = 0; j < 2; j++) {
			struct iof_endpoint_key key = {.attach_id = ids[j], .slot = slot};

			if (!ids[j])
				continue;
			if (!bpf_map_lookup_elem(dp->fds.endpoints, &key, &got) &&
			    !memcmp(&got, &want, sizeof(got)))
				continue;
			bpf_map_update_elem(dp->fds.endpoints, &key, &want, BPF_ANY);
			snprintf(msg, sizeof(msg),
				 "endpoint %s: entry (attach id %#x) missing or changed in slot %u: "
				 "written again",
				 ep->name, ids[j], slot);
			report(ctx, "endpoint_entry", msg);
			n++;
		}
	}
	while (!bpf_map_get_next_key(dp->fds.endpoints, prev, &next)) {
		bool known = false;

		k = next;
		prev = &k;
		if (k.slot != slot)
			continue;
		for (size_t i = 0; i < dp->n_eps && !known; i++)
			known = k.attach_id == dp->eps[i].ifindex ||
				(dp->eps[i].cg_id && k.attach_id == (IOF_EP_CGROUP_BIT | dp->eps[i].cg_id));
		if (known)
			continue;
		bpf_map_delete_elem(dp->fds.endpoints, &k);
		snprintf(msg, sizeof(msg), "iof_endpoints: entry of unknown attach id %#x in slot %u: "
			 "deleted", k.attach_id, slot);
		report(ctx, "endpoint_entry", msg);
		n++;
	}
	return n;
}

static void set_verified(struct datapath *dp, bool verified)
{
	pthread_mutex_lock(&dp->lock); /* dp_endpoint_enforced() reads it on other threads */
	dp->slot_verified = verified;
	pthread_mutex_unlock(&dp->lock);
}

/* What one verification found in each slot: 0 as written, 1 differs, -errno. */
struct slot_findings {
	int active, inactive;
	char active_what[256], inactive_what[256];
};

/*
 * Reads both slots against d. dp (NULL: applies wait, nothing can change) gives the counts
 * at which each reading stops early: an apply's flip for the active slot, its start for the
 * inactive one.
 */
static void verify_against(const struct dp_delta *d, struct datapath *dp,
			   const struct dp_map_fds *fds, uint8_t active, uint64_t activations,
			   uint64_t writes, struct slot_findings *f)
{
	f->active = dp_delta_verify_slot(d, fds, active, true, dp ? &dp->activations : NULL,
					 activations, f->active_what, sizeof(f->active_what));
	/*
	 * A damaged active slot is written whole again, and the next apply then writes whole;
	 * a flip came after an apply's start: the inactive slot's reading would prove nothing.
	 */
	if (f->active == 1 || f->active == -EAGAIN)
		f->inactive = f->active == 1 ? 0 : -EAGAIN;
	else
		f->inactive = dp_delta_verify_slot(d, fds, active ^ 1, false,
						   dp ? &dp->writes : NULL, writes, f->inactive_what,
						   sizeof(f->inactive_what));
}

/* Under write_lock: what the findings mean for the delta writer and for GetStatus. */
static int conclude(struct datapath *dp, uint8_t active, const struct slot_findings *f,
		    dp_report_fn report, void *ctx)
{
	char msg[320];

	if (f->active == 1) {
		set_verified(dp, false);
		dp->delta.cur_valid = false; /* what cur says is not what the slot holds */
		dp->delta.back_valid = false;
		snprintf(msg, sizeof(msg), "active slot %u: %s", active, f->active_what);
		report(ctx, "policy_entry", msg);
		return 1;
	}
	if (f->active == 0)
		set_verified(dp, true);
	if (f->inactive == 1) {
		dp->delta.back_valid = false;
		snprintf(msg, sizeof(msg), "inactive slot %u: %s (the next apply writes it whole)",
			 active ^ 1, f->inactive_what);
		report(ctx, "inactive_slot", msg);
	}
	return 0;
}

int dp_verify_slots(struct datapath *dp, bool hold, dp_report_fn report, void *ctx)
{
	struct slot_findings f = {0};
	struct dp_delta seen;
	uint64_t writes, activations;
	uint8_t active;
	int r;

	pthread_mutex_lock(&dp->write_lock);
	active = (uint8_t)(dp->slot_known ? dp->slot : dp_active_slot(dp));
	if (hold) { /* applies wait: as when the check ran on the apply thread */
		verify_against(&dp->delta, NULL, &dp->fds, active, 0, 0, &f);
		r = conclude(dp, active, &f, report, ctx);
		pthread_mutex_unlock(&dp->write_lock);
		return r;
	}
	writes = dp->writes;
	activations = dp->activations;
	r = dp_delta_copy_slots(&dp->delta, &seen);
	pthread_mutex_unlock(&dp->write_lock);
	if (!r)
		verify_against(&seen, dp, &dp->fds, active, activations, writes, &f);
	dp_delta_free(&seen);
	if (r)
		return r;
	pthread_mutex_lock(&dp->write_lock);
	/*
	 * An apply writes only the inactive slot and then flips: the active slot's finding holds
	 * while no slot was activated, the inactive one's while no apply started.
	 */
	if (dp->activations != activations)
		f.active = -EAGAIN;
	if (dp->writes != writes)
		f.inactive = -EAGAIN;
	r = conclude(dp, active, &f, report, ctx);
	if (!r && (f.active == -EAGAIN || f.inactive == -EAGAIN))
		r = -EAGAIN;
	pthread_mutex_unlock(&dp->write_lock);
	return r;
}

bool dp_slot_trusted(const struct datapath *dp)
{
	return dp->slot_verified;
}

static bool endpoint_enforced(struct datapath *dp, const char *name, uint32_t *ret_ifindex,
			      char *reason, size_t len)
{
	uint8_t slot = (uint8_t)dp_active_slot(dp);

	*ret_ifindex = 0;

	for (size_t i = 0; i < dp->n_eps; i++) {
		const struct dp_endpoint *ep = &dp->eps[i];
		struct iof_endpoint_val want = dp_endpoint_val(ep), got;
		struct iof_endpoint_key key = {.attach_id = ep->ifindex, .slot = slot};
		struct dp_attachment *att;
		const char *dead;

		if (strcmp(ep->name, name))
			continue;
		*ret_ifindex = ep->ifindex;
		if (ep->interface) {
			if (!ep->ifindex) {
				snprintf(reason, len, "interface %s absent", ep->interface);
				return false;
			}
			att = dp_att_find(dp, DP_ATT_TC, ep->interface);
			if (!att || att->ifindex != ep->ifindex || !dp_att_alive(att, &dead)) {
				snprintf(reason, len, "hooks on %s not attached", ep->interface);
				return false;
			}
		}
		if (ep->cgroup) {
			if (!ep->cg_id) {
				snprintf(reason, len, "cgroup %s absent", ep->cgroup);
				return false;
			}
			att = NULL;
			for (size_t j = 0; j < dp->n_atts && !att; j++)
				if (dp->atts[j].kind == DP_ATT_CG && dp->atts[j].cg_id == ep->cg_id)
					att = &dp->atts[j];
			if (!att || !dp_att_alive(att, &dead)) {
				snprintf(reason, len, "cgroup hooks not attached");
				return false;
			}
		}
		if (!ep->ifindex)
			key.attach_id = IOF_EP_CGROUP_BIT | ep->cg_id;
		if (bpf_map_lookup_elem(dp->fds.endpoints, &key, &got) ||
		    memcmp(&got, &want, sizeof(got))) {
			snprintf(reason, len, "endpoint entry missing in the active slot");
			return false;
		}
		if (!dp->slot_verified) {
			snprintf(reason, len, "policy entries of the active slot differ");
			return false;
		}
		reason[0] = 0;
		return true;
	}
	snprintf(reason, len, "not in the enforced revision");
	return false;
}

int dp_check_pins(struct datapath *dp, dp_report_fn report, void *ctx)
{
	int n;

	pthread_mutex_lock(&dp->lock);
	n = check_pins(dp, report, ctx);
	pthread_mutex_unlock(&dp->lock);
	return n;
}

int dp_check_links(struct datapath *dp, dp_report_fn report, void *ctx)
{
	int n;

	pthread_mutex_lock(&dp->lock);
	n = check_links(dp, report, ctx);
	pthread_mutex_unlock(&dp->lock);
	return n;
}

int dp_check_endpoint_entries(struct datapath *dp, dp_report_fn report, void *ctx)
{
	int n;

	pthread_mutex_lock(&dp->lock);
	n = check_endpoint_entries(dp, report, ctx);
	pthread_mutex_unlock(&dp->lock);
	return n;
}

bool dp_endpoint_enforced(struct datapath *dp, const char *name, uint32_t *ret_ifindex,
			  char *reason, size_t len)
{
	bool enforced;

	pthread_mutex_lock(&dp->lock);
	enforced = endpoint_enforced(dp, name, ret_ifindex, reason, len);
	pthread_mutex_unlock(&dp->lock);
	return enforced;
}
