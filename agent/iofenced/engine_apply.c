// SPDX-License-Identifier: Apache-2.0
/*
 * An apply of a whole document (engine_apply_document): parse -> validate -> revision check
 * -> compile -> datapath swap -> store commit -> ack, and the steps the delta apply shares.
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

/*
 * Compiles doc for this node, given the enforced image (its profile numbers kept, the profiles
 * nothing changed for copied: policy_compile_update()).
 */
static int compile_next(struct engine *e, const struct policy_document *doc,
			struct policy_image **ret_img, char *err, size_t len)
{
	struct snapshot *cur = engine_current(e);
	int r = policy_compile_update(doc, e->cfg->node, cur ? snapshot_image(cur) : NULL,
				      POLICY_REUSE_PARTS, ret_img, err, len);

	snapshot_unref(cur);
	return r;
}

/*
 * dp_apply() failed after the flip: a hook of the new image was refused (dp_apply's contract).
 * The revision is not acknowledged, so it must not stay enforced either: the enforced one goes
 * back in. A refusal of the system, not a fault of the agent: FAILED_PRECONDITION, naming it.
 */
static int refused_after_flip(struct engine *e, char *err, size_t len)
{
	struct snapshot *cur = engine_current(e);
	uint64_t back = cur ? snapshot_revision(cur) : 0;
	size_t used = strnlen(err, len);

	snapshot_unref(cur);
	engine_swap_back(e);
	if (back)
		snprintf(err + used, len - used,
			 "; refused after the slot flip: revision %llu "
			 "stays enforced",
			 (unsigned long long)back);
	else /* nothing to go back to: the datapath keeps it until the next apply */
		snprintf(err + used, len - used,
			 "; refused after the slot flip (no earlier "
			 "revision to go back to)");
	return GRPC_STATUS_FAILED_PRECONDITION;
}

/* Compiles doc and swaps it into the datapath. grpc status; message in err. */
int engine_compile_and_swap(struct engine *e, struct policy_document *doc,
			    struct policy_image **ret_img, uint64_t *compile_usec,
			    uint64_t *dp_usec, char *err, size_t len)
{
	uint64_t t0 = engine_now_usec();
	int r = compile_next(e, doc, ret_img, err, len);

	*compile_usec = engine_now_usec() - t0;
	*dp_usec = 0;
	if (r == -E2BIG)
		return GRPC_STATUS_RESOURCE_EXHAUSTED;
	if (r) {
		snprintf(err, len, "compile: %s", strerror(-r));
		return GRPC_STATUS_INTERNAL;
	}
	if (!e->dp)
		return GRPC_STATUS_OK;
	t0 = engine_now_usec();
	r = dp_apply(e->dp, *ret_img, err, len);
	*dp_usec = engine_now_usec() - t0;
	if (r) {
		bool flipped = dp_active_revision(e->dp) == (*ret_img)->revision;

		policy_image_free(*ret_img);
		*ret_img = NULL;
		if (flipped)
			return refused_after_flip(e, err, len);
		if (r == -EMEDIUMTYPE) /* a cgroup path of this node: refused before any write */
			return GRPC_STATUS_FAILED_PRECONDITION;
		return r == -E2BIG ? GRPC_STATUS_RESOURCE_EXHAUSTED : GRPC_STATUS_INTERNAL;
	}
	return GRPC_STATUS_OK;
}

/*
 * The image of a revision just enforced, for its snapshot. In cluster mode it keeps its
 * entries: the next delta's compile copies the profiles nothing changed for. Elsewhere the
 * entries are in the maps and only the names are kept (memory).
 */
void engine_keep_image(struct engine *e, struct policy_image *img)
{
	if (!e->cfg->etcd_endpoints)
		policy_image_release_entries(img);
}

/* Map entries an image wrote (the Apply response's and the CLI's figure). */
uint64_t engine_image_entries(const struct policy_image *img)
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
static bool answer_unchanged(struct engine *e, const struct policy_document *doc, struct job *job)
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
		job->resp.entries = img ? engine_image_entries(img) : 0;
		job->status = GRPC_STATUS_OK;
		log_info("apply: document unchanged from revision %llu", (unsigned long long)rev);
	}
	snapshot_unref(cur);
	return unchanged;
}

