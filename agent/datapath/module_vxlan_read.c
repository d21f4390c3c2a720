// SPDX-License-Identifier: Apache-2.0
/*
 * vxlan-trace's reader: the tables and counters summed over CPUs, for GetTunnels, metrics and
 * the module's line in GetStatus (bpf/vxlan_trace.h explains how evictions are counted).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "dp_internal.h"
#include "module_vxlan.h"
#include "percpu.h"

/* Every statistic summed over the CPUs; one that cannot be read counts 0. */
static int stats_sum(int fd, uint64_t out[VXT_STAT_MAX])
{
	for (__u32 i = 0; i < VXT_STAT_MAX; i++) {
		int r = dp_percpu_sum(fd, &i, sizeof(out[i]), &out[i]);

		if (r == -ENOMEM)
			return r;
	}
	return 0;
}

/* A per-CPU value summed: packets and bytes added, the earliest first and latest last seen. */
static void fold(const struct vxt_count *v, int ncpu, struct vxt_count *ret)
{
	memset(ret, 0, sizeof(*ret));
	for (int c = 0; c < ncpu; c++) {
		ret->packets += v[c].packets;
		ret->bytes += v[c].bytes;
		if (v[c].first_seen && (!ret->first_seen || v[c].first_seen < ret->first_seen))
			ret->first_seen = v[c].first_seen;
		if (v[c].last_seen > ret->last_seen)
			ret->last_seen = v[c].last_seen;
	}
}

/* Every entry of a per-CPU LRU hash into a growing array of rows {key, summed count}. */
static int read_table(int fd, size_t key_size, void **rows, size_t *n_rows)
{
	size_t row = key_size + sizeof(struct vxt_count), cap = 0, n = 0, walked = 0;
	uint8_t key[sizeof(struct vxt_inner_key)], next[sizeof(struct vxt_inner_key)];
	int ncpu = libbpf_num_possible_cpus();
	struct vxt_count *per_cpu;
	uint8_t *buf = NULL;
	void *prev = NULL;

	if (ncpu <= 0)
		return -EINVAL;
	per_cpu = calloc((size_t)ncpu, sizeof(*per_cpu));
	if (!per_cpu)
		return -ENOMEM;
	/* Bounded: a key evicted under the walk restarts it from the first key. */
	while (bpf_map_get_next_key(fd, prev, next) == 0 && walked++ < (VXT_CAPACITY_MAX << 1)) {
		memcpy(key, next, key_size);
		prev = key;
		if (n == cap) {
			size_t c = cap ? cap * 2 : 64;
			void *p = realloc(buf, c * row);

			if (!p) {
				free(buf);
				free(per_cpu);
				return -ENOMEM;
			}
			buf = p;
			cap = c;
		}
		if (bpf_map_lookup_elem(fd, key, per_cpu))
			continue; /* evicted meanwhile */
		memcpy(buf + n * row, key, key_size);
		fold(per_cpu, ncpu, (struct vxt_count *)(buf + n * row + key_size));
		n++;
	}
	free(per_cpu);
	*rows = buf;
	*n_rows = n;
	return 0;
}

static int by_bytes_desc(const void *a, const void *b)
{
	const struct vxt_inner_row *x = a, *y = b;

	if (x->count.bytes != y->count.bytes)
		return x->count.bytes < y->count.bytes ? 1 : -1;
	return x->count.packets < y->count.packets ? 1 : x->count.packets > y->count.packets ? -1 : 0;
}

static uint64_t evictions(uint64_t inserts, size_t entries)
{
	return inserts > entries ? inserts - entries : 0;
}

