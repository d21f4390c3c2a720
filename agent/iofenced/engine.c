// SPDX-License-Identifier: Apache-2.0
/*
 * The engine: the one apply worker that turns an ApplyRequest into an enforced, durable
 * revision (parse -> validate -> revision check -> compile -> datapath swap -> store commit
 * -> ack), the published snapshot readers use, and the restore at start.
 *
 * Order of the last steps: the image is swapped into the datapath first and committed to
 * the store second, and the ack follows the commit. A failed swap leaves the active slot and
 * the store untouched (dp_apply's contract), so the same revision can be retried. A failed
 * commit swaps the previous revision's image back before answering, so nothing enforced is
 * ever missing from the store for longer than the failure path. A crash between swap and
 * commit leaves an unacknowledged revision in the active slot; the restart restores the
 * store's latest revision over it. Acknowledged therefore always means durable and enforced.
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

const double apply_bucket_le[APPLY_BUCKETS] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
					       0.1,   0.25,   0.5,   1,	   2.5,	  10};

/* The publish subscribers a list holds at most. */
#define MAX_SUBSCRIBERS 8

struct engine {
	const struct agent_config *cfg;
	int store_lock_fd; /* flock of <state>.lock, -1 when not held */
	struct store *store;
	pthread_mutex_t store_mutex; /* store handle: apply thread and readers */
	uint64_t store_latest;	     /* newest stored revision (apply thread) */
	struct journal_chain chain;  /* deltas stored since the last whole document */
	struct datapath *dp;	     /* NULL with --datapath=none */

	pthread_mutex_t snap_lock;
	struct snapshot *current;  /* NULL: nothing applied */
	struct snapshot *previous; /* the revision before (slim), for events of the old slot */
	struct {
		void (*fn)(void *ctx);
		void *ctx;
	} subscribers[MAX_SUBSCRIBERS];
	size_t n_subscribers;

	pthread_mutex_t q_lock;
	pthread_cond_t q_cond;
	struct job *q_head, *q_tail;
	bool q_stop;
	struct reader *reader; /* reads applies' documents (NULL: not running) */
	bool reader_stopped;   /* an apply queued now is refused at once */
	bool trim_pending; /* an apply left heap to give back (apply thread only) */
	pthread_t apply_thread;
	bool running;

	atomic_uint_fast64_t apply_ok, apply_failed;
	atomic_uint_fast64_t apply_bucket[APPLY_BUCKETS]; /* non-cumulative */
	atomic_uint_fast64_t apply_usec_sum;
	struct guard *guard; /* the reconciler (guard.h), runs on the apply thread */
};