/* A commit failed after the swap: put the enforced revision's image back. */
void engine_swap_back(struct engine *e)
{
	struct snapshot *prev = engine_current(e);

	if (prev && e->dp) {
		/* its own numbers; its records copied when its image kept them */
		struct policy_image *back = NULL;
		char err2[256];

		if (policy_compile_update(snapshot_doc(prev), e->cfg->node, snapshot_image(prev),
					  POLICY_REUSE_PARTS, &back, err2, sizeof(err2)) ||
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
struct snapshot *engine_apply_document(struct engine *e, struct job *job)
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
	uint64_t t0 = engine_now_usec(), compile_usec = 0, dp_usec = 0, t_packed, t_store, rev;
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
	journal = engine_journal_fits(e, job->delta);
	if (journal)
		packed = engine_pack_message(&job->delta->base, &packed_len);
	else
		packed = engine_pack_message(pb ? &pb->base : &req->document->base, &packed_len);
	snap = snapshot_new();
	if (!snap || !packed) {
		job_set_status(job, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
		goto out;
	}
	policy_pb_free(pb);
	pb = NULL;
	t_packed = engine_now_usec();
	if (job->read_cpu_usec + thread_cpu_usec() - cpu0 >= APPLY_READ_BUDGET_MS * 1000ull ||
	    job_gone(job, t_packed)) {
		job_refuse_late(job, NULL, read_usec + t_packed - t0);
		goto out;
	}
	st = engine_compile_and_swap(e, doc, &img, &compile_usec, &dp_usec, err, sizeof(err));
	if (st != GRPC_STATUS_OK) {
		job_set_status(job, st, "revision %llu: %s", (unsigned long long)rev, err);
		log_error("apply of revision %llu failed: %s", (unsigned long long)rev, err);
		goto out;
	}
	t_store = engine_now_usec();
	r = engine_store_revision(e, rev, journal, journal ? job->delta->base_revision : 0, packed,
				  packed_len, name ? name : "", shown && *shown ? shown : NULL, err,
				  sizeof(err));
	if (r) {
		/* Not durable: put the previous revision back before saying no. */
		engine_swap_back(e);
		job_set_status(
		    job, r == -ESTALE ? GRPC_STATUS_FAILED_PRECONDITION : GRPC_STATUS_UNAVAILABLE,
		    "revision %llu: %s", (unsigned long long)rev, err);
		log_error("apply of revision %llu failed: %s", (unsigned long long)rev, err);
		goto out;
	}
	free(packed);
	packed = NULL;
	engine_keep_image(e, img);
	snapshot_set(snap, rev, doc, img, shown && *shown ? strdup(shown) : NULL,
		     strdup(name ? name : ""), time(NULL));
	job->resp.revision = rev;
	job->resp.node = e->cfg->node;
	job->resp.endpoints = (uint32_t)img->n_endpoints;
	job->resp.entries = engine_image_entries(img);
	job->resp.compile_usec = compile_usec;
	job->resp.apply_usec = read_usec + engine_now_usec() - t0;
	job->status = GRPC_STATUS_OK;
	retired = engine_publish(e, snap);
	engine_announce(e);
	log_debug("revision %llu: %s %.1f ms, pack %.1f ms, "
		  "compile %.1f ms, datapath %.1f ms, store commit (%s) %.1f ms",
		  (unsigned long long)rev,
		  req->source && *req->source ? "parse+validate" : "read+validate", read_usec / 1e3,
		  (t_packed - t0) / 1e3, compile_usec / 1e3, dp_usec / 1e3,
		  journal ? "delta" : "whole", (engine_now_usec() - t_store) / 1e3);
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
		engine_observe_apply(e, read_usec + engine_now_usec() - t0,
				     job->status == GRPC_STATUS_OK);
	snapshot_unref(snap);
	free(packed);
	policy_image_free(img);
	policy_document_free(doc);
	policy_pb_free(pb);
	e->trim_pending = true;
	return retired;
}