int vxt_read_fds(int tunnels_fd, int inner_fd, int stats_fd, struct vxt_snapshot *ret, char *err,
		 size_t len)
{
	_Static_assert(sizeof(struct vxt_tunnel_row) ==
			   sizeof(struct vxt_tunnel_key) + sizeof(struct vxt_count),
		       "rows are packed {key, count}");
	_Static_assert(sizeof(struct vxt_inner_row) ==
			   sizeof(struct vxt_inner_key) + sizeof(struct vxt_count),
		       "rows are packed {key, count}");
	uint64_t before[VXT_STAT_MAX];
	struct timespec rt, bt;
	int r = 0;

	memset(ret, 0, sizeof(*ret));
	/* An insert during the walk would look like an eviction: walk again until none. */
	for (int attempt = 0; attempt < 4; attempt++) {
		vxt_snapshot_free(ret);
		r = stats_sum(stats_fd, before);
		if (!r)
			r = read_table(tunnels_fd, sizeof(struct vxt_tunnel_key),
				       (void **)&ret->tunnels, &ret->n_tunnels);
		if (!r && inner_fd >= 0)
			r = read_table(inner_fd, sizeof(struct vxt_inner_key), (void **)&ret->inner,
				       &ret->n_inner);
		if (!r)
			r = stats_sum(stats_fd, ret->stats);
		if (r)
			return dp_err(err, len, r, "vxlan-trace: read tables: %s", strerror(-r));
		if (before[VXT_STAT_TUNNEL_INSERTS] == ret->stats[VXT_STAT_TUNNEL_INSERTS] &&
		    before[VXT_STAT_INNER_INSERTS] == ret->stats[VXT_STAT_INNER_INSERTS])
			break;
	}
	ret->tunnel_evictions = evictions(before[VXT_STAT_TUNNEL_INSERTS], ret->n_tunnels);
	ret->inner_evictions =
	    inner_fd >= 0 ? evictions(before[VXT_STAT_INNER_INSERTS], ret->n_inner) : 0;
	qsort(ret->inner, ret->n_inner, sizeof(*ret->inner), by_bytes_desc);
	clock_gettime(CLOCK_REALTIME, &rt);
	clock_gettime(CLOCK_MONOTONIC, &bt);
	ret->mono_to_unix_ns = ((int64_t)rt.tv_sec - bt.tv_sec) * 1000000000LL +
			       ((int64_t)rt.tv_nsec - bt.tv_nsec);
	return 0;
}

void vxt_snapshot_free(struct vxt_snapshot *s)
{
	free(s->tunnels);
	free(s->inner);
	s->tunnels = NULL;
	s->inner = NULL;
	s->n_tunnels = s->n_inner = 0;
}

/* Keys of a table, counted without reading their per-CPU values (bounded like read_table). */
static uint64_t count_keys(int fd)
{
	uint8_t key[sizeof(struct vxt_inner_key)], next[sizeof(struct vxt_inner_key)];
	uint64_t n = 0;
	void *prev = NULL;

	while (n < (VXT_CAPACITY_MAX << 1) && bpf_map_get_next_key(fd, prev, next) == 0) {
		memcpy(key, next, sizeof(key));
		prev = key;
		n++;
	}
	return n;
}

int vxt_count_fds(int tunnels_fd, int inner_fd, int stats_fd, struct vxt_counts *ret)
{
	uint64_t before[VXT_STAT_MAX], after[VXT_STAT_MAX];
	int r;

	memset(ret, 0, sizeof(*ret));
	/* As in vxt_read_fds: an insert during the walk would look like an eviction. */
	for (int attempt = 0; attempt < 4; attempt++) {
		r = stats_sum(stats_fd, before);
		if (r)
			return r;
		ret->tunnel_entries = count_keys(tunnels_fd);
		ret->inner_entries = count_keys(inner_fd);
		r = stats_sum(stats_fd, after);
		if (r)
			return r;
		if (before[VXT_STAT_TUNNEL_INSERTS] == after[VXT_STAT_TUNNEL_INSERTS] &&
		    before[VXT_STAT_INNER_INSERTS] == after[VXT_STAT_INNER_INSERTS])
			break;
	}
	ret->tunnel_evictions = evictions(before[VXT_STAT_TUNNEL_INSERTS], ret->tunnel_entries);
	ret->inner_evictions = evictions(before[VXT_STAT_INNER_INSERTS], ret->inner_entries);
	return 0;
}
