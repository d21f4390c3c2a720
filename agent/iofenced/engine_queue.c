// SPDX-License-Identifier: Apache-2.0
/*
 * The apply worker's intake and loop: jobs queued by other parts, applies handed to the
 * reader first (reader.h), the worker taking the next ready job, idle guard checks and heap
 * trims between jobs, and the worker's start and stop.
 */
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#include <grpc/status.h>

#include "agent/datapath/datapath.h"
#include "engine.h"
#include "engine_internal.h"
#include "follower.h"
#include "failsafe.h"
#include "guard.h"
#include "journal.h"
#include "log.h"
#include "policy/errors.h"
#include "policy/parse.h"
#include "policy/pb.h"
#include "policy/write.h"
#include "reader.h"
#include "warnings.h"
#include "store/store.h"

/* The heap is trimmed after applies have paused this long. */
#define TRIM_IDLE_MS 200

void engine_submit(struct engine *e, struct job *job)
{
	job->next = NULL;
	pthread_mutex_lock(&e->q_lock);
	if (e->q_tail)
		e->q_tail->next = job;
	else
		e->q_head = job;
	e->q_tail = job;
	if (job->kind == JOB_APPLY && e->reader_stopped) {
		job_set_status(job, GRPC_STATUS_UNAVAILABLE, "agent is shutting down");
		job->read_done = true;
	} else if (job->kind == JOB_APPLY && e->reader) {
		reader_submit(e->reader, job); /* queued before engine_run: submitted there */
	}
	pthread_cond_signal(&e->q_cond);
	pthread_mutex_unlock(&e->q_lock);
}

/* The reader is done with job (a reader thread): the worker may take it. */
static void read_done(void *ctx, struct job *job)
{
	struct engine *e = ctx;

	pthread_mutex_lock(&e->q_lock);
	job->read_done = true;
	pthread_cond_broadcast(&e->q_cond);
	pthread_mutex_unlock(&e->q_lock);
}

/*
 * Unlinks and returns the next job the worker may take (under q_lock): the first one queued
 * that is ready (an apply once its document is read). An apply read goes ahead of one still
 * being read: applies from different clients have no order of their own, and a client that
 * waits for each answer gets its applies in its order; the worker checks each revision
 * against the store when it takes the apply, so revisions still only grow.
 */
static struct job *take_ready(struct engine *e)
{
	struct job *prev = NULL;

	for (struct job *j = e->q_head; j; prev = j, j = j->next) {
		if (j->kind == JOB_APPLY && !j->read_done)
			continue;
		if (prev)
			prev->next = j->next;
		else
			e->q_head = j->next;
		if (e->q_tail == j)
			e->q_tail = prev;
		j->next = NULL;
		return j;
	}
	return NULL;
}

static void do_cgroup(struct engine *e, struct job *job)
{
	int r;

	if (!e->dp)
		return;
	r = dp_cgroup_changed(e->dp, job->cgroup, job->up);
	if (r)
		log_warn("cgroup %s %s: %s", job->cgroup, job->up ? "appeared" : "went away",
			 strerror(-r));
	else
		log_info("cgroup %s %s", job->cgroup, job->up ? "appeared" : "went away");
}

/* Stops the reader: the reads in progress finish, later applies are refused at once. */
static void stop_reader(struct engine *e)
{
	struct reader *reader;

	pthread_mutex_lock(&e->q_lock);
	reader = e->reader;
	e->reader = NULL;
	e->reader_stopped = true;
	pthread_mutex_unlock(&e->q_lock);
	reader_stop(reader);
}

