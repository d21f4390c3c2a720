/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The enforcement pipeline shared by the TC and cgroup_skb hooks: conntrack first (replies
 * and established packets pass, re-checked once after a revision change), then the new-flow
 * verdict (verdict.h), counters and events. Returns 1 to pass, 0 to drop.
 */
#ifndef IOFENCE_BPF_FLOW_H
#define IOFENCE_BPF_FLOW_H

#include "counters.h"
#include "ct.h"
#include "events.h"
#include "parse.h"
#include "verdict.h"

/*
 * Global functions (flow.bpf.c): the verifier checks each once per program, with its argument
 * types, instead of once for every path that reaches one of their call sites. Inlined, they
 * multiplied the verifier's work on every hook (close to its instruction limit) and made each
 * load of the object, hence each agent start, several times slower (docs/BENCHMARKS.md).
 */

/*
 * iof_judge() for the flow of key k (its attach id, family, remote and protocol) in direction
 * dir, the connection's destination port dport: 0 with d filled, -1 for an unknown endpoint.
 */
int iof_flow_judge(const struct iof_ct_key *k, __u32 slot, __u32 dir, __u32 dport,
		   struct iof_decision *d);
/* An event record of k's packet, if the rate limit of iof_config lets it through. */
int iof_flow_event(const struct iof_ct_key *k, const struct iof_event_info *info, __u64 now,
		   __u32 len);
/* iof_enforce() below, for the TC and cgroup_skb hooks: 1 to pass, 0 to drop. */
int iof_flow_enforce(struct iof_pkt *p, __u32 attach_id, __u32 dir, __u32 len);

/* Per-packet context. */
struct iof_flow {
	struct iof_ct_key key;
	const struct iof_config *cfg;
	struct iof_view view;
	__u64 now;
	__u32 len;
	__u8 dir;
	__u8 icmp; /* IOF_EV_ICMP when icmp_type and icmp_code hold the packet's */
	__u8 icmp_type, icmp_code;
};

/* The event record's description of f's packet beyond the flow key (ICMP type and code). */
static __always_inline void iof_event_packet(const struct iof_flow *f, struct iof_event_info *info)
{
	info->flags |= f->icmp;
	info->icmp_type = f->icmp_type;
	info->icmp_code = f->icmp_code;
}

static __always_inline void iof_drop_event(struct iof_flow *f, const struct iof_ct_key *k,
					   enum iof_drop_reason reason, __u32 rule_id,
					   __u16 ep_index, __u8 flags)
{
	struct iof_event_info info = {
	    .revision = f->view.revision,
	    .rule_id = rule_id,
	    .endpoint_index = ep_index,
	    .dir = f->dir,
	    .action = IOF_ACT_DENY,
	    .reason = reason,
	    .flags = flags,
	};

	iof_count_drop(reason, f->len);
	iof_event_packet(f, &info);
	iof_flow_event(k, &info, f->now, f->len);
}

/*
 * Apply a decision to a packet: counters, event, and whether it passes. audit denies pass,
 * counted as would-drop. ev_flags: IOF_EV_NEW_FLOW for first packets and re-checks.
 */
static __always_inline int iof_apply(struct iof_flow *f, const struct iof_ct_key *k,
				     const struct iof_decision *d, enum iof_drop_reason deny_reason,
				     __u8 ev_flags)
{
	__u8 slot = f->view.slot;
	int pass = d->action == IOF_ACT_ALLOW;
	__u8 flags = ev_flags | ((d->flags & IOF_F_AUDIT) ? IOF_EV_AUDIT : 0);

	iof_count_rule(slot, d->rule_id, f->len);
	if (!pass && (d->flags & IOF_F_AUDIT)) {
		iof_count_ep(slot, d->endpoint_index, IOF_EPC_AUDIT_WOULD_DROP, f->len);
		iof_count_ep_verdict(slot, d->endpoint_index, f->dir, 1, f->len);
		iof_drop_event(f, k, IOF_DROP_AUDIT, d->rule_id, d->endpoint_index, flags);
		return 1;
	}
	iof_count_ep_verdict(slot, d->endpoint_index, f->dir, pass, f->len);
	if (!pass) {
		iof_drop_event(f, k, deny_reason, d->rule_id, d->endpoint_index, flags);
		return 0;
	}
	if (f->cfg && (f->cfg->flags & IOF_CFG_EVENT_ALLOWS)) {
		struct iof_event_info info = {
		    .revision = f->view.revision,
		    .rule_id = d->rule_id,
		    .endpoint_index = d->endpoint_index,
		    .dir = f->dir,
		    .action = IOF_ACT_ALLOW,
		    .flags = flags,
		};

		iof_event_packet(f, &info);
		iof_flow_event(k, &info, f->now, f->len);
	}
	return 1;
}

