// SPDX-License-Identifier: Apache-2.0
/*
 * Reading the datapath for metrics and flow logs: counters (per identity through the counter
 * ledger, drops per reason), fill levels of
 * the active slot, and the verdict event ring buffer. Only map reads: safe from a thread other
 * than the apply thread.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "dp_internal.h"
#include "percpu.h"

int dp_read_rule_total(struct datapath *dp, uint64_t identity, struct iof_counter *ret)
{
	return dp_ledger_rule_total(&dp->ledger, identity, ret);
}

int dp_read_endpoint_total(struct datapath *dp, uint64_t identity, enum iof_ep_counter_kind kind,
			   struct iof_counter *ret)
{
	return dp_ledger_endpoint_total(&dp->ledger, identity, kind, ret);
}

int dp_read_endpoint_counter(struct datapath *dp, uint32_t endpoint_index,
			     enum iof_ep_counter_kind kind, struct iof_counter *ret)
{
	uint64_t id =
	    dp_ledger_endpoint_at(&dp->ledger, (uint8_t)dp_active_slot(dp), endpoint_index);

	*ret = (struct iof_counter){0};
	return id ? dp_ledger_endpoint_total(&dp->ledger, id, kind, ret) : -ENOENT;
}

uint64_t dp_counter_errors(struct datapath *dp)
{
	uint64_t n;

	pthread_mutex_lock(&dp->ledger.lock);
	n = dp->ledger.errors;
	pthread_mutex_unlock(&dp->ledger.lock);
	return n;
}

int dp_read_drops(struct datapath *dp, enum iof_drop_reason reason, struct iof_counter *ret)
{
	__u32 key = (__u32)reason;

	if ((unsigned)reason >= IOF_DROP_MAX)
		return -EINVAL;
	return dp_percpu_sum(dp->fds.drops, &key, sizeof(*ret), ret);
}

void dp_fill_publish(struct datapath *dp)
{
	pthread_mutex_lock(&dp->fill_lock);
	dp->fill_shown.endpoints = dp->fill.endpoints;
	dp->fill_shown.remote4 = dp->fill.remote4;
	dp->fill_shown.remote6 = dp->fill.remote6;
	dp->fill_shown.policy = dp->fill.policy;
	dp->fill_shown.prefilter = dp->fill.prefilter;
	dp->fill_shown_valid = dp->fill_valid;
	pthread_mutex_unlock(&dp->fill_lock);
}

/* The active slot's entries, counted in the maps: adopted pins, nothing applied yet. */
static void count_active_slot(struct datapath *dp, struct dp_fill *ret)
{
	int slot = (int)dp_active_slot(dp);
	/* the host tables count as remote entries, the listed ports as policy entries */
	size_t *count[LAYOUT_TABLES] = {
	    [LAYOUT_REMOTE4] = &ret->remote4, [LAYOUT_REMOTE6] = &ret->remote6,
	    [LAYOUT_POLICY] = &ret->policy,   [LAYOUT_HOST4] = &ret->remote4,
	    [LAYOUT_HOST6] = &ret->remote6,   [LAYOUT_ANY_PORTS] = &ret->policy};

	/* failures leave 0: the fill level is a metric, not a state */
	ret->endpoints =
	    dp_count_slot_keys(dp->fds.endpoints, sizeof(struct iof_endpoint_key), slot);
	ret->remote4 = ret->remote6 = ret->policy = 0;
	for (int k = 0; k < LAYOUT_TABLES; k++) {
		size_t n = 0;

		dp_slot_entry_count(&dp->fds, (enum layout_table_id)k, (uint8_t)slot, &n);
		*count[k] += n;
	}
	ret->prefilter =
	    dp_count_slot_keys(dp->fds.prefilter4, sizeof(struct iof_prefilter4_key), slot) +
	    dp_count_slot_keys(dp->fds.prefilter6, sizeof(struct iof_prefilter6_key), slot);
}

int dp_read_fill(struct datapath *dp, struct dp_fill *ret)
{
	bool valid;

	pthread_mutex_lock(&dp->fill_lock);
	*ret = dp->fill_shown;
	valid = dp->fill_shown_valid;
	pthread_mutex_unlock(&dp->fill_lock);
	if (!valid) {
		struct dp_fill slot = {0};

		count_active_slot(dp, &slot);
		slot.ct4 = ret->ct4;
		slot.ct6 = ret->ct6;
		*ret = slot;
	}
	return 0;
}

