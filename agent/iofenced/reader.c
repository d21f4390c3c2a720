// SPDX-License-Identifier: Apache-2.0
/*
 * The read stage of an apply: a pool of threads that parse and validate documents (source
 * text or PolicyDocument message) off the apply worker, each within the read budget.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <grpc/status.h>

#include "log.h"
#include "policy/parse.h"
#include "policy/pb.h"
#include "reader.h"

#define READER_THREADS_MAX 16

struct reader {
	void (*done)(void *ctx, struct job *job);
	void *ctx;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct job *head, *tail; /* through job->read_next */
	bool stop;
	pthread_t threads[READER_THREADS_MAX];
	unsigned n_threads;
};

/*
 * Reads job's document on the calling thread: job->doc, or its status and details (a client
 * gone, ApplyRequest misuse, INVALID_ARGUMENT with the errors, the budget passed).
 */
static void reader_read(struct job *job)
{
	const Iofence__V1__ApplyRequest *req = job->req;
	const char *name = req->source_name && *req->source_name ? req->source_name : NULL;
	struct policy_errors errs = {0};
	struct policy_document *doc = NULL;
	const uint64_t budget = APPLY_READ_BUDGET_MS * 1000ull;
	struct policy_parse_stop stop = {.deadline_usec = job->deadline_usec, .cpu_usec = budget};
	uint64_t t0 = monotonic_usec(), cpu0 = thread_cpu_usec();
	int r;

	if (job_gone(job, t0)) {
		job_refuse_unstarted(job);
		return;
	}
	job->read_start_usec = t0;
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
		r = policy_from_pb(req->document, name ? name : "<grpc>", &doc, &errs);
	} else {
		job_set_status(job, GRPC_STATUS_INVALID_ARGUMENT,
			       "ApplyRequest: neither document nor source is set");
		goto out;
	}
	job->read_cpu_usec = thread_cpu_usec() - cpu0;
	if (r == -ETIME || (r == 0 && job->read_cpu_usec >= budget)) {
		job_refuse_late(job, &errs, monotonic_usec() - t0);
	} else if (r == -EINVAL) {
		job_set_validation_errors(job, &errs);
		log_warn("apply refused: %zu validation error%s", errs.n + errs.dropped,
			 errs.n + errs.dropped == 1 ? "" : "s");
	} else if (r) {
		job_set_status(job, GRPC_STATUS_INTERNAL, "parse: %s", strerror(-r));
	} else {
		job->doc = doc;
		doc = NULL;
	}
out:
	policy_document_free(doc);
	policy_errors_free(&errs);
	job->read_end_usec = monotonic_usec();
}

static void *reader_main(void *arg)
{
	struct reader *r = arg;
	struct job *job;

	for (;;) {
		pthread_mutex_lock(&r->lock);
		while (!r->head && !r->stop)
			pthread_cond_wait(&r->cond, &r->lock);
		job = r->stop ? NULL : r->head;
		if (job) {
			r->head = job->read_next;
			if (!r->head)
				r->tail = NULL;
		}
		pthread_mutex_unlock(&r->lock);
		if (!job)
			return NULL;
		reader_read(job);
		r->done(r->ctx, job);
	}
}

struct reader *reader_start(void (*done)(void *ctx, struct job *job), void *ctx)
{
	struct reader *r = calloc(1, sizeof(*r));
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	unsigned want = cpus > READER_THREADS_MIN ? (unsigned)cpus : READER_THREADS_MIN;
	int err;

	if (!r)
		return NULL;
	if (want > READER_THREADS_MAX)
		want = READER_THREADS_MAX;
	r->done = done;
	r->ctx = ctx;
	pthread_mutex_init(&r->lock, NULL);
	pthread_cond_init(&r->cond, NULL);
	for (; r->n_threads < want; r->n_threads++) {
		err = pthread_create(&r->threads[r->n_threads], NULL, reader_main, r);
		if (err) {
			reader_stop(r);
			errno = err;
			return NULL;
		}
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
	for (unsigned i = 0; i < r->n_threads; i++)
		pthread_join(r->threads[i], NULL);
	for (job = r->head; job; job = next) {
		next = job->read_next;
		job_set_status(job, GRPC_STATUS_UNAVAILABLE, "agent is shutting down");
		r->done(r->ctx, job);
	}
	pthread_mutex_destroy(&r->lock);
	pthread_cond_destroy(&r->cond);
	free(r);
}