static __always_inline enum iof_drop_reason iof_deny_reason(const struct iof_decision *d)
{
	return (d->flags & IOF_F_DEFAULT) ? IOF_DROP_DEFAULT : IOF_DROP_POLICY;
}

/*
 * An entry admitted under another revision: judge the flow again as the new flow that opened
 * it. Return 1 if it may continue (the entry now carries the active revision), 0 if it was
 * revoked (entry deleted, drop counted).
 */
static __always_inline int iof_ct_recheck(struct iof_flow *f, const struct iof_ct_key *k,
					  struct iof_ct_val *ct)
{
	struct iof_decision d = {.rule_id = IOF_RULE_NONE, .endpoint_index = ct->endpoint_index};
	__be16 dport = ct->dir == IOF_DIR_INGRESS ? k->local_port : k->remote_port;
	__u8 dir = f->dir;
	int ok;

	if (ct->flags & IOF_CT_F_FRAG) {
		iof_ct_delete(k);
		iof_drop_event(f, k, IOF_DROP_FRAGMENT, IOF_RULE_NONE, ct->endpoint_index, 0);
		return 0;
	}
	if (iof_flow_judge(k, f->view.slot, ct->dir, dport, &d)) {
		iof_ct_delete(k);
		iof_drop_event(f, k, IOF_DROP_UNKNOWN_EP, IOF_RULE_NONE, ct->endpoint_index, 0);
		return 0;
	}
	f->dir = ct->dir; /* the event describes the opening direction's verdict */
	ok = iof_apply(f, k, &d, IOF_DROP_REVOKED, IOF_EV_NEW_FLOW);
	f->dir = dir;
	if (!ok) {
		iof_ct_delete(k);
		return 0;
	}
	ct->revision = f->view.revision;
	ct->rule_id = d.rule_id;
	ct->endpoint_index = d.endpoint_index;
	ct->audit = d.action != IOF_ACT_ALLOW;
	return 1;
}

/* A packet of a known flow: revision check, state, counters. Return 1 pass, 0 drop. */
static __always_inline int iof_ct_hit(struct iof_flow *f, const struct iof_ct_key *k,
				      struct iof_ct_val *ct, __u8 tcp_flags)
{
	if (ct->revision != f->view.revision) {
		if (!iof_ct_recheck(f, k, ct))
			return 0;
		iof_ct_update(ct, k->proto, f->dir, tcp_flags, f->now);
		return 1; /* counted by the re-check */
	}
	iof_ct_update(ct, k->proto, f->dir, tcp_flags, f->now);
	iof_count_rule(f->view.slot, ct->rule_id, f->len);
	iof_count_ep_verdict(f->view.slot, ct->endpoint_index, f->dir, 1, f->len);
	/*
	 * A flow admitted only by audit mode: each packet in its opening direction is one that
	 * enforcement would have dropped (its replies would not exist).
	 */
	if (ct->audit && ct->dir == f->dir) {
		iof_count_ep(f->view.slot, ct->endpoint_index, IOF_EPC_AUDIT_WOULD_DROP, f->len);
		iof_count_drop(IOF_DROP_AUDIT, f->len);
	}
	return 1;
}

/* Look up k; an expired entry is deleted and reported as a miss. */
static __always_inline struct iof_ct_val *iof_ct_find(struct iof_flow *f,
						      const struct iof_ct_key *k)
{
	struct iof_ct_val *ct = iof_ct_lookup(k);

	if (ct && iof_ct_expired(f->cfg, ct, k->proto, f->now)) {
		iof_ct_delete(k);
		return NULL;
	}
	return ct;
}