static void *apply_main(void *arg)
{
	struct engine *e = arg;
	struct job *job;

	for (;;) {
		pthread_mutex_lock(&e->q_lock);
		/* idle while nothing is ready: the queue is empty or its applies are being read */
		while (!(job = take_ready(e)) && !(e->q_stop && !e->q_head)) {
			struct timespec idle;

			int guard_ms = guard_next_ms(e->guard);

			if (!guard_ms) {
				pthread_mutex_unlock(&e->q_lock);
				guard_tick(e->guard);
				pthread_mutex_lock(&e->q_lock);
				continue;
			}
			if (!e->trim_pending && guard_ms < 0) {
				pthread_cond_wait(&e->q_cond, &e->q_lock);
				continue;
			}
			if (!e->trim_pending) { /* sleep until the guard's next check */
				clock_gettime(CLOCK_MONOTONIC, &idle);
				idle.tv_nsec += guard_ms * 1000000L;
				idle.tv_sec += idle.tv_nsec / 1000000000L;
				idle.tv_nsec %= 1000000000L;
				pthread_cond_timedwait(&e->q_cond, &e->q_lock, &idle);
				continue;
			}
			/*
			 * A large document's parse and compile leave free heap behind. Give it
			 * back once applies pause: trimming after each one would make the next
			 * fault the same pages in again, which costs milliseconds per apply.
			 */
			clock_gettime(CLOCK_MONOTONIC, &idle);
			idle.tv_nsec += TRIM_IDLE_MS * 1000000L;
			idle.tv_sec += idle.tv_nsec / 1000000000L;
			idle.tv_nsec %= 1000000000L;
			if (pthread_cond_timedwait(&e->q_cond, &e->q_lock, &idle) == ETIMEDOUT &&
			    !e->q_head) {
				e->trim_pending = false;
				pthread_mutex_unlock(&e->q_lock);
				malloc_trim(0);
				{
					struct mallinfo2 mi = mallinfo2();

					log_debug(
					    "heap trimmed: %zu KiB in use, %zu KiB free, %zu KiB "
					    "mmapped",
					    mi.uordblks >> 10, mi.fordblks >> 10, mi.hblkhd >> 10);
				}
				pthread_mutex_lock(&e->q_lock);
			}
		}
		pthread_mutex_unlock(&e->q_lock);
		if (!job)
			break; /* stopping and drained */
		if (job->kind == JOB_CGROUP) {
			if (!e->q_stop)
				do_cgroup(e, job);
			job_free(job);
			guard_refresh(e->guard);
			continue;
		}
		struct snapshot *retired = NULL;

		if (e->q_stop)
			job_set_status(job, GRPC_STATUS_UNAVAILABLE, "agent is shutting down");
		else if (job->doc && job_gone(job, engine_now_usec()))
			job_refuse_unstarted(job);
		else if (job->kind == JOB_DELTA)
			retired = engine_apply_delta(e, job);
		else if (job->read_start_usec) /* else not started: the reader's answer is set */
			retired = engine_apply_document(e, job);
		guard_refresh(e->guard);
		job->complete(job);

		snapshot_unref(retired);
		engine_rebase_journal(e);
	}
	return NULL;
}

int engine_run(struct engine *e)
{
	struct reader *reader = reader_start(read_done, e);
	int r;

	if (!reader)
		return -errno;
	pthread_mutex_lock(&e->q_lock);
	e->reader = reader;
	for (struct job *j = e->q_head; j; j = j->next) /* applies queued before the start */
		if (j->kind == JOB_APPLY && !j->read_done)
			reader_submit(reader, j);
	pthread_mutex_unlock(&e->q_lock);
	r = -pthread_create(&e->apply_thread, NULL, apply_main, e);
	e->running = !r;
	if (r)
		stop_reader(e);
	return r;
}

void engine_stop(struct engine *e)
{
	if (!e || !e->running)
		return;
	e->running = false;
	stop_reader(e); /* every queued apply is then read, or refused */
	pthread_mutex_lock(&e->q_lock);
	e->q_stop = true;
	pthread_cond_broadcast(&e->q_cond);
	pthread_mutex_unlock(&e->q_lock);
	pthread_join(e->apply_thread, NULL);
}
