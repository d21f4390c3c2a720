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
#include <malloc.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <arpa/inet.h>

#include "agent.h"
#include "policy/errors.h"
#include "policy/parse.h"
#include "policy/pb.h"
#include "store/store.h"

/* The heap is trimmed after applies have paused this long. */
#define TRIM_IDLE_MS 200

const double apply_bucket_le[APPLY_BUCKETS] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
					       0.1,   0.25,   0.5,   1,	   2.5,	  10};

uint64_t now_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

struct snapshot *snapshot_ref(struct snapshot *s)
{
	if (s)
		atomic_fetch_add(&s->refs, 1);
	return s;
}

static void names_free(struct snapshot_names *n)
{
	if (!n)
		return;
	for (size_t i = 0; n->endpoints && i < n->n_endpoints; i++)
		free(n->endpoints[i]);
	for (size_t i = 0; n->groups && i < n->n_groups; i++)
		free(n->groups[i]);
	free(n->endpoints);
	free(n->groups);
	free(n->rules);
	free(n);
}

/* The names of s's endpoints and rules, copied (NULL on ENOMEM: events then show numbers). */
static struct snapshot_names *names_of(const struct snapshot *s)
{
	const struct policy_image *img = s->image;
	struct snapshot_names *n = calloc(1, sizeof(*n));
	bool oom = !n;

	if (oom || !img || !s->doc)
		return n;
	n->endpoints = calloc(img->n_endpoints + 1, sizeof(*n->endpoints));
	n->groups = calloc(s->doc->n_groups + 1, sizeof(*n->groups));
	n->rules = calloc(img->n_rules + 1, sizeof(*n->rules));
	oom = !n->endpoints || !n->groups || !n->rules;
	for (size_t i = 0; !oom && i < img->n_endpoints; i++, n->n_endpoints++)
		oom = !(n->endpoints[i] = strdup(img->endpoints[i].name));
	for (size_t i = 0; !oom && i < s->doc->n_groups; i++, n->n_groups++)
		oom = !(n->groups[i] = strdup(s->doc->groups[i].name));
	for (size_t i = 0; !oom && i < img->n_rules; i++)
		n->rules[i] =
		    (struct snapshot_rule_name){.group = (uint32_t)img->rules[i].group_index,
						.index = (uint32_t)img->rules[i].rule_index};
	n->n_rules = oom ? 0 : img->n_rules;
	if (oom) {
		names_free(n);
		n = NULL;
	}
	return n;
}

/* A snapshot of s's revision with its names only (see struct snapshot_names), or NULL. */
static struct snapshot *snapshot_slim(const struct snapshot *s)
{
	struct snapshot *slim = s ? calloc(1, sizeof(*slim)) : NULL;

	if (!slim)
		return NULL;
	atomic_store(&slim->refs, 1);
	slim->revision = s->revision;
	slim->applied_unix = s->applied_unix;
	slim->names = names_of(s);
	slim->source_name = s->source_name ? strdup(s->source_name) : NULL;
	return slim;
}

void snapshot_unref(struct snapshot *s)
{
	if (!s || atomic_fetch_sub(&s->refs, 1) != 1)
		return;
	names_free(s->names);
	policy_image_free(s->image);
	policy_document_free(s->doc);
	free(s->source);
	free(s->source_name);
	free(s);
}

struct snapshot *engine_current(struct agent *a)
{
	struct snapshot *s;

	pthread_mutex_lock(&a->snap_lock);
	s = snapshot_ref(a->current);
	pthread_mutex_unlock(&a->snap_lock);
	return s;
}

struct snapshot *engine_snapshot_of(struct agent *a, uint64_t revision)
{
	struct snapshot *s = NULL;

	pthread_mutex_lock(&a->snap_lock);
	if (a->current && a->current->revision == revision)
		s = snapshot_ref(a->current);
	else if (a->previous && a->previous->revision == revision)
		s = snapshot_ref(a->previous);
	pthread_mutex_unlock(&a->snap_lock);
	return s;
}

/*
 * Makes s current and a slim copy of the current one previous. Returns the snapshot the caller
 * unrefs when it has time (with readers gone, freeing a large document takes milliseconds).
 */