/*
 * opens_only: the packet can open a flow but never answer one (a TCP SYN, an ICMP echo
 * request), so a flow it opens in an endpoint's settle window cannot be a reply to a packet
 * that reached the workload before its enforcement, and is not provisional.
 */
static __always_inline void iof_ct_insert(struct iof_flow *f, const struct iof_ct_key *k,
					  const struct iof_decision *d, __u8 tcp_flags, __u8 flags,
					  __u8 opens_only)
{
	struct iof_ct_val v = {
	    .last_seen_ns = f->now,
	    .revision = f->view.revision,
	    .rule_id = d->rule_id,
	    .endpoint_index = d->endpoint_index,
	    .dir = f->dir,
	    .audit = d->action != IOF_ACT_ALLOW,
	    .flags = flags,
	};

	if (f->cfg && (f->cfg->flags & IOF_CFG_BENCH_NO_CT_INSERT))
		return;
	if (f->dir == IOF_DIR_EGRESS && !opens_only) {
		__u64 *until = bpf_map_lookup_elem(&iof_ep_settle, &k->attach_id);

		if (until && f->now < *until)
			v.flags |= IOF_CT_F_PROVISIONAL;
	}
	if (k->proto != IPPROTO_TCP || ((tcp_flags & IOF_TCP_SYN) && !(tcp_flags & IOF_TCP_ACK)))
		v.state = IOF_CT_NEW;
	else
		v.state = IOF_CT_ESTABLISHED; /* fragment companion of a TCP flow */
	iof_ct_store(k, &v);
}

/* A first fragment passed: let the datagram's other fragments through (IOF_CT_F_FRAG). */
static __always_inline void iof_frag_companion(struct iof_flow *f, const struct iof_ct_key *k,
					       __u32 rule_id, __u16 ep_index)
{
	struct iof_ct_key fk = *k;
	struct iof_decision d = {
	    .action = IOF_ACT_ALLOW, .rule_id = rule_id, .endpoint_index = ep_index};

	if (!k->local_port && !k->remote_port)
		return; /* the flow's own entry serves */
	fk.local_port = 0;
	fk.remote_port = 0;
	iof_ct_insert(f, &fk, &d, 0, IOF_CT_F_FRAG, k->proto == IPPROTO_TCP);
}

/* A non-first fragment: it passes only by an entry with both ports 0 (see IOF_CT_F_FRAG). */
static __always_inline int iof_nonfirst_fragment(struct iof_flow *f, struct iof_pkt *p)
{
	struct iof_ct_val *ct;

	iof_ct_key_make(&f->key, f->key.attach_id, f->dir, p->family, p->proto, p->saddr, p->daddr,
			0, 0, 0);
	ct = iof_ct_find(f, &f->key);
	if (ct)
		return iof_ct_hit(f, &f->key, ct, 0);
	iof_drop_event(f, &f->key, IOF_DROP_FRAGMENT, IOF_RULE_NONE, 0xffff, 0);
	return 0;
}

/* An ICMP error whose embedded packet belongs to a flow passes with it. 1 pass, -1 no flow. */
static __always_inline int iof_icmp_related(struct iof_flow *f, struct iof_pkt *p)
{
	struct iof_ct_key ik;
	struct iof_ct_val *ct;

	/* the embedded packet travelled the other way */
	iof_ct_key_make(&ik, f->key.attach_id, f->dir ^ 1, p->family, p->inner_proto,
			p->inner_saddr, p->inner_daddr, p->inner_sport, p->inner_dport,
			p->inner_is_echo);
	ct = iof_ct_find(f, &ik);
	if (!ct)
		return -1;
	if (ct->revision != f->view.revision)
		return iof_ct_recheck(f, &ik, ct); /* counted there */
	iof_count_rule(f->view.slot, ct->rule_id, f->len);
	iof_count_ep_verdict(f->view.slot, ct->endpoint_index, f->dir, 1, f->len);
	return 1;
}

