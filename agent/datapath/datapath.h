/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The datapath library: loads the BPF programs (bpf/), pins maps and links under the pin
 * dir, attaches them to endpoints (TC clsact on the host-side interface, cgroup v2 hooks) and
 * uplinks (XDP prefilter), writes map images into the inactive A/B slot and flips the active
 * slot with one atomic store. A new process adopts what a previous one pinned, without a
 * moment in which an endpoint is unenforced. Used by iofenced and the tests.
 *
 * All functions return 0 or -errno and, where they take err/err_len, write a one-line reason.
 * Threads: one thread changes images (dp_apply, dp_cgroup_changed: the agent's apply
 * thread); the checks (dp_check_*, dp_verify_slots, dp_apply_again: the agent's guard
 * thread), dp_link_changed() and dp_endpoint_enforced() may run on other threads at the same
 * time (they take the datapath's lock, which dp_apply takes only to activate a written slot;
 * the verification reads the maps without holding up an apply); dp_read_* only read maps and
 * are safe from any thread.
 */
#ifndef IOFENCE_AGENT_DATAPATH_H
#define IOFENCE_AGENT_DATAPATH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bpf/datapath_maps.h"
#include "policy/image.h"

#define DP_DEFAULT_PIN_DIR "/sys/fs/bpf/iofence"

struct dp_options {
	const char *pin_dir;	/* DP_DEFAULT_PIN_DIR if NULL */
	const char *bpf_object; /* path of an iofence.bpf.o; NULL: the one the build embeds */
	struct iof_config config;
	struct iof_failsafe failsafe[IOF_FAILSAFE_MAX]; /* anti-lockout set for the prefilter */
	size_t n_failsafe;
	bool xdp_generic;   /* force generic XDP (native is tried first otherwise) */
	bool force_upgrade; /* replace pinned programs even if the build is the same (tests;
			     * also env IOFENCE_DP_FORCE_UPGRADE=1) */
};

struct datapath;

/*
 * dp_open() - load the programs and create maps, or adopt pinned ones from a previous run
 * (same pin dir): maps keep their contents, links stay attached, the active slot keeps
 * enforcing. Programs of a newer build replace pinned ones with bpf_link_update (hot upgrade,
 * no packet unjudged).
 */
int dp_open(const struct dp_options *opts, struct datapath **ret, char *err, size_t err_len);

/*
 * dp_early_enforce() - before dp_open() at agent start: attach the pinned programs to the
 * active slot's endpoint interfaces that have no live link (they appeared while no agent ran),
 * with their iof_endpoints entries, from pins alone (early.c); those already up get a settle
 * window (provisional flows, datapath_maps.h). Returns how many, or -errno.
 */
int dp_early_enforce(const char *pin_dir, char *err, size_t err_len);

/* True if dp_open() found pinned state; the revision enforced in the active slot. */
bool dp_adopted(const struct datapath *dp);
uint64_t dp_active_revision(const struct datapath *dp);

/* The slot (0 or 1) the programs read now. */
uint32_t dp_active_slot(const struct datapath *dp);

/*
 * dp_apply() - enforce a new image: clear and fill the inactive slot (iof_endpoints for every
 * endpoint whose interface/cgroup exists, remote tries, policy trie, prefilter), flip
 * iof_state.active_slot, then attach hooks to endpoints that have none and detach those no
 * longer in the image. An image that does not fit is refused before anything is written
 * (-E2BIG, err names the map), and so is one with an endpoint whose cgroup path exists but is
 * not a cgroup v2 folder (-EMEDIUMTYPE, err names the endpoint and the path). An error while writing leaves the active slot untouched; an
 * error attaching a hook after the flip is returned too, with the new revision already active
 * (dp_active_revision() says which; the endpoint is retried at the next apply or link event).
 */
int dp_apply(struct datapath *dp, const struct policy_image *img, char *err, size_t err_len);

/*
 * dp_apply_again() - the repair of a damaged active slot: img (compiled from the revision the
 * caller believes active) written whole, trusting nothing remembered of the slots, and
 * activated, but only if img's revision is still the active one: -ESTALE (nothing written)
 * when an apply made another revision active meanwhile (that apply wrote its slot whole, as
 * the damage found made every later write whole). Never repairs with stale data.
 */
int dp_apply_again(struct datapath *dp, const struct policy_image *img, char *err,
		   size_t err_len);

/*
 * dp_link_changed() - an interface appeared (up = true) or disappeared: attach to it and add
 * its iof_endpoints entry in the active slot if the image names it, or forget it. Called from
 * the agent's netlink watcher, on its own thread: an apply writing the other slot meanwhile
 * follows the change before it activates that slot, so the endpoint's entry and hooks always
 * belong to the active slot's revision. Return: 2 when it attached an endpoint's hooks, 1
 * when the enforced image names the interface (endpoint or prefilter uplink) and nothing
 * new was attached, 0 when it does not name it, or -errno. ret_timing (NULL: not wanted)
 * says where the time went.
 */