static struct snapshot *publish(struct agent *a, struct snapshot *s)
{
	struct snapshot *slim = snapshot_slim(a->current), *old_prev, *old_cur;

	pthread_mutex_lock(&a->snap_lock);
	old_prev = a->previous;
	old_cur = a->current;
	a->previous = slim;
	a->current = s;
	pthread_mutex_unlock(&a->snap_lock);
	snapshot_unref(old_prev);
	return old_cur;
}

void job_free(struct job *job)
{
	if (!job)
		return;
	if (job->req)
		iofence__v1__apply_request__free_unpacked(job->req, NULL);
	free(job->details);
	free(job->errors);
	free(job->cgroup);
	free(job);
}

void engine_submit(struct agent *a, struct job *job)
{
	job->next = NULL;
	pthread_mutex_lock(&a->q_lock);
	if (a->q_tail)
		a->q_tail->next = job;
	else
		a->q_head = job;
	a->q_tail = job;
	pthread_cond_signal(&a->q_cond);
	pthread_mutex_unlock(&a->q_lock);
}

static void set_status(struct job *job, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void set_status(struct job *job, int status, const char *fmt, ...)
{
	va_list ap;

	job->status = status;
	free(job->details);
	va_start(ap, fmt);
	if (vasprintf(&job->details, fmt, ap) < 0)
		job->details = NULL;
	va_end(ap);
}

/* INVALID_ARGUMENT with every error: lines in the details (capped), all in the trailer. */
static void set_validation_errors(struct job *job, const struct policy_errors *errs)
{
	Iofence__V1__ValidationErrors msg = IOFENCE__V1__VALIDATION_ERRORS__INIT;
	Iofence__V1__ValidationError *items = calloc(errs->n ? errs->n : 1, sizeof(*items));
	Iofence__V1__ValidationError **ptrs = calloc(errs->n ? errs->n : 1, sizeof(*ptrs));
	size_t cap = 3500, len = 0, total = errs->n + errs->dropped, shown = 0;
	char *text = malloc(cap + 200);

	job->status = GRPC_STATUS_INVALID_ARGUMENT;
	if (!items || !ptrs || !text) {
		free(items);
		free(ptrs);
		free(text);
		set_status(job, GRPC_STATUS_INVALID_ARGUMENT, "policy refused (out of memory)");
		return;
	}
	text[0] = 0;
	for (size_t i = 0; i < errs->n; i++) {
		const struct policy_error *e = &errs->items[i];
		char line[1024];

		iofence__v1__validation_error__init(&items[i]);
		items[i].file = e->file ? e->file : (char *)"";
		items[i].line = e->line;
		items[i].field = e->field ? e->field : (char *)"";
		items[i].message = e->message ? e->message : (char *)"";
		ptrs[i] = &items[i];
		policy_error_format(e, line, sizeof(line));
		if (len + strlen(line) + 1 < cap) {
			len += (size_t)sprintf(text + len, "%s%s", len ? "\n" : "", line);
			shown++;
		}
	}
	if (shown < total)
		sprintf(text + len, "%s... and %zu more error%s", len ? "\n" : "", total - shown,
			total - shown == 1 ? "" : "s");
	msg.n_errors = errs->n;
	msg.errors = ptrs;
	job->errors_len = iofence__v1__validation_errors__get_packed_size(&msg);
	job->errors = malloc(job->errors_len ? job->errors_len : 1);
	if (job->errors)
		iofence__v1__validation_errors__pack(&msg, job->errors);
	else
		job->errors_len = 0;
	free(job->details);
	job->details = text;
	free(items);
	free(ptrs);
}

static void observe_apply(struct agent *a, uint64_t usec, bool ok)
{
	double s = (double)usec / 1e6;
	size_t i;

	atomic_fetch_add(ok ? &a->stats.apply_ok : &a->stats.apply_failed, 1);
	if (!ok)
		return;
	atomic_fetch_add(&a->stats.apply_usec_sum, usec);
	for (i = 0; i < APPLY_BUCKETS && s > apply_bucket_le[i]; i++)
		;
	if (i < APPLY_BUCKETS)
		atomic_fetch_add(&a->stats.apply_bucket[i], 1);
}

/* Compiles doc and swaps it into the datapath. grpc status; message in err. */
static int compile_and_swap(struct agent *a, struct policy_document *doc,
			    struct policy_image **ret_img, uint64_t *compile_usec,
			    uint64_t *dp_usec, char *err, size_t len)
{
	uint64_t t0 = now_usec();
	int r = policy_compile(doc, a->cfg.node, ret_img, err, len);

	*compile_usec = now_usec() - t0;
	*dp_usec = 0;
	if (r == -E2BIG)
		return GRPC_STATUS_RESOURCE_EXHAUSTED;
	if (r) {
		snprintf(err, len, "compile: %s", strerror(-r));
		return GRPC_STATUS_INTERNAL;
	}
	if (!a->dp)
		return GRPC_STATUS_OK;
	t0 = now_usec();
	r = dp_apply(a->dp, *ret_img, err, len);
	*dp_usec = now_usec() - t0;
	if (r) {
		policy_image_free(*ret_img);
		*ret_img = NULL;
		return r == -E2BIG ? GRPC_STATUS_RESOURCE_EXHAUSTED : GRPC_STATUS_INTERNAL;
	}
	return GRPC_STATUS_OK;
}

/* Returns the snapshot retired by the apply, freed after the ack (a large document's free
 * takes milliseconds). */
static struct snapshot *do_apply(struct agent *a, struct job *job)
{
	const Iofence__V1__ApplyRequest *req = job->req;
	const char *name = req->source_name && *req->source_name ? req->source_name : NULL;
	struct policy_errors errs = {0};
	struct policy_document *doc = NULL;
	struct policy_image *img = NULL;
	Iofence__V1__PolicyDocument *pb = NULL;
	struct snapshot *snap = NULL, *prev;
	struct snapshot *retired = NULL;
	uint8_t *packed = NULL;
	size_t packed_len;
	uint64_t t0 = now_usec(), compile_usec = 0, dp_usec = 0, t_parsed, t_packed, t_store, rev;
	char err[512] = "";
	int r, st;

	if (req->document && req->source && *req->source) {
		set_status(job, GRPC_STATUS_INVALID_ARGUMENT,
			   "ApplyRequest: set either document or source, not both");
		goto out;
	}
	if (req->source && *req->source) {
		/* controllers resend whole documents: re-parse only the items that changed */
		if (!a->reuse)
			a->reuse = policy_reuse_new();
		r = a->reuse ? policy_parse_reuse(a->reuse, req->source, strlen(req->source),
						  name ? name : "<source>", &doc, &errs)
			     : -ENOMEM;
	} else if (req->document)
		r = policy_from_pb(req->document, name ? name : "<grpc>", &doc, &errs);
	else {
		set_status(job, GRPC_STATUS_INVALID_ARGUMENT,
			   "ApplyRequest: neither document nor source is set");
		goto out;
	}
	t_parsed = now_usec();
	if (r == -EINVAL) {
		set_validation_errors(job, &errs);
		log_warn("apply refused: %zu validation error%s", errs.n + errs.dropped,
			 errs.n + errs.dropped == 1 ? "" : "s");
		goto out;
	} else if (r) {
		set_status(job, GRPC_STATUS_INTERNAL, "parse: %s", strerror(-r));
		goto out;
	}
	if (doc->has_revision && doc->revision <= a->store_latest) {
		set_status(job, GRPC_STATUS_FAILED_PRECONDITION,
			   "revision %llu is not newer than the applied revision %llu",
			   (unsigned long long)doc->revision, (unsigned long long)a->store_latest);
		log_warn("apply refused: %s", job->details);
		goto out;
	}
	if (!doc->has_revision) {
		doc->revision = a->store_latest + 1;
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
		set_status(job, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
		goto out;
	}
	packed_len = iofence__v1__policy_document__get_packed_size(pb ? pb : req->document);
	packed = malloc(packed_len ? packed_len : 1);
	snap = calloc(1, sizeof(*snap));
	if (!snap || !packed) {
		set_status(job, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
		goto out;
	}
	iofence__v1__policy_document__pack(pb ? pb : req->document, packed);
	policy_pb_free(pb);
	pb = NULL;
	t_packed = now_usec();
	st = compile_and_swap(a, doc, &img, &compile_usec, &dp_usec, err, sizeof(err));
	if (st != GRPC_STATUS_OK) {
		set_status(job, st, "revision %llu: %s", (unsigned long long)rev, err);
		log_error("apply of revision %llu failed: %s", (unsigned long long)rev, err);
		goto out;
	}
	t_store = now_usec();
	pthread_mutex_lock(&a->store_lock);
	r = store_commit(a->store, rev, packed, packed_len, name ? name : "");
	if (r)
		snprintf(err, sizeof(err), "store: %s: %s", strerror(-r),
			 store_last_error(a->store));
	pthread_mutex_unlock(&a->store_lock);
	if (r) {
		/* Not durable: put the previous revision back before saying no. */
		prev = engine_current(a);
		if (prev && a->dp) {
			/* Published images keep no entries (memory): compile them again. */
			struct policy_image *back = NULL;
			char err2[256];

			if (policy_compile(prev->doc, a->cfg.node, &back, err2, sizeof(err2)) ||
			    dp_apply(a->dp, back, err2, sizeof(err2)))
				log_error("rollback to revision %llu failed: %s",
					  (unsigned long long)prev->revision, err2);
			policy_image_free(back);
		}
		snapshot_unref(prev);
		set_status(job,
			   r == -ESTALE ? GRPC_STATUS_FAILED_PRECONDITION : GRPC_STATUS_UNAVAILABLE,
			   "revision %llu: %s", (unsigned long long)rev, err);
		log_error("apply of revision %llu failed: %s", (unsigned long long)rev, err);
		goto out;
	}
	a->store_latest = rev;
	free(packed);
	packed = NULL;
	policy_image_release_entries(img); /* in the maps now; keep only the names */
	atomic_store(&snap->refs, 1);
	snap->revision = rev;
	snap->doc = doc;
	snap->image = img;
	snap->applied_unix = time(NULL);
	if (req->source && *req->source)
		snap->source = strdup(req->source);
	snap->source_name = strdup(name ? name : "");
	job->resp.revision = rev;
	job->resp.node = a->cfg.node;
	job->resp.endpoints = (uint32_t)img->n_endpoints;
	job->resp.entries = policy_image_entries(img) + img->n_prefilter + img->n_endpoints;
	job->resp.compile_usec = compile_usec;
	job->resp.apply_usec = now_usec() - t0;
	job->status = GRPC_STATUS_OK;
	retired = publish(a, snap);
	events_rescan_cgroups(a);
	log_debug("revision %llu: parse+validate %.1f ms (%zu bytes parsed), pack %.1f ms, "
		  "compile %.1f ms, datapath %.1f ms, store commit %.1f ms",
		  (unsigned long long)rev, (t_parsed - t0) / 1e3,
		  req->source && *req->source ? policy_reuse_stats(a->reuse)->reread_bytes : 0,
		  (t_packed - t_parsed) / 1e3, compile_usec / 1e3, dp_usec / 1e3,
		  (now_usec() - t_store) / 1e3);
	log_info("applied revision %llu: %zu local endpoints, %zu rules, %llu entries, "
		 "compile %.1f ms, total %.1f ms",
		 (unsigned long long)rev, img->n_endpoints, img->n_rules,
		 (unsigned long long)job->resp.entries, compile_usec / 1e3,
		 job->resp.apply_usec / 1e3);
	doc = NULL;
	img = NULL;
	snap = NULL;
out:
	observe_apply(a, now_usec() - t0, job->status == GRPC_STATUS_OK);
	free(snap);
	free(packed);
	policy_image_free(img);
	policy_document_free(doc);
	policy_pb_free(pb);
	policy_errors_free(&errs);
	a->trim_pending = true;
	return retired;
}

static void do_cgroup(struct agent *a, struct job *job)
{
	int r;

	if (!a->dp)
		return;
	r = dp_cgroup_changed(a->dp, job->cgroup, job->up);
	if (r)
		log_warn("cgroup %s %s: %s", job->cgroup, job->up ? "appeared" : "went away",
			 strerror(-r));
	else
		log_info("cgroup %s %s", job->cgroup, job->up ? "appeared" : "went away");
}

static void do_link(struct agent *a, struct job *job)
{
	int r;

	if (!a->dp)
		return;
	r = dp_link_changed(a->dp, job->ifname, job->ifindex, job->up);
	if (r)
		log_warn("link %s (%d) %s: %s", job->ifname, job->ifindex,
			 job->up ? "added" : "removed", strerror(-r));
	else
		log_info("link %s (ifindex %d) %s", job->ifname, job->ifindex,
			 job->up ? "appeared" : "went away");
}

static void *apply_main(void *arg)
{
	struct agent *a = arg;
	struct job *job;

	for (;;) {
		pthread_mutex_lock(&a->q_lock);
		while (!a->q_head && !a->q_stop) {
			struct timespec idle;

			if (!a->trim_pending) {
				pthread_cond_wait(&a->q_cond, &a->q_lock);
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
			if (pthread_cond_timedwait(&a->q_cond, &a->q_lock, &idle) == ETIMEDOUT &&
			    !a->q_head) {
				a->trim_pending = false;
				pthread_mutex_unlock(&a->q_lock);
				malloc_trim(0);
				{
					struct mallinfo2 mi = mallinfo2();

					log_debug(
					    "heap trimmed: %zu KiB in use, %zu KiB free, %zu KiB "
					    "mmapped",
					    mi.uordblks >> 10, mi.fordblks >> 10, mi.hblkhd >> 10);
				}
				pthread_mutex_lock(&a->q_lock);
			}
		}
		job = a->q_head;
		if (job) {
			a->q_head = job->next;
			if (!a->q_head)
				a->q_tail = NULL;
		}
		pthread_mutex_unlock(&a->q_lock);
		if (!job)
			break; /* stopping and drained */
		if (job->kind == JOB_LINK || job->kind == JOB_CGROUP) {
			if (!a->q_stop && job->kind == JOB_LINK)
				do_link(a, job);
			else if (!a->q_stop)
				do_cgroup(a, job);
			job_free(job);
			continue;
		}
		struct snapshot *retired = NULL;

		if (a->q_stop)
			set_status(job, GRPC_STATUS_UNAVAILABLE, "agent is shutting down");
		else
			retired = do_apply(a, job);

		job->complete(job);

		snapshot_unref(retired);
	}
	policy_reuse_free(a->reuse);
	a->reuse = NULL;
	return NULL;
}

int engine_run(struct agent *a)
{
	return -pthread_create(&a->apply_thread, NULL, apply_main, a);
}

void engine_stop(struct agent *a)
{
	pthread_mutex_lock(&a->q_lock);
	a->q_stop = true;
	pthread_cond_broadcast(&a->q_cond);
	pthread_mutex_unlock(&a->q_lock);
	pthread_join(a->apply_thread, NULL);
}

/* Restores the store's latest revision into the datapath unless its active slot has it. */
static int restore(struct agent *a)
{
	struct store_revision sr = {0};
	Iofence__V1__PolicyDocument *pb = NULL;
	struct policy_errors errs = {0};
	struct policy_document *doc = NULL;
	struct policy_image *img = NULL;
	struct snapshot *snap;
	char err[512];
	int r;

	r = store_latest(a->store, &sr);
	if (r == -ENOENT) {
		log_info("store %s is empty: nothing to restore%s", a->cfg.state,
			 a->dp && dp_active_revision(a->dp)
			     ? " (the datapath keeps enforcing its pinned revision)"
			     : "");
		return 0;
	}
	if (r) {
		log_error("store %s: cannot read the latest revision: %s", a->cfg.state,
			  strerror(-r));
		return 2;
	}
	pb = iofence__v1__policy_document__unpack(NULL, sr.doc_len, sr.doc);
	if (!pb || policy_from_pb(pb, "<store>", &doc, &errs)) {
		log_error("store %s: revision %llu does not decode as a policy document",
			  a->cfg.state, (unsigned long long)sr.revision);
		r = 2;
		goto out;
	}
	doc->revision = sr.revision;
	doc->has_revision = true;
	r = policy_compile(doc, a->cfg.node, &img, err, sizeof(err));
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
	if (a->dp) {
		bool adopted = dp_active_revision(a->dp) == sr.revision;

		r = dp_apply(a->dp, img, err, sizeof(err));
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
	snap = calloc(1, sizeof(*snap));
	if (!snap) {
		r = 2;
		goto out;
	}
	atomic_store(&snap->refs, 1);
	snap->revision = sr.revision;
	snap->doc = doc;
	if (img)
		policy_image_release_entries(img);
	snap->image = img;
	snap->source_name = sr.source_name;
	snap->applied_unix = time(NULL);
	sr.source_name = NULL;
	doc = NULL;
	img = NULL;
	a->store_latest = snap->revision;
	snapshot_unref(publish(a, snap));
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

int engine_start(struct agent *a)
{
	char err[512] = "";
	int r;

	pthread_mutex_init(&a->store_lock, NULL);
	pthread_mutex_init(&a->snap_lock, NULL);
	pthread_mutex_init(&a->q_lock, NULL);
	{
		pthread_condattr_t ca;

		pthread_condattr_init(&ca);
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		pthread_cond_init(&a->q_cond, &ca);
		pthread_condattr_destroy(&ca);
	}
	r = store_open(a->cfg.state, &a->store, err, sizeof(err));
	if (r) {
		log_error("store: %s", err[0] ? err : strerror(-r));
		return 2;
	}
	store_set_keep(a->store, a->cfg.keep);
	if (!a->cfg.datapath_none) {
		struct dp_options opts = {
		    .pin_dir = a->cfg.pin_dir,
		    .bpf_object = a->cfg.bpf_object,
		    .config =
			{
			    .ct_timeout_tcp_ns = 3600ull * 1000000000ull,
			    .ct_timeout_tcp_syn_ns = 60ull * 1000000000ull,
			    .ct_timeout_tcp_closing_ns = 10ull * 1000000000ull,
			    .ct_timeout_udp_ns = 60ull * 1000000000ull,
			    .ct_timeout_other_ns = 30ull * 1000000000ull,
			    .events_per_sec = a->cfg.events_per_sec,
			    .flags = IOF_CFG_EVENT_ALLOWS,
			},
		};

		opts.xdp_generic = a->cfg.xdp_generic;
		for (size_t i = 0; i < a->cfg.n_failsafe; i++) {
			unsigned port;
			char proto[8];

			if (sscanf(a->cfg.failsafe[i], "%7[a-z]:%u", proto, &port) != 2)
				continue; /* "none" */
			for (int fam = 4; fam <= 6 && opts.n_failsafe < IOF_FAILSAFE_MAX;
			     fam += 2) {
				struct iof_failsafe *f = &opts.failsafe[opts.n_failsafe++];

				f->used = 1;
				f->proto = strcmp(proto, "udp") ? 6 : 17;
				f->port = htons((uint16_t)port);
				f->family = (uint8_t)fam;
			}
		}
		r = dp_open(&opts, &a->dp, err, sizeof(err));
		if (r) {
			log_error("datapath: %s", err[0] ? err : strerror(-r));
			return 2;
		}
		log_info("datapath: %s pin dir %s (active revision %llu)",
			 dp_adopted(a->dp) ? "adopted" : "created", a->cfg.pin_dir,
			 (unsigned long long)dp_active_revision(a->dp));
	} else {
		log_warn("datapath: none (test mode): policies are stored but NOT enforced");
	}
	return restore(a);
}

void engine_close(struct agent *a)
{
	snapshot_unref(publish(a, NULL));
	snapshot_unref(publish(a, NULL));
	if (a->dp)
		dp_close(a->dp);
	a->dp = NULL;
	store_close(a->store);
	a->store = NULL;
}