/* Judge a parsed IP packet at endpoint attach_id travelling in direction dir. */
static __always_inline int iof_enforce(struct iof_pkt *p, __u32 attach_id, __u8 dir, __u32 len)
{
	__u32 zero = 0;
	struct iof_flow f = {.dir = dir, .len = len};
	struct iof_decision d = {.rule_id = IOF_RULE_NONE, .endpoint_index = 0xffff};
	struct iof_ct_val *ct, *provisional = NULL;
	int r;

	f.key.attach_id = attach_id;
	f.cfg = bpf_map_lookup_elem(&iof_config, &zero);
	f.now = bpf_ktime_get_coarse_ns(); /* timeouts need no better than a tick */
	if (iof_view_read(&f.view))
		return 0;
	if (p->frag != IOF_FRAG_NONFIRST && ((p->family == 4 && p->proto == IPPROTO_ICMP) ||
					     (p->family == 6 && p->proto == IPPROTO_ICMPV6))) {
		f.icmp = IOF_EV_ICMP;
		f.icmp_type = p->icmp_type;
		f.icmp_code = p->icmp_code;
	}
	if (p->frag == IOF_FRAG_NONFIRST)
		return iof_nonfirst_fragment(&f, p);
	if (p->is_error) {
		r = iof_icmp_related(&f, p);
		if (r >= 0)
			return r;
	}
	iof_ct_key_make(&f.key, attach_id, dir, p->family, p->proto, p->saddr, p->daddr, p->sport,
			p->dport, p->is_echo);
	ct = iof_ct_find(&f, &f.key);
	if (ct && ct->state == IOF_CT_CLOSED && (p->tcp_flags & IOF_TCP_SYN) &&
	    !(p->tcp_flags & IOF_TCP_ACK)) {
		iof_ct_delete(&f.key); /* a new connection reuses the ports */
		ct = NULL;
	}
	/*
	 * A packet entering the workload on a provisional flow (IOF_CT_F_PROVISIONAL) is judged
	 * by the ingress policy as a new flow; the entry stays (so do its replies) but the packet
	 * opens nothing.
	 */
	if (ct && (ct->flags & IOF_CT_F_PROVISIONAL) && dir == IOF_DIR_INGRESS)
		provisional = ct;
	else if (ct) {
		if (!iof_ct_hit(&f, &f.key, ct, p->tcp_flags))
			return 0;
		if (p->frag == IOF_FRAG_FIRST)
			iof_frag_companion(&f, &f.key, ct->rule_id, ct->endpoint_index);
		return 1;
	}
	/* a new flow: ports are destination ports of the connection */
	__be16 dport = dir == IOF_DIR_INGRESS ? f.key.local_port : f.key.remote_port;

	if (iof_flow_judge(&f.key, f.view.slot, dir, dport, &d)) {
		iof_drop_event(&f, &f.key, IOF_DROP_UNKNOWN_EP, IOF_RULE_NONE, 0xffff, 0);
		return 0;
	}
	if (!iof_apply(&f, &f.key, &d, iof_deny_reason(&d), IOF_EV_NEW_FLOW))
		return 0;
	if (provisional) {
		iof_ct_update(provisional, p->proto, dir, p->tcp_flags, f.now);
		return 1;
	}
	/*
	 * Tracked: what opens a flow. ICMP errors and echo replies that match no flow are
	 * judged, not tracked (a reply opens nothing: see IOF_CT_F_PROVISIONAL).
	 * A TCP packet without an entry that is not a SYN passes if its own direction allows it
	 * but opens nothing: otherwise, once a revision revokes a connection, the first packet
	 * of its other end (allowed in that direction, say by an egress default of allow) would
	 * track it again with the roles swapped, and the revoked side's packets would pass as
	 * its replies.
	 */
	if (!p->is_error && p->is_echo != IOF_ECHO_REPLY &&
	    (p->proto != IPPROTO_TCP ||
	     ((p->tcp_flags & IOF_TCP_SYN) && !(p->tcp_flags & IOF_TCP_ACK))))
		iof_ct_insert(&f, &f.key, &d, p->tcp_flags, 0,
			      p->proto == IPPROTO_TCP || p->is_echo == IOF_ECHO_REQUEST);
	if (p->frag == IOF_FRAG_FIRST)
		iof_frag_companion(&f, &f.key, d.rule_id, d.endpoint_index);
	return 1;
}

#endif /* IOFENCE_BPF_FLOW_H */
