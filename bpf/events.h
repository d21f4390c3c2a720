/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Verdict events into the iof_events ring buffer, rate-limited per CPU by a token bucket of
 * iof_config.events_per_sec (burst: one second's worth). Records that are not written are
 * counted in iof_events_lost by cause, so the agent can report them.
 */
#ifndef IOFENCE_BPF_EVENTS_H
#define IOFENCE_BPF_EVENTS_H

#include "maps.h"

#define IOF_NSEC 1000000000ull

static __always_inline void iof_events_lost_inc(__u32 cause)
{
	__u64 *n = bpf_map_lookup_elem(&iof_events_lost, &cause);

	if (n)
		*n += 1;
}

/* True if the CPU's bucket holds a token (and takes it). */
static __always_inline int iof_event_token(const struct iof_config *cfg, __u64 now)
{
	__u32 zero = 0;
	struct iof_bucket *b;
	__u64 rate, elapsed, tokens;

	if (!cfg || !cfg->events_per_sec)
		return 0;
	b = bpf_map_lookup_elem(&iof_event_bucket, &zero);
	if (!b)
		return 0;
	rate = cfg->events_per_sec;
	elapsed = now - b->last_ns;
	if (elapsed > IOF_NSEC)
		elapsed = IOF_NSEC;
	tokens = b->tokens_milli + elapsed * rate / 1000000;
	if (tokens > rate * 1000)
		tokens = rate * 1000;
	b->last_ns = now;
	if (tokens < 1000) {
		b->tokens_milli = tokens;
		iof_events_lost_inc(IOF_EVLOST_RATELIMIT);
		return 0;
	}
	b->tokens_milli = tokens - 1000;
	return 1;
}

struct iof_event_info {
	__u64 revision;
	__u32 rule_id;
	__u16 endpoint_index;
	__u8 dir;
	__u8 action;
	__u8 reason;
	__u8 flags; /* IOF_EV_* */
	__u8 icmp_type, icmp_code; /* with IOF_EV_ICMP */
};

static __always_inline void iof_event_emit(const struct iof_config *cfg, __u64 now,
					   const struct iof_ct_key *k,
					   const struct iof_event_info *info, __u32 len)
{
	struct iof_event *ev;

	if (!iof_event_token(cfg, now))
		return;
	ev = bpf_ringbuf_reserve(&iof_events, sizeof(*ev), 0);
	if (!ev) {
		iof_events_lost_inc(IOF_EVLOST_RINGBUF);
		return;
	}
	ev->ts_ns = bpf_ktime_get_ns(); /* precise for the record; now is coarse */
	ev->revision = info->revision;
	ev->attach_id = k->attach_id;
	ev->rule_id = info->rule_id;
	ev->endpoint_index = info->endpoint_index;
	ev->family = k->family;
	ev->proto = k->proto;
	ev->dir = info->dir;
	ev->action = info->action;
	ev->reason = info->reason;
	ev->flags = info->flags;
	ev->remote_port = k->remote_port;
	ev->local_port = k->local_port;
	__builtin_memcpy(ev->remote, k->remote, 16);
	__builtin_memcpy(ev->local, k->local, 16);
	ev->len = len;
	ev->icmp_type = info->icmp_type;
	ev->icmp_code = info->icmp_code;
	ev->pad = 0;
	bpf_ringbuf_submit(ev, 0);
}

#endif /* IOFENCE_BPF_EVENTS_H */
