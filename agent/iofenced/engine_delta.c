// SPDX-License-Identifier: Apache-2.0
/*
 * A delta apply (cluster mode): the enforced document with the changed endpoints and groups
 * applied, compiled, swapped and stored as the delta.
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
 * JOB_DELTA: only endpoints and security groups changed (cluster mode). The document is the
 * enforced one with the changes applied: unchanged groups and prefilters shared, the changed
 * groups and the endpoints checked again (policy/derive.h); compiled and swapped like any
 * revision (the compiler reads only the groups of this node's endpoints, the datapath writes
 * the entries that changed), stored as the delta.
 */
struct snapshot *engine_apply_delta(struct engine *e, struct job *job)
{
	const Iofence__V1__PolicyDelta *delta = job->delta;
	struct snapshot *cur = engine_current(e), *snap = NULL, *retired = NULL;
	uint64_t rev = job->delta_revision, t0 = engine_now_usec(), compile_usec = 0, dp_usec = 0;
	uint64_t cpu0 = thread_cpu_usec();
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
		job_set_status(
		    job, GRPC_STATUS_FAILED_PRECONDITION,
		    "revision %llu: a delta on revision %llu, but revision %llu is enforced",
		    (unsigned long long)rev, (unsigned long long)(delta ? delta->base_revision : 0),
		    (unsigned long long)(cur ? snapshot_revision(cur) : 0));
		goto out;
	}
	r = journal_changes_of(delta, &jc, err, sizeof(err));
	if (!r)
		/* the enforced document only gains pointers to what it shares (readers never
		 * look at them) */
		r = policy_derive((struct policy_document *)snapshot_doc(cur), &jc.changes,
				  "<etcd>", &doc, &errs);
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
	t_derived = engine_now_usec();
	st = engine_compile_and_swap(e, doc, &img, &compile_usec, &dp_usec, err, sizeof(err));
	if (st != GRPC_STATUS_OK) {
		job_set_status(job, st, "revision %llu: %s", (unsigned long long)rev, err);
		log_error("apply of revision %llu failed: %s", (unsigned long long)rev, err);
		goto out;
	}
	journal = engine_journal_fits(e, delta);
	if (journal)
		packed = engine_pack_message(&delta->base, &packed_len);
	else if (!policy_to_pb(doc, &pb))
		packed = engine_pack_message(&pb->base, &packed_len);
	snap = snapshot_new();
	t_store = engine_now_usec();
	r = packed && snap
		? engine_store_revision(e, rev, journal, delta->base_revision, packed, packed_len,
					FOLLOWER_SOURCE_NAME, NULL, err, sizeof(err))
		: -ENOMEM;
	if (r) {
		engine_swap_back(e);
		job_set_status(
		    job, r == -ENOMEM ? GRPC_STATUS_RESOURCE_EXHAUSTED : GRPC_STATUS_UNAVAILABLE,
		    "revision %llu: %s", (unsigned long long)rev,
		    r == -ENOMEM ? "out of memory" : err);
		log_error("apply of revision %llu failed: %s", (unsigned long long)rev,
			  job->details);
		goto out;
	}
	engine_keep_image(e, img);
	snapshot_set(snap, rev, doc, img, NULL, strdup(FOLLOWER_SOURCE_NAME), time(NULL));
	job->status = GRPC_STATUS_OK;
	retired = engine_publish(e, snap);
	engine_announce(e);
	log_debug("revision %llu: %zu endpoint%s and %zu group%s changed on revision %llu: "
		  "derive+validate %.2f ms, compile %.2f ms (%zu of %zu profiles reused), "
		  "datapath %.2f ms, store commit (%s) %.2f ms, apply CPU %.3f ms",
		  (unsigned long long)rev, jc.changes.n_endpoints,
		  jc.changes.n_endpoints == 1 ? "" : "s", jc.changes.n_groups,
		  jc.changes.n_groups == 1 ? "" : "s", (unsigned long long)delta->base_revision,
		  (t_derived - t0) / 1e3, compile_usec / 1e3, img->n_profiles_reused,
		  img->n_profiles, dp_usec / 1e3, journal ? "delta" : "whole",
		  (engine_now_usec() - t_store) / 1e3, (thread_cpu_usec() - cpu0) / 1e3);
	log_info("applied revision %llu: %zu endpoint%s and %zu group%s changed, %zu local "
		 "endpoints, total %.1f ms",
		 (unsigned long long)rev, jc.changes.n_endpoints,
		 jc.changes.n_endpoints == 1 ? "" : "s", jc.changes.n_groups,
		 jc.changes.n_groups == 1 ? "" : "s", img->n_endpoints,
		 (engine_now_usec() - t0) / 1e3);
	doc = NULL;
	img = NULL;
	snap = NULL;
out:
	engine_observe_apply(e, engine_now_usec() - t0, job->status == GRPC_STATUS_OK);
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
