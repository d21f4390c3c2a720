// SPDX-License-Identifier: Apache-2.0
/*
 * cgroup v2 hooks of cgroup endpoints. connect4/6 and sendmsg4/6 refuse a denied destination
 * at the call (EPERM, better than a timeout); cgroup_skb ingress/egress enforce packets with
 * the same conntrack and verdict as the TC hooks. The endpoint's attach id is
 * IOF_EP_CGROUP_BIT | the id the loader stored in iof_cg_ids for the cgroup.
 */
#include <linux/bpf.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "flow.h"

struct {
	__uint(type, BPF_MAP_TYPE_CGROUP_STORAGE);
	__type(key, __u64); /* cgroup id: one value per cgroup, shared by its attach types */
	__type(value, __u32);
} iof_cg_ids SEC(".maps");

/* 0 while the loader has not written the cgroup's id yet (fail closed). */
static __always_inline __u32 cg_attach_id(void)
{
	__u32 *id = bpf_get_local_storage(&iof_cg_ids, 0);

	return id && *id ? IOF_EP_CGROUP_BIT | *id : 0;
}

/* A socket call towards remote:port: 1 to allow, 0 for EPERM. */
static __always_inline int sock_judge(__u8 family, const __u8 *remote, __u32 proto, __u32 user_port)
{
	__u32 attach_id = cg_attach_id();
	struct iof_decision d = {.rule_id = IOF_RULE_NONE, .endpoint_index = 0xffff};
	struct iof_view view;

	if (iof_view_read(&view))
		return 0;
	if (!attach_id || iof_judge(view.slot, attach_id, IOF_DIR_EGRESS, family, remote,
				    (__u8)proto, (__be16)user_port, &d)) {
		iof_count_drop(IOF_DROP_UNKNOWN_EP, 0);
		return 0;
	}
	if (d.action == IOF_ACT_ALLOW || (d.flags & IOF_F_AUDIT))
		return 1;
	iof_count_drop((d.flags & IOF_F_DEFAULT) ? IOF_DROP_DEFAULT : IOF_DROP_POLICY, 0);
	return 0;
}

static __always_inline int sock4(struct bpf_sock_addr *ctx)
{
	__u32 ip = ctx->user_ip4;

	return sock_judge(4, (const __u8 *)&ip, ctx->protocol, ctx->user_port);
}

static __always_inline int sock6(struct bpf_sock_addr *ctx)
{
	__u32 ip[4];

	ip[0] = ctx->user_ip6[0];
	ip[1] = ctx->user_ip6[1];
	ip[2] = ctx->user_ip6[2];
	ip[3] = ctx->user_ip6[3];
	/* a dual-stack socket towards ::ffff:a.b.c.d talks IPv4: judge it as a.b.c.d */
	if (!ip[0] && !ip[1] && ip[2] == bpf_htonl(0xffff))
		return sock_judge(4, (const __u8 *)&ip[3], ctx->protocol, ctx->user_port);
	return sock_judge(6, (const __u8 *)ip, ctx->protocol, ctx->user_port);
}

SEC("cgroup/connect4")
int iof_cg_connect4(struct bpf_sock_addr *ctx)
{
	return sock4(ctx);
}

SEC("cgroup/connect6")
int iof_cg_connect6(struct bpf_sock_addr *ctx)
{
	return sock6(ctx);
}

SEC("cgroup/sendmsg4")
int iof_cg_sendmsg4(struct bpf_sock_addr *ctx)
{
	return sock4(ctx);
}

SEC("cgroup/sendmsg6")
int iof_cg_sendmsg6(struct bpf_sock_addr *ctx)
{
	return sock6(ctx);
}

/* A global function, verified once (see tc.bpf.c). */
__noinline int iof_cg_parse(struct __sk_buff *skb, struct iof_pkt *p)
{
	void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
	__u8 *ver = data;

	if (!p || (void *)(ver + 1) > end)
		return IOF_PARSE_MALFORMED;
	/* cgroup_skb data starts at the IP header: its version names the family */
	return iof_parse_l3(data, end,
			    (*ver >> 4) == 4 ? bpf_htons(ETH_P_IP) : bpf_htons(ETH_P_IPV6), p);
}

static __always_inline int cg_skb_verdict(struct __sk_buff *skb, __u8 dir)
{
	struct iof_pkt p = {};
	__u32 attach_id = cg_attach_id();
	int r;

	r = iof_cg_parse(skb, &p);
	if (r == IOF_PARSE_PASS)
		return 1;
	if (r != IOF_PARSE_OK) {
		iof_count_drop(IOF_DROP_MALFORMED, skb->len);
		return 0;
	}
	if (!attach_id) {
		iof_count_drop(IOF_DROP_UNKNOWN_EP, skb->len);
		return 0;
	}
	return iof_flow_enforce(&p, attach_id, dir, skb->len);
}

/* cgroup_skb must return 0 or 1, provably: hide the value from the optimizer, then map it. */
static __always_inline int cg_skb_enforce(struct __sk_buff *skb, __u8 dir)
{
	int pass = cg_skb_verdict(skb, dir);

	asm volatile("" : "+r"(pass));
	return pass ? 1 : 0;
}

SEC("cgroup_skb/ingress")
int iof_cg_skb_ingress(struct __sk_buff *skb)
{
	return cg_skb_enforce(skb, IOF_DIR_INGRESS);
}

SEC("cgroup_skb/egress")
int iof_cg_skb_egress(struct __sk_buff *skb)
{
	return cg_skb_enforce(skb, IOF_DIR_EGRESS);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
