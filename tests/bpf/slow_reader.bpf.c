// SPDX-License-Identifier: Apache-2.0
/*
 * A reader that takes its time, for bpf_slot_retire: it picks the active slot as a packet does
 * (bpf/verdict.h), keeps running until that slot has been flipped away and a while after, then
 * reads the slot's revision again. One program run is one RCU read-side section, as a packet's
 * is: if the datapath rewrote the slot before the run ended, the two reads differ, and a
 * packet in that place would have been judged by two revisions.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "../../bpf/policy_layout.h"
#include "slow_reader.h"

/* The datapath's iof_state (bpf/maps.h), given to this object with bpf_map__reuse_fd(). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct iof_state);
} iof_state SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct slow_read);
} slow_result SEC(".maps");

/* Loop iterations (~2 ns each here) to keep running after the flip was seen. */
const volatile __u64 after_flip = 50000000;

/*
 * The loop's state lives in the result map, not on the stack: values read from a map are
 * unknown to the verifier, which then checks the step once instead of once per count.
 */
struct spin {
	struct slow_read *res;
	__u32 slot;
};

static long spin_step(__u64 i, void *ctx)
{
	struct spin *s = ctx;
	struct slow_read *res = s->res;
	__u32 zero = 0;
	struct iof_state *st = bpf_map_lookup_elem(&iof_state, &zero);

	if (!st || !res)
		return 1;
	if (!res->flipped) {
		res->flipped = (st->active_slot & 1) != s->slot;
		return 0;
	}
	return ++res->after >= after_flip;
}

/* bpf_loop runs at most 2^23 steps: rounds of them, up to ~1 s before the flip. */
static long spin_round(__u64 i, void *ctx)
{
	struct spin *s = ctx;

	bpf_loop(1 << 23, spin_step, s, 0);
	return !s->res || s->res->after >= after_flip;
}

SEC("tc")
int slow_reader(struct __sk_buff *skb)
{
	__u32 zero = 0;
	struct iof_state *st = bpf_map_lookup_elem(&iof_state, &zero);
	struct slow_read *res = bpf_map_lookup_elem(&slow_result, &zero);
	struct spin s = {};
	__u32 slot;

	if (!st || !res)
		return 0;
	slot = st->active_slot & 1;
	s.slot = slot;
	s.res = res;
	res->slot = slot;
	res->flipped = 0;
	res->after = 0;
	res->rev_start = st->revision[slot];
	__sync_fetch_and_add(&res->started, 1);
	bpf_loop(64, spin_round, &s, 0);
	res->rev_end = st->revision[slot & 1];
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