static int mkdir_parents(const char *path)
{
	char buf[4096];

	snprintf(buf, sizeof(buf), "%s", path);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		if (mkdir(buf, 0755) && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	return 0;
}

static uint64_t now_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

struct snapshot *engine_current(struct engine *e)
{
	struct snapshot *s;

	pthread_mutex_lock(&e->snap_lock);
	s = snapshot_ref(e->current);
	pthread_mutex_unlock(&e->snap_lock);
	return s;
}

struct snapshot *engine_snapshot_of(struct engine *e, uint64_t revision)
{
	struct snapshot *s = NULL;

	pthread_mutex_lock(&e->snap_lock);
	if (e->current && snapshot_revision(e->current) == revision)
		s = snapshot_ref(e->current);
	else if (e->previous && snapshot_revision(e->previous) == revision)
		s = snapshot_ref(e->previous);
	pthread_mutex_unlock(&e->snap_lock);
	return s;
}

/*
 * Makes s current and a slim copy of the current one previous. Returns the snapshot the caller
 * unrefs when it has time (with readers gone, freeing a large document takes milliseconds).
 */
static struct snapshot *publish(struct engine *e, struct snapshot *s)
{
	struct snapshot *slim = snapshot_slim(e->current), *old_prev, *old_cur;

	pthread_mutex_lock(&e->snap_lock);
	old_prev = e->previous;
	old_cur = e->current;
	e->previous = slim;
	e->current = s;
	pthread_mutex_unlock(&e->snap_lock);
	snapshot_unref(old_prev);
	return old_cur;
}

/* Tells the subscribers a new revision is current (apply thread). */
static void announce(struct engine *e)
{
	for (size_t i = 0; i < e->n_subscribers; i++)
		e->subscribers[i].fn(e->subscribers[i].ctx);
}

int engine_on_publish(struct engine *e, void (*fn)(void *ctx), void *ctx)
{
	if (e->n_subscribers == MAX_SUBSCRIBERS)
		return -ENOSPC;
	e->subscribers[e->n_subscribers].fn = fn;
	e->subscribers[e->n_subscribers++].ctx = ctx;
	return 0;
}

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

static void observe_apply(struct engine *e, uint64_t usec, bool ok)
{
	double s = (double)usec / 1e6;
	size_t i;

	atomic_fetch_add(ok ? &e->apply_ok : &e->apply_failed, 1);
	if (!ok)
		return;
	atomic_fetch_add(&e->apply_usec_sum, usec);
	for (i = 0; i < APPLY_BUCKETS && s > apply_bucket_le[i]; i++)
		;
	if (i < APPLY_BUCKETS)
		atomic_fetch_add(&e->apply_bucket[i], 1);
}

/* Compiles doc and swaps it into the datapath. grpc status; message in err. */
static int compile_and_swap(struct engine *e, struct policy_document *doc,
			    struct policy_image **ret_img, uint64_t *compile_usec,
			    uint64_t *dp_usec, char *err, size_t len)
{
	uint64_t t0 = now_usec();
	int r = policy_compile(doc, e->cfg->node, ret_img, err, len);

	*compile_usec = now_usec() - t0;
	*dp_usec = 0;
	if (r == -E2BIG)
		return GRPC_STATUS_RESOURCE_EXHAUSTED;
	if (r) {
		snprintf(err, len, "compile: %s", strerror(-r));
		return GRPC_STATUS_INTERNAL;
	}
	if (!e->dp)
		return GRPC_STATUS_OK;
	t0 = now_usec();
	r = dp_apply(e->dp, *ret_img, err, len);
	*dp_usec = now_usec() - t0;
	if (r) {
		policy_image_free(*ret_img);
		*ret_img = NULL;
		if (r == -EMEDIUMTYPE) /* a cgroup path of this node: refused before any write */
			return GRPC_STATUS_FAILED_PRECONDITION;
		return r == -E2BIG ? GRPC_STATUS_RESOURCE_EXHAUSTED : GRPC_STATUS_INTERNAL;
	}
	return GRPC_STATUS_OK;
}

/* Map entries an image wrote (the Apply response's and the CLI's figure). */
static uint64_t image_entries(const struct policy_image *img)
{
	return policy_image_entries(img) + img->n_prefilter + img->n_endpoints;
}

static void add_warning(void *ctx, const char *line)
{
	struct job *job = ctx;
	char **v = realloc(job->warnings, (job->n_warnings + 1) * sizeof(*v));

	if (!v)
		return;
	job->warnings = v;
	if ((v[job->n_warnings] = strdup(line)))
		job->n_warnings++;
}

/*
 * Collects the document's warnings on this node into the response (and the log); with
 * ApplyRequest.strict a document with warnings is refused. True when refused.
 */
static bool note_warnings(struct engine *e, const struct policy_document *doc, struct job *job)
{
	warnings_of(doc, e->cfg->node, doc->has_revision, e->dp != NULL, add_warning, job);
	job->resp.warnings = job->warnings;
	job->resp.n_warnings = job->n_warnings;
	for (size_t i = 0; i < job->n_warnings && !job->dry_run; i++)
		log_warn("apply: warning: %s", job->warnings[i]);
	if (!job->req->strict || !job->n_warnings)
		return false;
	job_set_status(job, GRPC_STATUS_FAILED_PRECONDITION, "strict: %zu warning%s: %s%s",
		       job->n_warnings, job->n_warnings == 1 ? "" : "s", job->warnings[0],
		       job->n_warnings > 1 ? "; ..." : "");
	return true;
}

/*
 * A re-apply of the enforced document (same objects; no revision, or one not newer than the
 * enforced one) is acknowledged as unchanged: nothing is compiled, swapped or stored, so
 * re-running the same apply is safe and leaves the history as it was. A newer explicit
 * revision with the same content is applied (a datastore's revision must be reached).
 */
static bool answer_unchanged(struct engine *e, const struct policy_document *doc,
			     struct job *job)
{
	struct snapshot *cur = engine_current(e);
	const struct policy_document *enforced = cur ? snapshot_doc(cur) : NULL;
	uint64_t rev = cur ? snapshot_revision(cur) : 0;
	struct policy_document same;
	bool unchanged = false;

	if (enforced && (!doc->has_revision || doc->revision <= rev)) {
		same = *doc;
		same.revision = enforced->revision;
		same.has_revision = enforced->has_revision;
		unchanged = policy_document_equal(&same, enforced);
	}
	if (unchanged) {
		const struct policy_image *img = snapshot_image(cur);

		job->resp.revision = rev;
		job->resp.node = e->cfg->node;
		job->resp.unchanged = true;
		job->resp.endpoints = img ? (uint32_t)img->n_endpoints : 0;
		job->resp.entries = img ? image_entries(img) : 0;
		job->status = GRPC_STATUS_OK;
		log_info("apply: document unchanged from revision %llu", (unsigned long long)rev);
	}
	snapshot_unref(cur);
	return unchanged;
}

/* The revision can be stored as its delta (journal.h) rather than as the whole document. */
static bool journal_fits(const struct engine *e, const Iofence__V1__PolicyDelta *delta)
{
	return delta && e->store_latest && delta->base_revision == e->store_latest &&
	       journal_chain_fits(&e->chain);
}

/* Packs msg (a PolicyDocument or PolicyDelta) for the store. */
static uint8_t *pack_message(const ProtobufCMessage *msg, size_t *len)
{
	uint8_t *buf;

	*len = protobuf_c_message_get_packed_size(msg);
	buf = malloc(*len ? *len : 1);
	if (buf)
		protobuf_c_message_pack(msg, buf);
	return buf;
}

/* Commits rev (whole or as its delta); err says why not. 0 or -errno. */
static int store_revision(struct engine *e, uint64_t rev, bool journal, uint64_t base,
			  const uint8_t *packed, size_t packed_len, const char *name,
			  const char *source, char *err, size_t len)
{
	int r;

	pthread_mutex_lock(&e->store_mutex);
	r = journal ? store_commit_delta(e->store, rev, base, packed, packed_len, name)
		    : store_commit_source(e->store, rev, packed, packed_len, name, source);
	if (r)
		snprintf(err, len, "store: %s: %s", strerror(-r), store_last_error(e->store));
	pthread_mutex_unlock(&e->store_mutex);
	if (!r) {
		e->store_latest = rev;
		if (journal)
			journal_chain_add(&e->chain, packed_len);
		else
			journal_chain_restart(&e->chain, packed_len);
	}
	return r;
}

/* A commit failed after the swap: put the enforced revision's image back. */
static void swap_back(struct engine *e)
{
	struct snapshot *prev = engine_current(e);

	if (prev && e->dp) {
		/* Published images keep no entries (memory): compile them again. */
		struct policy_image *back = NULL;
		char err2[256];

		if (policy_compile(snapshot_doc(prev), e->cfg->node, &back, err2, sizeof(err2)) ||
		    dp_apply(e->dp, back, err2, sizeof(err2)))
			log_error("rollback to revision %llu failed: %s",
				  (unsigned long long)snapshot_revision(prev), err2);
		policy_image_free(back);
	}
	snapshot_unref(prev);
}

/*
 * Applies the document the reader read for job (or answers why there is none). Returns the
 * snapshot retired by the apply, freed after the ack (a large document's free takes
 * milliseconds).
 */
static struct snapshot *do_apply(struct engine *e, struct job *job)
{
	const Iofence__V1__ApplyRequest *req = job->req;
	const char *name = req->source_name && *req->source_name ? req->source_name : NULL;
	/* the text GetPolicy gives back: what the user wrote, comments included */
	const char *shown = req->source && *req->source ? req->source : req->document_source;
	struct policy_document *doc = job->doc;
	struct policy_image *img = NULL;
	Iofence__V1__PolicyDocument *pb = NULL;
	struct snapshot *snap = NULL;
	struct snapshot *retired = NULL;
	uint8_t *packed = NULL;
	size_t packed_len;
	bool journal = false;
	uint64_t read_usec = job->read_end_usec - job->read_start_usec;
	uint64_t t0 = now_usec(), compile_usec = 0, dp_usec = 0, t_packed, t_store, rev;
	uint64_t cpu0 = thread_cpu_usec(); /* the read budget also bounds the check and pack */
	char err[512] = "";
	int r, st;

	job->doc = NULL;
	if (!doc) /* the reader's answer is in the job */
		goto out;
	if (note_warnings(e, doc, job))
		goto out;
	if (answer_unchanged(e, doc, job))
		goto out;
	if (doc->has_revision && doc->revision <= e->store_latest) {
		job_set_status(job, GRPC_STATUS_FAILED_PRECONDITION,
			       "revision %llu is not newer than the applied revision %llu",
			       (unsigned long long)doc->revision,
			       (unsigned long long)e->store_latest);
		log_warn("apply refused: %s", job->details);
		goto out;
	}
	if (job->dry_run) { /* decided and warned: what apply would say, nothing changed */
		job->resp.revision = doc->has_revision ? doc->revision : e->store_latest + 1;
		job->resp.node = e->cfg->node;
		job->status = GRPC_STATUS_OK;
		goto out;
	}
	if (!doc->has_revision) {
		doc->revision = e->store_latest + 1;
		doc->has_revision = true;
	}
	rev = doc->revision;
	/*
	 * The store keeps a serialized PolicyDocument: a message request is stored as it came
	 * (with its revision filled in), source text as the message it parsed to.
	 */
	if (req->document) {
		req->document->revision = rev;
		req->document->has_revision = true;
	} else if (policy_to_pb(doc, &pb)) {
		job_set_status(job, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
		goto out;
	}
	journal = journal_fits(e, job->delta);
	if (journal)
		packed = pack_message(&job->delta->base, &packed_len);
	else
		packed = pack_message(pb ? &pb->base : &req->document->base, &packed_len);
	snap = snapshot_new();
	if (!snap || !packed) {
		job_set_status(job, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
		goto out;
	}
	policy_pb_free(pb);
	pb = NULL;
	t_packed = now_usec();
	if (job->read_cpu_usec + thread_cpu_usec() - cpu0 >= APPLY_READ_BUDGET_MS * 1000ull ||
	    job_gone(job, t_packed)) {
		job_refuse_late(job, NULL, read_usec + t_packed - t0);
		goto out;
	}
	st = compile_and_swap(e, doc, &img, &compile_usec, &dp_usec, err, sizeof(err));
	if (st != GRPC_STATUS_OK) {
		job_set_status(job, st, "revision %llu: %s", (unsigned long long)rev, err);
		log_error("apply of revision %llu failed: %s", (unsigned long long)rev, err);
		goto out;
	}
	t_store = now_usec();
	r = store_revision(e, rev, journal, journal ? job->delta->base_revision : 0, packed,
			   packed_len, name ? name : "", shown && *shown ? shown : NULL, err,
			   sizeof(err));
	if (r) {
		/* Not durable: put the previous revision back before saying no. */
		swap_back(e);
		job_set_status(
		    job, r == -ESTALE ? GRPC_STATUS_FAILED_PRECONDITION : GRPC_STATUS_UNAVAILABLE,
		    "revision %llu: %s", (unsigned long long)rev, err);
		log_error("apply of revision %llu failed: %s", (unsigned long long)rev, err);
		goto out;
	}
	free(packed);
	packed = NULL;
	policy_image_release_entries(img); /* in the maps now; keep only the names */
	snapshot_set(snap, rev, doc, img, shown && *shown ? strdup(shown) : NULL,
		     strdup(name ? name : ""), time(NULL));
	job->resp.revision = rev;
	job->resp.node = e->cfg->node;
	job->resp.endpoints = (uint32_t)img->n_endpoints;
	job->resp.entries = image_entries(img);
	job->resp.compile_usec = compile_usec;
	job->resp.apply_usec = read_usec + now_usec() - t0;
	job->status = GRPC_STATUS_OK;
	retired = publish(e, snap);
	announce(e);
	log_debug("revision %llu: %s %.1f ms, pack %.1f ms, "
		  "compile %.1f ms, datapath %.1f ms, store commit (%s) %.1f ms",
		  (unsigned long long)rev,
		  req->source && *req->source ? "parse+validate" : "read+validate", read_usec / 1e3,
		  (t_packed - t0) / 1e3, compile_usec / 1e3, dp_usec / 1e3,
		  journal ? "delta" : "whole", (now_usec() - t_store) / 1e3);
	log_info("applied revision %llu: %zu local endpoints, %zu rules, %llu entries, "
		 "compile %.1f ms, total %.1f ms",
		 (unsigned long long)rev, img->n_endpoints, img->n_rules,
		 (unsigned long long)job->resp.entries, compile_usec / 1e3,
		 job->resp.apply_usec / 1e3);
	doc = NULL;
	img = NULL;
	snap = NULL;
out:
	if (!job->dry_run)
		observe_apply(e, read_usec + now_usec() - t0, job->status == GRPC_STATUS_OK);
	snapshot_unref(snap);
	free(packed);
	policy_image_free(img);
	policy_document_free(doc);
	policy_pb_free(pb);
	e->trim_pending = true;
	return retired;
}

/*
 * JOB_DELTA: only endpoints and security groups changed (cluster mode). The document is the
 * enforced one with the changes applied: unchanged groups and prefilters shared, the changed
 * groups and the endpoints checked again (policy/derive.h); compiled and swapped like any
 * revision (the compiler reads only the groups of this node's endpoints, the datapath writes
 * the entries that changed), stored as the delta.
 */
static struct snapshot *do_delta(struct engine *e, struct job *job)
{
	const Iofence__V1__PolicyDelta *delta = job->delta;
	struct snapshot *cur = engine_current(e), *snap = NULL, *retired = NULL;
	uint64_t rev = job->delta_revision, t0 = now_usec(), compile_usec = 0, dp_usec = 0;
	uint64_t t_derived, t_store;
	struct journal_changes jc = {0};
	struct policy_errors errs = {0};
	struct policy_document *doc = NULL;
	struct policy_image *img = NULL;
	Iofence__V1__PolicyDocument *pb = NULL;
	uint8_t *packed = NULL;
	size_t packed_len = 0;
	bool journal;
	char err[512] = "";
	int r, st;

	if (!cur || !delta || snapshot_revision(cur) != delta->base_revision ||
	    e->store_latest != delta->base_revision || rev <= delta->base_revision) {
		job_set_status(job, GRPC_STATUS_FAILED_PRECONDITION,
			   "revision %llu: a delta on revision %llu, but revision %llu is enforced",
			   (unsigned long long)rev,
			   (unsigned long long)(delta ? delta->base_revision : 0),
			   (unsigned long long)(cur ? snapshot_revision(cur) : 0));
		goto out;
	}
	r = journal_changes_of(delta, &jc, err, sizeof(err));
	if (!r)
		/* the enforced document only gains pointers to what it shares (readers never
		 * look at them) */
		r = policy_derive((struct policy_document *)snapshot_doc(cur), &jc.changes, "<etcd>",
				  &doc, &errs);
	if (r == -ENOMEM) {
		job_set_status(job, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
		goto out;
	} else if (r && errs.n) {
		job_set_validation_errors(job, &errs);
		goto out;
	} else if (r) {
		job_set_status(job, GRPC_STATUS_INVALID_ARGUMENT, "revision %llu: %s",
			   (unsigned long long)rev, err);
		goto out;
	}
	doc->revision = rev;
	doc->has_revision = true;
	t_derived = now_usec();
	st = compile_and_swap(e, doc, &img, &compile_usec, &dp_usec, err, sizeof(err));
	if (st != GRPC_STATUS_OK) {
		job_set_status(job, st, "revision %llu: %s", (unsigned long long)rev, err);
		log_error("apply of revision %llu failed: %s", (unsigned long long)rev, err);
		goto out;
	}
	journal = journal_fits(e, delta);
	if (journal)
		packed = pack_message(&delta->base, &packed_len);
	else if (!policy_to_pb(doc, &pb))
		packed = pack_message(&pb->base, &packed_len);
	snap = snapshot_new();
	t_store = now_usec();
	r = packed && snap ? store_revision(e, rev, journal, delta->base_revision, packed,
					    packed_len, FOLLOWER_SOURCE_NAME, NULL, err, sizeof(err))
			   : -ENOMEM;
	if (r) {
		swap_back(e);
		job_set_status(job, r == -ENOMEM ? GRPC_STATUS_RESOURCE_EXHAUSTED
					     : GRPC_STATUS_UNAVAILABLE,
			   "revision %llu: %s", (unsigned long long)rev,
			   r == -ENOMEM ? "out of memory" : err);
		log_error("apply of revision %llu failed: %s", (unsigned long long)rev,
			  job->details);
		goto out;
	}
	policy_image_release_entries(img);
	snapshot_set(snap, rev, doc, img, NULL, strdup(FOLLOWER_SOURCE_NAME), time(NULL));
	job->status = GRPC_STATUS_OK;
	retired = publish(e, snap);
	announce(e);
	log_debug("revision %llu: %zu endpoint%s and %zu group%s changed on revision %llu: "
		  "derive+validate %.2f ms, compile %.2f ms, datapath %.2f ms, store commit (%s) "
		  "%.2f ms",
		  (unsigned long long)rev, jc.changes.n_endpoints,
		  jc.changes.n_endpoints == 1 ? "" : "s", jc.changes.n_groups,
		  jc.changes.n_groups == 1 ? "" : "s",
		  (unsigned long long)delta->base_revision, (t_derived - t0) / 1e3,
		  compile_usec / 1e3, dp_usec / 1e3, journal ? "delta" : "whole",
		  (now_usec() - t_store) / 1e3);
	log_info("applied revision %llu: %zu endpoint%s and %zu group%s changed, %zu local "
		 "endpoints, total %.1f ms",
		 (unsigned long long)rev, jc.changes.n_endpoints,
		 jc.changes.n_endpoints == 1 ? "" : "s", jc.changes.n_groups,
		 jc.changes.n_groups == 1 ? "" : "s", img->n_endpoints,
		 (now_usec() - t0) / 1e3);
	doc = NULL;
	img = NULL;
	snap = NULL;
out:
	observe_apply(e, now_usec() - t0, job->status == GRPC_STATUS_OK);
	snapshot_unref(cur);
	snapshot_unref(snap);
	free(packed);
	policy_pb_free(pb);
	policy_image_free(img);
	policy_document_free(doc);
	policy_errors_free(&errs);
	journal_changes_free(&jc);
	return retired;
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

/*
 * After an ack: a journal chain past its due length is cut by storing the enforced revision
 * again whole (journal.h). Done here rather than with the revision, so that the whole
 * document's encoding and write never delay an acknowledgement.
 */
static void rebase_journal(struct engine *e)
{
	struct snapshot *cur;
	uint64_t t0 = now_usec(), rev;
	size_t bytes = 0;
	int r;

	if (!journal_chain_due(&e->chain))
		return;
	cur = engine_current(e);
	if (!cur)
		return;
	rev = snapshot_revision(cur);
	pthread_mutex_lock(&e->store_mutex);
	r = rev == e->store_latest ? journal_rebase(e->store, rev, snapshot_doc(cur), &bytes)
				   : -ESTALE;
	pthread_mutex_unlock(&e->store_mutex);
	snapshot_unref(cur);
	if (r) {
		log_warn("store: revision %llu could not be stored whole: %s (its %zu deltas stay)",
			 (unsigned long long)rev, strerror(-r), e->chain.depth);
		e->chain.factor += 0.25; /* not at every revision from now on */
		return;
	}
	log_debug("store: revision %llu stored whole after %zu deltas (%zu bytes, the document "
		  "%zu) in %.1f ms",
		  (unsigned long long)rev, e->chain.depth, e->chain.delta_bytes, bytes,
		  (now_usec() - t0) / 1e3);
	journal_chain_restart(&e->chain, bytes);
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
		else if (job->doc && job_gone(job, now_usec()))
			job_refuse_unstarted(job);
		else if (job->kind == JOB_DELTA)
			retired = do_delta(e, job);
		else if (job->read_start_usec) /* else not started: the reader's answer is set */
			retired = do_apply(e, job);
		guard_refresh(e->guard);
		job->complete(job);

		snapshot_unref(retired);
		rebase_journal(e);
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

/* Restores the store's latest revision into the datapath unless its active slot has it. */
static int restore(struct engine *e)
{
	struct store_revision sr = {0};
	Iofence__V1__PolicyDocument *pb = NULL;
	struct policy_errors errs = {0};
	struct policy_document *doc = NULL;
	struct policy_image *img = NULL;
	struct snapshot *snap;
	size_t depth = 0;
	char err[512];
	int r;

	r = journal_read(e->store, 0, &sr, &depth);
	if (r == -ENOENT) {
		log_info("store %s is empty: nothing to restore%s", e->cfg->state,
			 e->dp && dp_active_revision(e->dp)
			     ? " (the datapath keeps enforcing its pinned revision)"
			     : "");
		return 0;
	}
	if (r) {
		log_error("store %s: cannot read the latest revision: %s", e->cfg->state,
			  strerror(-r));
		return 2;
	}
	pb = iofence__v1__policy_document__unpack(NULL, sr.doc_len, sr.doc);
	if (!pb || policy_from_pb(pb, "<store>", &doc, &errs)) {
		log_error("store %s: revision %llu does not decode as a policy document",
			  e->cfg->state, (unsigned long long)sr.revision);
		r = 2;
		goto out;
	}
	doc->revision = sr.revision;
	doc->has_revision = true;
	r = policy_compile(doc, e->cfg->node, &img, err, sizeof(err));
	if (r) {
		log_error("restore of revision %llu: compile: %s", (unsigned long long)sr.revision,
			  r == -E2BIG ? err : strerror(-r));
		r = 2;
		goto out;
	}
	/*
	 * The active slot may already hold this revision (adopted pins): it keeps enforcing
	 * throughout. The image is written once more anyway, into the inactive slot and flipped
	 * (same revision, so no flow is re-judged): that is how the datapath learns the image it
	 * needs to attach interfaces that appeared, and detach ones that went, while no agent ran.
	 */
	if (e->dp) {
		bool adopted = dp_active_revision(e->dp) == sr.revision;

		r = dp_apply(e->dp, img, err, sizeof(err));
		if (r) {
			log_error("restore of revision %llu: datapath: %s",
				  (unsigned long long)sr.revision, err);
			r = 2;
			goto out;
		}
		log_info("revision %llu: %s", (unsigned long long)sr.revision,
			 adopted ? "adopted from the pinned datapath and reconciled"
				 : "restored from the store");
	}
	snap = snapshot_new();
	if (!snap) {
		r = 2;
		goto out;
	}
	if (img)
		policy_image_release_entries(img);
	snapshot_set(snap, sr.revision, doc, img, sr.source, sr.source_name, time(NULL));
	sr.source = NULL;
	sr.source_name = NULL;
	doc = NULL;
	img = NULL;
	e->store_latest = sr.revision;
	/* the chain's own bytes are not known: its length and the document's size are */
	journal_chain_restart(&e->chain, sr.doc_len);
	e->chain.depth = depth;
	snapshot_unref(publish(e, snap));
	r = 0;
out:
	policy_image_free(img);
	policy_document_free(doc);
	if (pb)
		iofence__v1__policy_document__free_unpacked(pb, NULL);
	policy_errors_free(&errs);
	store_revision_free(&sr);
	return r;
}

struct engine *engine_new(const struct agent_config *cfg)
{
	struct engine *e = calloc(1, sizeof(*e));
	pthread_condattr_t ca;

	if (!e)
		return NULL;
	e->cfg = cfg;
	e->store_lock_fd = -1;
	pthread_mutex_init(&e->store_mutex, NULL);
	pthread_mutex_init(&e->snap_lock, NULL);
	pthread_mutex_init(&e->q_lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&e->q_cond, &ca);
	pthread_condattr_destroy(&ca);
	e->guard = guard_new(e, cfg);
	if (!e->guard) {
		engine_free(e);
		return NULL;
	}
	return e;
}

int engine_lock_store(struct engine *e, char *err, size_t len)
{
	char lock[4200];
	int fd, r;

	r = mkdir_parents(e->cfg->state);
	if (r) {
		snprintf(err, len, "%s: cannot create its directory: %s", e->cfg->state,
			 strerror(-r));
		return r;
	}
	snprintf(lock, sizeof(lock), "%s.lock", e->cfg->state);
	fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		snprintf(err, len, "%s: %s", lock, strerror(errno));
		return -errno;
	}
	if (flock(fd, LOCK_EX | LOCK_NB)) {
		snprintf(err, len, "%s: another agent is using this store (%s is locked)",
			 e->cfg->state, lock);
		close(fd);
		return -EBUSY;
	}
	e->store_lock_fd = fd;
	return 0;
}

int engine_start(struct engine *e)
{
	char err[512] = "";
	int r;

	r = store_open(e->cfg->state, &e->store, err, sizeof(err));
	if (r) {
		log_error("store: %s", err[0] ? err : strerror(-r));
		return 2;
	}
	store_set_keep(e->store, e->cfg->keep);
	/*
	 * Cluster mode: the datastore holds the truth, and the follower acknowledges (its status
	 * key) less often than the engine commits under churn: commits are made durable by
	 * engine_sync() before each acknowledgement, one fsync for all the revisions it reports.
	 */
	if (e->cfg->etcd_endpoints && store_set_deferred_sync(e->store, true))
		log_warn("store: commits stay synchronous: %s", store_last_error(e->store));
	journal_chain_restart(&e->chain, 0);
	if (!e->cfg->datapath_none) {
		struct dp_options opts = {
		    .pin_dir = e->cfg->pin_dir,
		    .bpf_object = e->cfg->bpf_object,
		    .config =
			{
			    /* conntrack timeouts: the datapath's defaults (IOF_CT_DEFAULT_*) */
			    .events_per_sec = e->cfg->events_per_sec,
			    .flags = IOF_CFG_EVENT_ALLOWS,
			},
		};

		opts.xdp_generic = e->cfg->xdp_generic;
		opts.n_failsafe = failsafe_table(e->cfg, opts.failsafe, IOF_FAILSAFE_MAX, err,
						 sizeof(err));
		if (err[0])
			log_warn("failsafe: table full (%d entries): left out %s", IOF_FAILSAFE_MAX,
				 err);
		err[0] = 0;
		/* before the object loads: interfaces that came while no agent ran */
		uint64_t t0 = now_usec();

		r = dp_early_enforce(e->cfg->pin_dir, err, sizeof(err));
		if (r < 0)
			log_warn("early enforcement: %s", err);
		else if (r > 0)
			log_info("early enforcement: %d interface%s attached from the pinned programs "
				 "in %.1f ms (%ld ms after process start)",
				 r, r == 1 ? "" : "s", (double)(now_usec() - t0) / 1000.0,
				 guard_ms_since_process_start());
		err[0] = 0;
		r = dp_open(&opts, &e->dp, err, sizeof(err));
		if (r) {
			log_error("datapath: %s", err[0] ? err : strerror(-r));
			return 2;
		}
		log_info("datapath: %s pin dir %s (active revision %llu)",
			 dp_adopted(e->dp) ? "adopted" : "created", e->cfg->pin_dir,
			 (unsigned long long)dp_active_revision(e->dp));
	} else {
		log_warn("datapath: none (test mode): policies are stored but NOT enforced");
	}
	r = restore(e);
	guard_refresh(e->guard);
	guard_start(e->guard); /* its checks run beside applies from now on */
	return r;
}

void engine_free(struct engine *e)
{
	if (!e)
		return;
	guard_free(e->guard);
	snapshot_unref(publish(e, NULL));
	snapshot_unref(publish(e, NULL));
	if (e->dp)
		dp_close(e->dp);
	store_close(e->store);
	if (e->store_lock_fd >= 0) {
		char lock[4200];

		snprintf(lock, sizeof(lock), "%s.lock", e->cfg->state);
		unlink(lock);
		close(e->store_lock_fd);
	}
	pthread_mutex_destroy(&e->store_mutex);
	pthread_mutex_destroy(&e->snap_lock);
	pthread_mutex_destroy(&e->q_lock);
	pthread_cond_destroy(&e->q_cond);
	free(e);
}

int engine_sync(struct engine *e)
{
	return e->store ? store_sync(e->store) : 0;
}

struct guard *engine_guard(struct engine *e)
{
	return e->guard;
}

struct datapath *engine_datapath(struct engine *e)
{
	return e->dp;
}

void engine_apply_stats(struct engine *e, struct apply_stats *ret)
{
	ret->ok = atomic_load(&e->apply_ok);
	ret->failed = atomic_load(&e->apply_failed);
	ret->usec_sum = atomic_load(&e->apply_usec_sum);
	for (size_t i = 0; i < APPLY_BUCKETS; i++)
		ret->bucket[i] = atomic_load(&e->apply_bucket[i]);
}

int engine_stored(struct engine *e, uint64_t revision, struct store_revision *ret,
		  uint64_t **ret_revisions, size_t *ret_n)
{
	int r;

	*ret_revisions = NULL;
	*ret_n = 0;
	pthread_mutex_lock(&e->store_mutex);
	r = journal_read(e->store, revision, ret, NULL);
	if (!r)
		store_list(e->store, ret_revisions, ret_n);
	pthread_mutex_unlock(&e->store_mutex);
	return r;
}

int engine_history(struct engine *e, void (*fn)(void *ctx, const struct store_revision *rev),
		   void *ctx, size_t *n)
{
	uint64_t *revs = NULL;
	size_t count = 0, cap = *n;
	int r;

	pthread_mutex_lock(&e->store_mutex);
	r = store_list(e->store, &revs, &count);
	for (size_t i = 0; !r && fn && i < count && i < cap; i++) {
		struct store_revision sr = {0};

		if (store_get(e->store, revs[i], &sr))
			continue; /* pruned or unreadable: left out */
		fn(ctx, &sr);
		store_revision_free(&sr);
	}
	pthread_mutex_unlock(&e->store_mutex);
	free(revs);
	*n = count;
	return r;
}