/* Entries in a hash map: batches of keys where the kernel has them, else key by key. */
static size_t count_entries(int fd)
{
	struct bpf_map_info info = {0};
	__u32 info_len = sizeof(info), n, batch = 4096;
	size_t total = 0;
	void *keys = NULL, *vals = NULL, *in = NULL, *out = NULL;
	int r = 0;

	if (fd < 0 || bpf_obj_get_info_by_fd(fd, &info, &info_len))
		return 0;
	/* zeroed: valgrind does not see the kernel fill them in a batch lookup */
	keys = calloc(batch, info.key_size);
	vals = calloc(batch, info.value_size);
	out = calloc(1, info.key_size > 8 ? info.key_size : 8);
	in = calloc(1, info.key_size > 8 ? info.key_size : 8);
	if (!keys || !vals || !out || !in)
		goto out;
	for (bool first = true;; first = false) {
		n = batch;
		r = bpf_map_lookup_batch(fd, first ? NULL : in, out, keys, vals, &n, NULL);
		if (r && errno != ENOENT)
			break;
		total += n;
		if (r) { /* ENOENT: that was the last batch */
			r = 0;
			break;
		}
		memcpy(in, out, info.key_size > 8 ? info.key_size : 8);
	}
	if (r) /* no batch operations on this map or kernel */
		total = dp_count_slot_keys(fd, info.key_size, -1);
out:
	free(keys);
	free(vals);
	free(in);
	free(out);
	return total;
}

void dp_count_conntrack(struct datapath *dp)
{
	size_t ct4 = count_entries(dp->fds.ct4), ct6 = count_entries(dp->fds.ct6);

	pthread_mutex_lock(&dp->fill_lock);
	dp->fill_shown.ct4 = ct4;
	dp->fill_shown.ct6 = ct6;
	pthread_mutex_unlock(&dp->fill_lock);
}

static int on_event(void *ctx, void *data, size_t size)
{
	struct datapath *dp = ctx;

	if (size >= sizeof(struct iof_event) && dp->event_cb)
		dp->event_cb(data, dp->event_seq, dp->event_ctx);
	dp->event_seq++;
	return 0;
}

static int events_open(struct datapath *dp)
{
	long page = sysconf(_SC_PAGESIZE);
	void *cons;

	if (dp->events)
		return 0;
	if (dp->fds.events < 0)
		return -ENOENT;
	/* the consumer page, read-only: where the next record starts (events_next_seq) */
	cons = mmap(NULL, (size_t)page, PROT_READ, MAP_SHARED, dp->fds.events, 0);
	if (cons == MAP_FAILED)
		return -errno;
	dp->events = ring_buffer__new(dp->fds.events, on_event, dp, NULL);
	if (!dp->events) {
		int r = -errno;

		munmap(cons, (size_t)page);
		return r;
	}
	dp->events_consumer = cons;
	dp->events_consumer_len = (size_t)page;
	return 0;
}

/*
 * Every record is IOF_EVENT_RECORD_BYTES and none is discarded, so the consumer position (kept
 * by the pinned ring, through agent restarts) counts the records ever read.
 */
static uint64_t next_seq(const struct datapath *dp)
{
	return __atomic_load_n((const uint64_t *)dp->events_consumer, __ATOMIC_ACQUIRE) /
		   IOF_EVENT_RECORD_BYTES +
	       1;
}

int dp_events_next_seq(struct datapath *dp, uint64_t *ret)
{
	int r = events_open(dp);

	if (!r)
		*ret = next_seq(dp);
	return r;
}

int dp_events_fd(struct datapath *dp)
{
	int r = events_open(dp);

	return r ? r : ring_buffer__epoll_fd(dp->events);
}

int dp_events_consume(struct datapath *dp, dp_event_fn cb, void *ctx)
{
	int r = events_open(dp);

	if (r)
		return r;
	dp->event_seq = next_seq(dp); /* no one else consumes: the first record's */
	dp->event_cb = cb;
	dp->event_ctx = ctx;
	r = ring_buffer__consume(dp->events);
	dp->event_cb = NULL;
	return r < 0 ? r : 0;
}

int dp_events_lost(struct datapath *dp, enum iof_events_lost_cause cause, uint64_t *ret)
{
	__u32 key = (__u32)cause;

	*ret = 0;
	if ((unsigned)cause >= IOF_EVLOST_MAX || dp->fds.events_lost < 0)
		return -EINVAL;
	return dp_percpu_sum(dp->fds.events_lost, &key, sizeof(*ret), ret);
}
