// SPDX-License-Identifier: Apache-2.0
/*
 * Enforcement at agent start, before the BPF object is loaded and the policy recompiled (both
 * take seconds with a large object or policy): the interfaces of the active slot's endpoints
 * (iof_ep_ifnames) that have no live pinned link, because they appeared while no agent ran,
 * get their iof_endpoints entry in the active slot and tcx links to the pinned programs, pinned
 * where dp_open() adopts them. Uses only pins: no verifier run, no compile.
 */
#include <errno.h>
#include <limits.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "dp_internal.h"

/* Kernel 6.6+ attach types (attach.c). */
#define EARLY_TCX_INGRESS 46
#define EARLY_TCX_EGRESS 47

static int pinned(const char *pin_dir, const char *kind, const char *name)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s/%s", pin_dir, kind, name);
	return bpf_obj_get(path);
}

/* True if links/tc/<ifname>/ingress is a live link on ifindex. */
static bool attached(const char *pin_dir, const char *ifname, uint32_t ifindex)
{
	char path[PATH_MAX];
	struct bpf_link_info info;
	__u32 len = sizeof(info);
	int fd;
	bool ok;

	snprintf(path, sizeof(path), "%s/links/tc/%s/ingress", pin_dir, ifname);
	fd = bpf_obj_get(path);
	if (fd < 0)
		return false;
	memset(&info, 0, sizeof(info));
	ok = !bpf_obj_get_info_by_fd(fd, &info, &len) && info.xdp.ifindex == ifindex /* tcx's too */;
	close(fd);
	return ok;
}

static int attach_pinned(const char *pin_dir, const char *ifname, uint32_t ifindex,
			 const int prog[2])
{
	static const char *const hook[2] = {"ingress", "egress"};
	static const int type[2] = {EARLY_TCX_INGRESS, EARLY_TCX_EGRESS};
	char path[PATH_MAX];
	int r = 0;

	snprintf(path, sizeof(path), "%s/links/tc/%s", pin_dir, ifname);
	dp_mkdir_p(path, 0700);
	for (int h = 1; h >= 0 && !r; h--) { /* egress first, as attach.c does */
		int fd = bpf_link_create(prog[h], (int)ifindex, (enum bpf_attach_type)type[h], NULL);

		if (fd < 0)
			return fd;
		snprintf(path, sizeof(path), "%s/links/tc/%s/%s", pin_dir, ifname, hook[h]);
		unlink(path); /* a defunct link of the interface's earlier incarnation */
		if (bpf_obj_pin(fd, path))
			r = -errno;
		close(fd);
	}
	return r;
}

int dp_early_enforce(const char *pin_dir, char *err, size_t len)
{
	int prog[2], state = -1, eps = -1, names = -1, settle = -1, n = 0, r = 0;
	struct iof_ifname_key cur, next;
	struct iof_state st;
	void *prev = NULL;
	__u32 zero = 0;

	if (!pin_dir)
		pin_dir = DP_DEFAULT_PIN_DIR;
	prog[0] = pinned(pin_dir, "progs", "iof_tc_from_ep");
	prog[1] = pinned(pin_dir, "progs", "iof_tc_to_ep");
	state = pinned(pin_dir, "maps", "iof_state");
	eps = pinned(pin_dir, "maps", "iof_endpoints");
	names = pinned(pin_dir, "maps", "iof_ep_ifnames");
	settle = pinned(pin_dir, "maps", "iof_ep_settle");
	if (prog[0] < 0 || prog[1] < 0 || state < 0 || eps < 0 || names < 0 ||
	    bpf_map_lookup_elem(state, &zero, &st))
		goto out; /* a first start, or pins of an older build: dp_open() does it all */
	while (!bpf_map_get_next_key(names, prev, &next)) {
		struct iof_endpoint_key k = {.slot = (__u8)(st.active_slot & (IOF_SLOTS - 1))};
		struct iof_endpoint_val v;
		uint32_t ifindex;

		cur = next;
		prev = &cur;
		if (cur.slot != k.slot || bpf_map_lookup_elem(names, &cur, &v))
			continue;
		ifindex = if_nametoindex(cur.name);
		if (!ifindex || attached(pin_dir, cur.name, ifindex))
			continue;
		k.attach_id = ifindex;
		/* entry first, hooks second: no packet meets a hook without its endpoint */
		if (bpf_map_update_elem(eps, &k, &v, BPF_ANY)) {
			r = dp_err(err, len, -errno, "iof_endpoints: %s", strerror(errno));
			break;
		}
		if (settle >= 0 && dp_interface_up(cur.name)) {
			/* no workload traffic was judged before: its flows start provisional */
			struct timespec ts;
			__u64 until;

			clock_gettime(CLOCK_MONOTONIC, &ts);
			until = (__u64)ts.tv_sec * 1000000000ull + (__u64)ts.tv_nsec +
				IOF_SETTLE_NS;
			bpf_map_update_elem(settle, &ifindex, &until, BPF_ANY);
		}
		r = attach_pinned(pin_dir, cur.name, ifindex, prog);
		if (r) {
			dp_err(err, len, r, "%s: attach: %s", cur.name, strerror(-r));
			break;
		}
		n++;
	}
out:
	for (int i = 0; i < 2; i++)
		if (prog[i] >= 0)
			close(prog[i]);
	if (state >= 0)
		close(state);
	if (eps >= 0)
		close(eps);
	if (names >= 0)
		close(names);
	if (settle >= 0)
		close(settle);
	return r ? r : n;
}
