// SPDX-License-Identifier: Apache-2.0
/*
 * The read stage of an apply: a pool of threads that parse and validate documents (source
 * text or PolicyDocument message) off the apply worker, each within the read budget. The pool
 * grows while every thread is busy, so a small document does not wait for a large one.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <grpc/status.h>

#include "agent/rpc/decode.h"
#include "log.h"
#include "policy/parse.h"
#include "policy/pb.h"
#include "read_memory.h"
#include "reader.h"

struct reader {
	void (*done)(void *ctx, struct job *job);
	void *ctx;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct job *head, *tail; /* through job->read_next */
	bool stop;
	pthread_t threads[READER_THREADS_MAX];
	unsigned n_threads; /* under lock once started */
	unsigned idle;	    /* threads waiting for a job */
	unsigned queued;    /* jobs waiting for a thread */
	struct read_memory memory; /* what the reads in progress may hold together */
};

/*
 * Decodes job's request message within the read budget (clock). 0, or -1 with job's status
 * set. job->req is set either way (an empty request when the message did not decode), as the
 * worker reads it.
 */
static int decode(struct job *job, const struct read_clock *clock)
{
	struct policy_errors where = {0};
	uint64_t cpu0 = thread_cpu_usec();
	int err;

	job->req = (Iofence__V1__ApplyRequest *)rpc_decode_until(
	    &iofence__v1__apply_request__descriptor, job->request_bytes, job->request, clock);
	err = errno;
	free(job->request);
	job->request = NULL;
	if (job->req)
		return 0;
	job->req = calloc(1, sizeof(*job->req));
	if (!job->req) {
		job_set_status(job, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
		job->read_start_usec = 0; /* not started: the worker has nothing to read */
		return -1;
	}
	iofence__v1__apply_request__init(job->req);
	if (err == ETIME) /* where it stopped: in the message, before any document */
		policy_errors_add(&where, "<request>", 0, "message",
				  "not decoded within the time allowed (a %zu-byte message)",
				  job->request_bytes);
	if (err == ETIME && (job_gone(job, monotonic_usec()) ||
			     thread_cpu_usec() >= clock->cpu_by_usec))
		job_refuse_late(job, &where, monotonic_usec() - job->read_start_usec);
	else if (err == ETIME)
		job_refuse_slow(job, &where, thread_cpu_usec() - cpu0 + 1);
	else if (err == E2BIG)
		job_set_status(job, GRPC_STATUS_INVALID_ARGUMENT,
			       "request message refused: decoded, its %zu bytes would take more "
			       "than %d times as much memory (or %zu MiB)",
			       job->request_bytes, RPC_DECODE_FACTOR, RPC_DECODE_MAX >> 20);
	else
		job_set_status(job, GRPC_STATUS_INVALID_ARGUMENT, "malformed request message");
	if (err != ETIME)
		log_warn("apply: %s", job->details);
	policy_errors_free(&where);
	return -1;
}

/*
 * Reads job's document on the calling thread: job->doc, or its status and details (a client
 * gone, a message that does not decode, ApplyRequest misuse, INVALID_ARGUMENT with the
 * errors, the budget passed).
 */
static void read_document(struct job *job)
{
	const Iofence__V1__ApplyRequest *req;
	const char *name;
	struct policy_errors errs = {0};
	struct policy_document *doc = NULL;
	const uint64_t budget = APPLY_READ_BUDGET_MS * 1000ull;
	const uint64_t wall_min_cpu = APPLY_READ_WALL_MIN_CPU_MS * 1000ull;
	uint64_t t0 = monotonic_usec(), cpu0 = thread_cpu_usec(), used;
	/* the wall clock stops only a read that has had wall_min_cpu (job.h) */
	struct read_clock clock = {.deadline_usec = job->deadline_usec,
				   .cpu_by_usec = cpu0 + budget,
				   .wall_by_usec = job->read_by_usec,
				   .wall_cpu_usec = cpu0 + wall_min_cpu};
	struct policy_parse_stop stop = {.deadline_usec = job->deadline_usec,
					 .wall_by_usec = job->read_by_usec};
	int r;

	if (job_gone(job, t0)) {
		job_refuse_unstarted(job);
		return;
	}
	job->read_start_usec = t0;
	if (job->read_by_usec && t0 >= job->read_by_usec) {
		job_refuse_slow(job, NULL, 0);
		job->read_start_usec = 0; /* not started: the worker has nothing to read */
		return;
	}
	if (job->request && decode(job, &clock))
		goto out;
	req = job->req;
	name = req->source_name && *req->source_name ? req->source_name : NULL;
	/* the parse has what the decode left of the CPU budget (1 us: it stops at once) */
	used = thread_cpu_usec() - cpu0;
	stop.cpu_usec = used < budget ? budget - used : 1;
	stop.wall_min_cpu_usec = used < wall_min_cpu ? wall_min_cpu - used : 0;
	if (req->document && req->source && *req->source) {
		job_set_status(job, GRPC_STATUS_INVALID_ARGUMENT,
			       "ApplyRequest: set either document or source, not both");
		goto out;
	}
	if (!req->document && req->document_source && *req->document_source) {
		job_set_status(job, GRPC_STATUS_INVALID_ARGUMENT,
			       "ApplyRequest: document_source goes with document");
		goto out;
	}
	if (req->source && *req->source) {
		size_t len = strlen(req->source);

		log_debug("apply: reading %s (%zu bytes)", name ? name : "<source>", len);
		r = policy_parse_buffer_until(req->source, len, name ? name : "<source>", &stop,
					      &doc, &errs);
	} else if (req->document) {
		log_debug("apply: reading %s (a PolicyDocument)", name ? name : "<grpc>");
		r = policy_from_pb_until(req->document, name ? name : "<grpc>", &stop, &doc,
					 &errs);
	} else {
		job_set_status(job, GRPC_STATUS_INVALID_ARGUMENT,
			       "ApplyRequest: neither document nor source is set");
		goto out;
	}
	job->read_cpu_usec = thread_cpu_usec() - cpu0;
	if (r == -ETIME && !job_gone(job, monotonic_usec()) && job->read_cpu_usec < budget)
		job_refuse_slow(job, &errs, job->read_cpu_usec);
	else if (r == -ETIME || (r == 0 && job->read_cpu_usec >= budget))
		job_refuse_late(job, &errs, monotonic_usec() - t0);
	else if (r == -EINVAL) {
		job_set_validation_errors(job, &errs);
		log_warn("apply refused: %zu validation error%s", errs.n + errs.dropped,
			 errs.n + errs.dropped == 1 ? "" : "s");
	} else if (r) {
		job_set_status(job, GRPC_STATUS_INTERNAL, "parse: %s", strerror(-r));
	} else {
		job->doc = doc;
		doc = NULL;
	}
	log_debug("apply: read %s in %.1f ms (%.1f ms of CPU time): %s",
		  name ? name : "<request>", (monotonic_usec() - t0) / 1e3,
		  job->read_cpu_usec / 1e3, job->doc ? "valid" : "refused");
out:
	policy_document_free(doc);
	policy_errors_free(&errs);
	job->read_end_usec = monotonic_usec();
}

/*
 * Reads job within the memory the reads in progress share: it waits for its share as long as
 * its time allows (the wall-clock read budget, the client's deadline), else it is refused.
 */
static void reader_read(struct reader *r, struct job *job)
{
	size_t need = read_memory_need(&r->memory, job->request_bytes);
	uint64_t by = job->read_by_usec, t0 = monotonic_usec();

	if (job->deadline_usec && (!by || job->deadline_usec < by))
		by = job->deadline_usec;
	if (read_memory_take(&r->memory, need, by)) {
		job_set_status(job, GRPC_STATUS_RESOURCE_EXHAUSTED,
			       "apply not started: the reads in progress held the agent's read "
			       "memory (%zu MiB for all reads at once) for %.0f ms; this %zu-byte "
			       "request needs up to %zu MiB of it",
			       READ_MEMORY_BUDGET >> 20, (monotonic_usec() - t0) / 1e3,
			       job->request_bytes, need >> 20);
		log_warn("%s", job->details);
		return;
	}
	read_document(job);
	read_memory_give(&r->memory, need);
}

static void *reader_main(void *arg)
{
	struct reader *r = arg;
	struct job *job;

	for (;;) {
		pthread_mutex_lock(&r->lock);
		r->idle++;
		while (!r->head && !r->stop)
			pthread_cond_wait(&r->cond, &r->lock);
		r->idle--;
		job = r->stop ? NULL : r->head;
		if (job) {
			r->queued--;
			r->head = job->read_next;
			if (!r->head)
				r->tail = NULL;
		}
		pthread_mutex_unlock(&r->lock);
		if (!job)
			return NULL;
		reader_read(r, job);
		r->done(r->ctx, job);
	}
}

/* Starts one more thread (lock held once the reader runs). 0 or an errno. */
static int add_thread(struct reader *r)
{
	int err = pthread_create(&r->threads[r->n_threads], NULL, reader_main, r);

	if (!err)
		r->n_threads++;
	return err;
}

struct reader *reader_start(void (*done)(void *ctx, struct job *job), void *ctx)
{
	struct reader *r = calloc(1, sizeof(*r));
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	unsigned want = cpus > READER_THREADS_MIN ? (unsigned)cpus : READER_THREADS_MIN;
	int err = 0;

	if (!r)
		return NULL;
	if (want > READER_THREADS_MAX)
		want = READER_THREADS_MAX;
	r->done = done;
	r->ctx = ctx;
	read_memory_init(&r->memory, READ_MEMORY_BUDGET);
	pthread_mutex_init(&r->lock, NULL);
	pthread_cond_init(&r->cond, NULL);
	pthread_mutex_lock(&r->lock);
	while (r->n_threads < want && !err)
		err = add_thread(r);
	pthread_mutex_unlock(&r->lock);
	if (err) {
		reader_stop(r);
		errno = err;
		return NULL;
	}
	return r;
}

void reader_submit(struct reader *r, struct job *job)
{
	job->read_next = NULL;
	pthread_mutex_lock(&r->lock);
	if (r->tail)
		r->tail->read_next = job;
	else
		r->head = job;
	r->tail = job;
	r->queued++;
	/*
	 * Every thread busy (each reading a document, maybe a large or hostile one): one more,
	 * so that this job is read now, beside them, rather than after one of them. A thread
	 * that cannot be started leaves the job queued for the next free one.
	 */
	if (r->queued > r->idle && r->n_threads < READER_THREADS_MAX && !r->stop &&
	    add_thread(r))
		log_warn("apply: cannot start another reader thread; the apply waits for one");
	pthread_cond_signal(&r->cond);
	pthread_mutex_unlock(&r->lock);
}

void reader_stop(struct reader *r)
{
	struct job *job, *next;

	if (!r)
		return;
	pthread_mutex_lock(&r->lock);
	r->stop = true;
	pthread_cond_broadcast(&r->cond);
	pthread_mutex_unlock(&r->lock);
	/* no thread is added once stop is set: a job submitted now waits in the queue */
	for (unsigned i = 0; i < r->n_threads; i++)
		pthread_join(r->threads[i], NULL);
	for (job = r->head; job; job = next) {
		next = job->read_next;
		job_set_status(job, GRPC_STATUS_UNAVAILABLE, "agent is shutting down");
		r->done(r->ctx, job);
	}
	pthread_mutex_destroy(&r->lock);
	pthread_cond_destroy(&r->cond);
	read_memory_destroy(&r->memory);
	free(r);
}
