/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The datapath's map definitions (BPF side only). Every .bpf.c includes this header; the
 * definitions are __weak so that `bpftool gen object` merges them into one map per name when
 * it links the hook families into iofence.bpf.o. Layouts come from policy_layout.h and
 * datapath_maps.h; nothing here defines a struct shared with user space.
 */
#ifndef IOFENCE_BPF_MAPS_H
#define IOFENCE_BPF_MAPS_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "datapath_maps.h"

/* clang-format would read "__uint(max_entries, A * B)" as a pointer declaration. */
/* clang-format off */

/* Token bucket of the event rate limit, one per CPU (iof_event_bucket). */
struct iof_bucket {
	__u64 last_ns;
	__u64 tokens_milli; /* tokens * 1000, so low rates refill smoothly */
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct iof_state);
} iof_state __weak SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, IOF_SLOTS * IOF_MAX_ENDPOINTS);
	__type(key, struct iof_endpoint_key);
	__type(value, struct iof_endpoint_val);
} iof_endpoints __weak SEC(".maps");

/* The remote trie of one {slot, profile} (sizes, not types: see iof_policy_trie). */
struct iof_remote4_trie {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, IOF_MAX_REMOTE_ENTRIES);
	__uint(key_size, sizeof(struct iof_remote4_key));
	__uint(value_size, sizeof(struct iof_remote_val));
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, IOF_SLOTS * IOF_MAX_PROFILES);
	__type(key, __u32);
	__array(values, struct iof_remote4_trie);
} iof_remote4 __weak SEC(".maps");

/* The remote trie of one {slot, profile} (sizes, not types: see iof_policy_trie). */
struct iof_remote6_trie {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, IOF_MAX_REMOTE_ENTRIES);
	__uint(key_size, sizeof(struct iof_remote6_key));
	__uint(value_size, sizeof(struct iof_remote_val));
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, IOF_SLOTS * IOF_MAX_PROFILES);
	__type(key, __u32);
	__array(values, struct iof_remote6_trie);
} iof_remote6 __weak SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC); /* memory as used, like the tries */
	__uint(max_entries, IOF_SLOTS * IOF_MAX_REMOTE_ENTRIES);
	__type(key, struct iof_remote4_host_key);
	__type(value, struct iof_remote_val);
} iof_remote4_host __weak SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, IOF_SLOTS * IOF_MAX_REMOTE_ENTRIES);
	__type(key, struct iof_remote6_host_key);
	__type(value, struct iof_remote_val);
} iof_remote6_host __weak SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, IOF_SLOTS * IOF_MAX_ANY_PORTS);
	__type(key, struct iof_any_port_key);
	__type(value, struct iof_policy_val);
} iof_any_ports __weak SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, IOF_SLOTS * IOF_MAX_PROFILES * IOF_ANY_GROUPS);
	__type(key, __u32);
	__type(value, struct iof_policy_val);
} iof_any_group __weak SEC(".maps");

/*
 * A policy trie of one {slot, profile, part}: iof_policy_key (policy_layout.h). Sizes, not
 * types: an object that never looks it up carries only a forward declaration of the key, and
 * the linker could not merge the weak definitions.
 */
struct iof_policy_trie {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, IOF_MAX_POLICY_ENTRIES);
	__uint(key_size, sizeof(struct iof_policy_key));
	__uint(value_size, sizeof(struct iof_policy_val));
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, IOF_SLOTS * IOF_MAX_PROFILES * IOF_POLICY_PARTS);
	__type(key, __u32);
	__array(values, struct iof_policy_trie);
} iof_policy __weak SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, IOF_CT_MAX);
	__type(key, struct iof_ct4_key);
	__type(value, struct iof_ct_val);
} iof_ct4 __weak SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, IOF_CT_MAX);
	__type(key, struct iof_ct_key);
	__type(value, struct iof_ct_val);
} iof_ct6 __weak SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct iof_ct_stats);
} iof_ct_stats __weak SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, IOF_MAX_ENDPOINTS);
	__type(key, __u32);
	__type(value, __u64);
} iof_ep_settle __weak SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, IOF_SLOTS * IOF_MAX_ENDPOINTS);
	__type(key, struct iof_ifname_key);
	__type(value, struct iof_endpoint_val);
} iof_ep_ifnames __weak SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, IOF_SLOTS * IOF_MAX_RULES);
	__type(key, __u32);
	__type(value, struct iof_counter);
} iof_rule_counters __weak SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, IOF_SLOTS * IOF_MAX_ENDPOINTS * IOF_EP_COUNTER_KINDS);
	__type(key, __u32);
	__type(value, struct iof_counter);
} iof_ep_counters __weak SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, IOF_DROP_MAX);
	__type(key, __u32);
	__type(value, struct iof_counter);
} iof_drops __weak SEC(".maps");

/* Counter identities (datapath_maps.h): user space reads and writes them, the programs never. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, IOF_SLOTS * IOF_MAX_RULES);
	__type(key, __u32);
	__type(value, __u64);
} iof_rule_owner __weak SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, IOF_SLOTS * IOF_MAX_ENDPOINTS);
	__type(key, __u32);
	__type(value, __u64);
} iof_ep_owner __weak SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, IOF_COUNT_BASE_MAX);
	__type(key, struct iof_count_base_key);
	__type(value, struct iof_counter);
} iof_count_base __weak SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, IOF_EVENTS_RING_BYTES);
} iof_events __weak SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, IOF_EVLOST_MAX);
	__type(key, __u32);
	__type(value, __u64);
} iof_events_lost __weak SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct iof_bucket);
} iof_event_bucket __weak SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, IOF_SLOTS * IOF_MAX_PREFILTER_ENTRIES);
	__type(key, struct iof_prefilter4_key);
	__type(value, __u8);
} iof_prefilter4 __weak SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, IOF_SLOTS * IOF_MAX_PREFILTER_ENTRIES);
	__type(key, struct iof_prefilter6_key);
	__type(value, __u8);
} iof_prefilter6 __weak SEC(".maps");

/*
 * Host entries (/32, /128) of the deny-lists, looked up before the tries: per slot, a hash map
 * created for each image at the size it needs (a hash map's bucket array follows its capacity,
 * and a large one costs every XDP lookup cache and TLB misses), preallocated. max_entries here
 * is the template's; the kernel does not compare it with the inner maps'.
 */
struct iof_prefilter4_hosts {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1);
	__uint(key_size, sizeof(struct iof_prefilter4_host_key));
	__uint(value_size, sizeof(__u8));
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, IOF_SLOTS);
	__type(key, __u32);
	__array(values, struct iof_prefilter4_hosts);
} iof_prefilter4_host __weak SEC(".maps");

struct iof_prefilter6_hosts {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1);
	__uint(key_size, sizeof(struct iof_prefilter6_host_key));
	__uint(value_size, sizeof(__u8));
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, IOF_SLOTS);
	__type(key, __u32);
	__array(values, struct iof_prefilter6_hosts);
} iof_prefilter6_host __weak SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, IOF_FAILSAFE_MAX);
	__type(key, __u32);
	__type(value, struct iof_failsafe);
} iof_failsafe __weak SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct iof_config);
} iof_config __weak SEC(".maps");
/* clang-format on */

#endif /* IOFENCE_BPF_MAPS_H */