struct dp_link_timing {
	uint64_t lock_wait_usec; /* waiting for an apply's activation or a check to finish */
	uint64_t hooks_usec;	 /* creating and pinning the links (bpf_link_create takes rtnl) */
};
int dp_link_changed(struct datapath *dp, const char *ifname, int ifindex, bool up,
		    struct dp_link_timing *ret_timing);

/*
 * dp_links_resync() - link events were lost (the watcher's netlink socket overflowed): every
 * interface the enforced image names is looked up by name and handled as dp_link_changed()
 * would have handled its last event (attached if present, forgotten if absent). Same thread
 * as dp_link_changed(). Returns 0 or the first error (the other interfaces are still done);
 * ret (NULL: not wanted) counts what it found.
 */
struct dp_resync {
	unsigned interfaces; /* distinct interface names of the image */
	unsigned attached;   /* present without hooks: attached now */
	unsigned gone;	     /* absent, but attached or entered: forgotten now */
	int error;
	uint64_t usec;
};
int dp_links_resync(struct datapath *dp, struct dp_resync *ret);

/*
 * dp_cgroup_changed() - the cgroup v2 folder at path was created (exists = true) or removed:
 * give its endpoints their iof_endpoints entry in the active slot and attach the socket
 * hooks, or forget them. For the agent's watcher of cgroup paths (inotify or polling).
 */
int dp_cgroup_changed(struct datapath *dp, const char *path, bool exists);

/*
 * Counters, summed over CPUs. A rule's or endpoint's total is kept per identity (image_rule and
 * image_endpoint .identity; bpf/datapath_maps.h "Counter identities"): monotonic across applies
 * and agent restarts for as long as the identity is in the enforced image. Drops are per reason
 * since the maps were created. dp_read_endpoint_counter() reads the total of the endpoint at
 * that index of the active slot (tools without the image). dp_counter_errors() counts applies
 * that could not carry every count over (the base map full, a failed map read).
 */
int dp_read_rule_total(struct datapath *dp, uint64_t identity, struct iof_counter *ret);
int dp_read_endpoint_total(struct datapath *dp, uint64_t identity, enum iof_ep_counter_kind kind,
			   struct iof_counter *ret);
int dp_read_endpoint_counter(struct datapath *dp, uint32_t endpoint_index,
			     enum iof_ep_counter_kind kind, struct iof_counter *ret);
int dp_read_drops(struct datapath *dp, enum iof_drop_reason reason, struct iof_counter *ret);
uint64_t dp_counter_errors(struct datapath *dp);

/*
 * Fill levels for metrics: entries in use per map (the active slot's share), as the last
 * change left them; conntrack as dp_count_conntrack() last counted it (0 before). Safe from
 * any thread; never walks the conntrack maps.
 */
struct dp_fill {
	size_t endpoints, remote4, remote6, policy, prefilter, ct4, ct6;
};
int dp_read_fill(struct datapath *dp, struct dp_fill *ret);

/*
 * Slots retired after flips (slot_retire.h): flips so far and how many of them are retired
 * (no program reads the slot left behind any more), the grace periods waited for off the
 * apply's path (how many, the last, the longest, in all), and the writes of the inactive slot
 * that found its readers not yet gone and waited for them (how many, how long in all). Any
 * thread.
 */
struct dp_retire_figures {
	uint64_t flips, retired;
	uint64_t grace_periods, grace_usec_last, grace_usec_max, grace_usec_total;
	uint64_t writes_waited, wait_usec_total;
};
void dp_read_slot_retire(struct datapath *dp, struct dp_retire_figures *ret);

/*
 * Conntrack pressure per family ([0] IPv4, [1] IPv6), from the programs' per-CPU counters:
 * one map lookup, whatever the fill. entries and evictions are derived (see ct_stats.c):
 * entries = inserts - deletes - evictions, evictions = what that exceeded the capacity.
 */
struct dp_ct_stats {
	uint64_t inserts, deletes, insert_failures, evictions, entries, capacity;
};
int dp_read_ct_stats(struct datapath *dp, struct dp_ct_stats ret[2]);

/*
 * dp_count_conntrack() - count the conntrack entries for dp_read_fill(). Reads every entry
 * (in batches): call it off any request path, at a modest period (the agent's event loop).
 */
void dp_count_conntrack(struct datapath *dp);

/*
 * Verdict events: the ring buffer's fd for the agent's poll loop, and a consumer that calls
 * cb for each record. dp_events_lost() counts records the BPF side could not reserve.
 */
int dp_events_fd(struct datapath *dp);
/*
 * seq: the record's sequence number, from 1 for the ring's first record ever; it goes on
 * across agent restarts (the ring is pinned) and starts again only with a new ring.
 * dp_events_next_seq(): the number the next record read will have.
 */
