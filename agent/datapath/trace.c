// SPDX-License-Identifier: Apache-2.0
/*
 * What the live maps say about one flow at one endpoint, for `iofencectl trace`: whether the
 * endpoint has its iof_endpoints entry in the active slot (and which profile and counter
 * index), and the conntrack entries of the flow (any source port) that decide its packets
 * before any rule is consulted. Map reads only: safe from a reader thread.
 */
#include <errno.h>
#include <string.h>
#include <time.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/types.h>

#include <net/if.h>

#include <bpf/bpf.h>

#include "dp_internal.h"

/* Default idle timeouts (bpf/ct.h; iof_config may shorten them). */
static uint64_t ct_timeout_ns(uint8_t proto, uint8_t state)
{
	if (proto == IPPROTO_TCP)
		return state == IOF_CT_NEW	    ? IOF_CT_DEFAULT_TCP_SYN_NS
		       : state == IOF_CT_ESTABLISHED ? IOF_CT_DEFAULT_TCP_NS
						     : IOF_CT_DEFAULT_TCP_CLOSING_NS;
	return proto == IPPROTO_UDP ? IOF_CT_DEFAULT_UDP_NS : IOF_CT_DEFAULT_OTHER_NS;
}

static uint64_t coarse_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* One conntrack entry found: keep the count and the most recently seen one. */
static void ct_found(struct dp_trace_live *ret, const struct iof_ct_val *v, uint8_t proto)
{
	uint64_t now = coarse_now_ns();
	uint64_t idle = now > v->last_seen_ns ? now - v->last_seen_ns : 0;

	if (idle > ct_timeout_ns(proto, v->state) || v->state == IOF_CT_CLOSED)
		return; /* expired (the next lookup deletes it) or over: a new SYN starts anew */
	if (!ret->ct_entries || v->last_seen_ns > ret->ct.last_seen_ns) {
		ret->ct = *v;
		ret->ct_idle_ns = idle;
	}
	ret->ct_entries++;
}

static bool port_matches(const struct dp_trace_flow *f, __be16 remote_port, __be16 local_port)
{
	/* the destination port is the remote's at the sender, the local one at the receiver */
	__be16 port = f->direction == POLICY_EGRESS ? remote_port : local_port;

	return !f->dport || port == htons(f->dport);
}

static void scan_ct4(const struct datapath *dp, const struct dp_trace_flow *f, uint32_t attach,
		     struct dp_trace_live *ret)
{
	struct iof_ct4_key key, next;
	struct iof_ct_val v;
	void *prev = NULL;

	while (dp->fds.ct4 >= 0 && !bpf_map_get_next_key(dp->fds.ct4, prev, &next)) {
		key = next;
		prev = &key;
		if (key.attach_id != attach || key.proto != f->proto ||
		    memcmp(key.local, f->local->addr, 4) || memcmp(key.remote, f->remote->addr, 4) ||
		    !port_matches(f, key.remote_port, key.local_port))
			continue;
		if (!bpf_map_lookup_elem(dp->fds.ct4, &key, &v) && !(v.flags & IOF_CT_F_FRAG))
			ct_found(ret, &v, f->proto);
	}
}

static void scan_ct6(const struct datapath *dp, const struct dp_trace_flow *f, uint32_t attach,
		     struct dp_trace_live *ret)
{
	struct iof_ct_key key, next;
	struct iof_ct_val v;
	void *prev = NULL;

	while (dp->fds.ct6 >= 0 && !bpf_map_get_next_key(dp->fds.ct6, prev, &next)) {
		key = next;
		prev = &key;
		if (key.attach_id != attach || key.proto != f->proto ||
		    memcmp(key.local, f->local->addr, 16) ||
		    memcmp(key.remote, f->remote->addr, 16) ||
		    !port_matches(f, key.remote_port, key.local_port))
			continue;
		if (!bpf_map_lookup_elem(dp->fds.ct6, &key, &v) && !(v.flags & IOF_CT_F_FRAG))
			ct_found(ret, &v, f->proto);
	}
}

/* The loader's id of the cgroup at path (iof_cg_ids), or 0. */
static uint32_t cgroup_endpoint_id(const struct datapath *dp, const char *path)
{
	static const __u32 types[] = {BPF_CGROUP_INET4_CONNECT, BPF_CGROUP_INET6_CONNECT,
				      BPF_CGROUP_UDP4_SENDMSG,	BPF_CGROUP_UDP6_SENDMSG,
				      BPF_CGROUP_INET_INGRESS,	BPF_CGROUP_INET_EGRESS};
	struct bpf_map_info info;
	__u32 ilen = sizeof(info);
	unsigned char key[16] = {0}, val[64] = {0};
	uint64_t cgroup_id;
	uint32_t id = 0;

	memset(&info, 0, sizeof(info));
	if (dp->cg_ids_fd < 0 || dp_cgroup_kernel_id(path, &cgroup_id) ||
	    bpf_obj_get_info_by_fd(dp->cg_ids_fd, &info, &ilen) || info.key_size > sizeof(key) ||
	    info.value_size > sizeof(val) || info.value_size < 4)
		return 0;
	memcpy(key, &cgroup_id, sizeof(cgroup_id));
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		memcpy(key + 8, &types[i], sizeof(types[i])); /* ignored with an 8-byte key */
		if (!bpf_map_lookup_elem(dp->cg_ids_fd, key, val)) {
			memcpy(&id, val, sizeof(id));
			break;
		}
	}
	return id;
}

int dp_trace_live(struct datapath *dp, const struct dp_trace_flow *f, struct dp_trace_live *ret)
{
	uint32_t attach[2], cg;
	size_t n_attach = 0;

	memset(ret, 0, sizeof(*ret));
	if (f->interface && (attach[n_attach] = if_nametoindex(f->interface)))
		n_attach++;
	if (f->cgroup && (cg = cgroup_endpoint_id(dp, f->cgroup)))
		attach[n_attach++] = IOF_EP_CGROUP_BIT | cg;
	for (size_t i = 0; i < n_attach; i++) {
		struct iof_endpoint_key key = {.attach_id = attach[i],
					       .slot = (__u8)dp_active_slot(dp)};
		struct iof_endpoint_val val;

		if (dp->fds.endpoints < 0 || bpf_map_lookup_elem(dp->fds.endpoints, &key, &val))
			continue;
		if (!ret->attached) {
			ret->attached = true;
			ret->attach_id = attach[i];
			ret->val = val;
		}
		if (f->local->family == 4)
			scan_ct4(dp, f, attach[i], ret);
		else
			scan_ct6(dp, f, attach[i], ret);
	}
	return 0;
}
