// SPDX-License-Identifier: Apache-2.0
/*
 * Retiring a slot after a flip (slot_retire.h): a thread waits for one RCU grace period after
 * each flip; writers of the inactive slot wait for that thread, or for the grace period
 * themselves when it could not be started.
 */
#include <errno.h>
#include <linux/membarrier.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "slot_retire.h"

static uint64_t now_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000ull + (uint64_t)ts.tv_nsec / 1000;
}

/*
 * A private array of maps: the kernel makes every update of one wait until the BPF programs
 * that were running have ended ("maybe_wait_bpf_programs": so user space knows no program
 * still uses the old value), which is exactly the wait a retired slot needs.
 */
static int barrier_open(struct dp_retire *r)
{
	LIBBPF_OPTS(bpf_map_create_opts, opts);
	int inner = bpf_map_create(BPF_MAP_TYPE_ARRAY, "iof_gp_inner", 4, 4, 1, NULL), outer;

	if (inner < 0)
		return -errno;
	opts.inner_map_fd = inner;
	outer = bpf_map_create(BPF_MAP_TYPE_ARRAY_OF_MAPS, "iof_gp_barrier", 4, 4, 1, &opts);
	if (outer < 0) {
		int err = -errno;

		close(inner);
		return err;
	}
	r->barrier_inner_fd = inner;
	r->barrier_fd = outer;
	return 0;
}

/* Returns once every BPF program run that began before the call has ended. */
static void wait_grace_period(struct dp_retire *r)
{
	const struct timespec pause = {.tv_nsec = 20 * 1000000L};
	__u32 key = 0;

	if (r->barrier_fd >= 0 &&
	    !bpf_map_update_elem(r->barrier_fd, &key, &r->barrier_inner_fd, BPF_ANY))
		return;
	/* membarrier's global command is synchronize_rcu() (not with nohz_full) */
	if (!syscall(SYS_membarrier, MEMBARRIER_CMD_GLOBAL, 0, 0))
		return;
	/* no way to ask the kernel: a run of these programs takes microseconds */
	nanosleep(&pause, NULL);
}

/* Under r->lock: waits for the grace period of flips up to now, outside the lock. */
static void retire_now(struct dp_retire *r)
{
	uint64_t target = r->flips, t0 = now_usec(), dt;

	pthread_mutex_unlock(&r->lock);
	wait_grace_period(r);
	dt = now_usec() - t0;
	pthread_mutex_lock(&r->lock);
	if (target > r->quiet)
		r->quiet = target;
	r->fig.grace_periods++;
	r->fig.grace_usec_last = dt;
	r->fig.grace_usec_total += dt;
	if (dt > r->fig.grace_usec_max)
		r->fig.grace_usec_max = dt;
	pthread_cond_broadcast(&r->cond);
}

static void *retire_main(void *arg)
{
	struct dp_retire *r = arg;

	pthread_mutex_lock(&r->lock);
	while (!r->stop) {
		if (r->quiet >= r->flips)
			pthread_cond_wait(&r->cond, &r->lock);
		else
			retire_now(r);
	}
	pthread_mutex_unlock(&r->lock);
	return NULL;
}

void dp_retire_start(struct dp_retire *r)
{
	memset(r, 0, sizeof(*r));
	r->barrier_fd = r->barrier_inner_fd = -1;
	pthread_mutex_init(&r->lock, NULL);
	pthread_cond_init(&r->cond, NULL);
	/*
	 * The slot that is inactive now may have been flipped away from just before this process
	 * started (by the agent it replaces): wait for that flip's readers too.
	 */
	r->flips = 1;
	barrier_open(r); /* without it: membarrier, or a pause (wait_grace_period) */
	r->running = !pthread_create(&r->thread, NULL, retire_main, r);
}

void dp_retire_stop(struct dp_retire *r)
{
	pthread_mutex_lock(&r->lock);
	r->stop = true;
	pthread_cond_broadcast(&r->cond);
	pthread_mutex_unlock(&r->lock);
	if (r->running)
		pthread_join(r->thread, NULL);
	r->running = false;
	if (r->barrier_fd >= 0)
		close(r->barrier_fd);
	if (r->barrier_inner_fd >= 0)
		close(r->barrier_inner_fd);
	r->barrier_fd = r->barrier_inner_fd = -1;
	pthread_cond_destroy(&r->cond);
	pthread_mutex_destroy(&r->lock);
}

void dp_retire_flipped(struct dp_retire *r)
{
	pthread_mutex_lock(&r->lock);
	r->flips++;
	pthread_cond_broadcast(&r->cond);
	pthread_mutex_unlock(&r->lock);
}

void dp_retire_wait(struct dp_retire *r)
{
	uint64_t t0;

	pthread_mutex_lock(&r->lock);
	if (r->quiet >= r->flips) {
		pthread_mutex_unlock(&r->lock);
		return;
	}
	t0 = now_usec();
	while (r->quiet < r->flips) {
		if (r->running)
			pthread_cond_wait(&r->cond, &r->lock);
		else
			retire_now(r);
	}
	r->fig.writes_waited++;
	r->fig.wait_usec_total += now_usec() - t0;
	pthread_mutex_unlock(&r->lock);
}

void dp_retire_read(struct dp_retire *r, struct dp_retire_figures *ret)
{
	pthread_mutex_lock(&r->lock);
	*ret = r->fig;
	ret->flips = r->flips;
	ret->retired = r->quiet;
	pthread_mutex_unlock(&r->lock);
}