typedef void (*dp_event_fn)(const struct iof_event *ev, uint64_t seq, void *ctx);
int dp_events_consume(struct datapath *dp, dp_event_fn cb, void *ctx);
int dp_events_next_seq(struct datapath *dp, uint64_t *ret);
int dp_events_lost(struct datapath *dp, enum iof_events_lost_cause cause, uint64_t *ret);

/*
 * Checks for the agent's reconciler (verify.c). report(ctx, what, detail) is called for each
 * thing found changed, what being "link", "pin", "endpoint_entry", "policy_entry" or
 * "inactive_slot". dp_check_links() attaches detached hooks again, dp_check_pins() pins
 * again what was unpinned, dp_check_endpoint_entries() rewrites the active slot's endpoint
 * entries that differ; each returns how many it repaired. dp_verify_slots() compares the
 * slots' policy tries with what was written: 1 when the active slot differs (the caller
 * writes the revision again: dp_apply_again()), else 0; a difference in the inactive slot
 * makes the next apply write it whole. It reads the maps against a copy of what they should
 * hold, without holding up an apply, and returns -EAGAIN (nothing concluded) when an apply
 * changed the slot it read meanwhile; hold = true keeps applies waiting until it is done
 * (for a caller whose tries keep being overtaken).
 */
typedef void (*dp_report_fn)(void *ctx, const char *what, const char *detail);
int dp_check_links(struct datapath *dp, dp_report_fn report, void *ctx);
int dp_check_pins(struct datapath *dp, dp_report_fn report, void *ctx);
int dp_check_endpoint_entries(struct datapath *dp, dp_report_fn report, void *ctx);
int dp_verify_slots(struct datapath *dp, bool hold, dp_report_fn report, void *ctx);
/*
 * dp_check_slot_maps() - the other maps a verdict depends on (verify_maps.c), repaired where
 * they differ from what this process wrote: iof_state (what "state": the slot and revision it
 * activated), the active slot's iof_any_group entries ("any_group"), its prefilter deny-lists
 * ("prefilter"), iof_config ("config") and iof_failsafe ("failsafe"). Returns how many.
 */
int dp_check_slot_maps(struct datapath *dp, dp_report_fn report, void *ctx);
/* False while the active slot's policy is known to differ from what was written. */
bool dp_slot_trusted(const struct datapath *dp);
/*
 * Enforced: hooks attached and alive, entry in the active slot, slot verified; else why not.
 * *ret_ifindex: the interface index it was checked on (0: none).
 */
bool dp_endpoint_enforced(struct datapath *dp, const char *name, uint32_t *ret_ifindex,
			  char *reason, size_t len);

/*
 * dp_hook_pinned() - whether the hook ("tc/<ifname>/ingress", "tc/<ifname>/egress",
 * "xdp/<ifname>") holds a pinned attachment, and the id of the program behind its link (0 for
 * a legacy tc filter, which has no link).
 */
bool dp_hook_pinned(struct datapath *dp, const char *hook, uint32_t *ret_prog_id);

/* One flow at one endpoint, for dp_trace_live(). */
struct dp_trace_flow {
	const char *interface, *cgroup; /* the endpoint's (NULL: none) */
	enum policy_direction direction;
	const struct policy_prefix *local, *remote; /* host addresses of one family */
	uint8_t proto;
	uint16_t dport; /* 0: any (protocols without ports) */
};

struct dp_trace_live {
	bool attached;	    /* the endpoint has its iof_endpoints entry in the active slot */
	uint32_t attach_id; /* of that entry (ifindex, or IOF_EP_CGROUP_BIT | cgroup id) */
	struct iof_endpoint_val val;
	size_t ct_entries;    /* unexpired conntrack entries of the flow (any source port) */
	struct iof_ct_val ct; /* the most recently seen one */
	uint64_t ct_idle_ns;
};

/*
 * dp_trace_live() - what the live maps hold for flow f: the endpoint's entry in the active
 * slot (found by its interface's ifindex or its cgroup's id) and the flow's conntrack entries.
 * Map reads only (safe from any thread). Return: 0.
 */
int dp_trace_live(struct datapath *dp, const struct dp_trace_flow *f, struct dp_trace_live *ret);

/* "policy", "default", ...: the name metrics and flow events give a drop reason. */
const char *dp_drop_reason_name(unsigned reason);

/* Closes file descriptors; pinned state keeps enforcing (the agent's SIGTERM path). */
void dp_close(struct datapath *dp);

/* Detaches every program and removes every pin under pin_dir (uninstall, tests). */
int dp_cleanup(const char *pin_dir, char *err, size_t err_len);

#endif /* IOFENCE_AGENT_DATAPATH_H */
