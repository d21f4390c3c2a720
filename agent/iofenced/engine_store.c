// SPDX-License-Identifier: Apache-2.0
/*
 * The engine's store: commits of revisions (whole or as deltas), the journal rebase after
 * acks, the restore at start, and the reads of stored revisions.
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

/* The revision can be stored as its delta (journal.h) rather than as the whole document. */
bool engine_journal_fits(const struct engine *e, const Iofence__V1__PolicyDelta *delta)
{
	return delta && e->store_latest && delta->base_revision == e->store_latest &&
	       journal_chain_fits(&e->chain);
}

/* Packs msg (a PolicyDocument or PolicyDelta) for the store. */
uint8_t *engine_pack_message(const ProtobufCMessage *msg, size_t *len)
{
	uint8_t *buf;

	*len = protobuf_c_message_get_packed_size(msg);
	buf = malloc(*len ? *len : 1);
	if (buf)
		protobuf_c_message_pack(msg, buf);
	return buf;
}

/* Commits rev (whole or as its delta); err says why not. 0 or -errno. */
int engine_store_revision(struct engine *e, uint64_t rev, bool journal, uint64_t base,
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

/*
 * After an ack: a journal chain past its due length is cut by storing the enforced revision
 * again whole (journal.h). Done here rather than with the revision, so that the whole
 * document's encoding and write never delay an acknowledgement.
 */
void engine_rebase_journal(struct engine *e)
{
	struct snapshot *cur;
	uint64_t t0 = engine_now_usec(), rev;
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
		  (engine_now_usec() - t0) / 1e3);
	journal_chain_restart(&e->chain, bytes);
}

/* Restores the store's latest revision into the datapath unless its active slot has it. */
int engine_restore(struct engine *e)
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
		engine_keep_image(e, img);
	snapshot_set(snap, sr.revision, doc, img, sr.source, sr.source_name, time(NULL));
	sr.source = NULL;
	sr.source_name = NULL;
	doc = NULL;
	img = NULL;
	e->store_latest = sr.revision;
	/* the chain's own bytes are not known: its length and the document's size are */
	journal_chain_restart(&e->chain, sr.doc_len);
	e->chain.depth = depth;
	snapshot_unref(engine_publish(e, snap));
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

int engine_sync(struct engine *e)
{
	return e->store ? store_sync(e->store) : 0;
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
