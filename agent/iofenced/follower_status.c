// SPDX-License-Identifier: Apache-2.0
/*
 * The follower's reports (follower_internal.h): the node's status key under a lease kept
 * alive, the implementation delay histogram and the iofence_datastore_* metrics.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent.h"
#include "agent/etcd/cluster.h"
#include "engine.h"
#include "follower.h"
#include "follower_internal.h"
#include "log.h"

static const double delay_le[DELAY_BUCKETS] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
					       0.5,   1,    2.5,   5,	   10,	30};

void follower_observe_delay(struct follower *f, double s)
{
	size_t i;

	for (i = 0; i < DELAY_BUCKETS && s > delay_le[i]; i++)
		;
	if (i < DELAY_BUCKETS)
		atomic_fetch_add(&f->delay_bucket[i], 1);
	atomic_fetch_add(&f->delay_count, 1);
	atomic_fetch_add(&f->delay_usec_sum, (uint64_t)(s * 1e6));
	f->last_delay = s;
}

/* Lets go of the status key's lease (gone, or etcd unreachable): the key goes with it, so the
 * status is written again under a new lease. Lock not held. */
static void lose_lease(struct follower *f)
{
	f->lease = 0;
	pthread_mutex_lock(&f->lock);
	f->status_dirty = true;
	pthread_mutex_unlock(&f->lock);
}

#define STATUS_PUT_TIMEOUT_MS 3000

int follower_finish_put(struct follower *f, bool wait_for_it)
{
	uint64_t end = f->put_started_usec + STATUS_PUT_TIMEOUT_MS * 1000ull, now;
	char err[512];
	int r;

	if (!f->put)
		return 0;
	now = follower_now_usec();
	r = etcd_put_finish(f->put, wait_for_it && now < end ? (int)((end - now) / 1000u) : 0,
			    err, sizeof(err));
	if (r == -EINPROGRESS) {
		if (!wait_for_it && follower_now_usec() < end)
			return r;
		etcd_put_cancel(f->put);
		snprintf(err, sizeof(err), "status put: no answer in %d ms", STATUS_PUT_TIMEOUT_MS);
		r = -ETIMEDOUT;
	}
	f->put = NULL;
	if (r) {
		log_debug("datastore: status: %s", err);
		lose_lease(f); /* expired or unreachable: a new lease next time */
	}
	return r;
}

/*
 * Keeps the status key's lease alive. etcd renews a lease on a keep-alive only, never on a
 * put under it: a node that reports often must still keep its lease alive, or its key
 * vanishes with it. Lock not held. 0 or -errno.
 */
int follower_keep_lease(struct follower *f)
{
	char err[512];
	int64_t ttl = 0;
	int r;

	if (follower_finish_put(f, true))
		return -EAGAIN; /* the lease is let go: a new one with the next put */
	r = etcd_lease_keepalive(f->etcd, f->lease, &ttl, err, sizeof(err));
	if (!r && ttl > 0) {
		f->lease_alive_usec = follower_now_usec();
		return 0;
	}
	log_debug("datastore: status lease %lld: %s", (long long)f->lease,
		  r ? err : "expired");
	lose_lease(f);
	return r ? r : -ENOENT;
}

void follower_sync_store(struct follower *f)
{
	int r = engine_sync(f->a->engine);

	if (r) /* tried again FOLLOWER_SYNC_MS later */
		log_warn("datastore: the store cannot sync: %s", strerror(-r));
	pthread_mutex_lock(&f->lock);
	if (!r)
		f->unsynced_since_usec = 0;
	pthread_mutex_unlock(&f->lock);
}

/* Writes the status key (under a lease, granted first when there is none). Lock not held. */
int follower_write_status(struct follower *f)
{
	Iofence__V1__NodeStatus ns = IOFENCE__V1__NODE_STATUS__INIT;
	char err[512], api[1024] = "";
	size_t alen = 0, len;
	int64_t applied;
	uint8_t *buf;
	int r = follower_finish_put(f, true);

	if (r)
		return r;
	if (!f->lease) {
		r = etcd_lease_grant(f->etcd, FOLLOWER_LEASE_TTL, &f->lease, err, sizeof(err));
		if (r) {
			f->lease = 0;
			log_debug("datastore: status lease: %s", err);
			return r;
		}
		f->lease_alive_usec = follower_now_usec();
	}
	for (size_t i = 0; i < f->a->cfg.n_listen; i++)
		alen += (size_t)snprintf(api + alen, sizeof(api) - alen, "%s%s", i ? "," : "",
					 f->a->cfg.listen[i]);
	/* what the key reports as enforced is in the store's WAL file (safe from a crash of the
	 * agent); its fsync comes later, follower_sync_store() */
	pthread_mutex_lock(&f->lock);
	applied = f->applied_rev;
	ns.node = f->a->cfg.node;
	ns.applied_revision = f->foreign ? 0 : (uint64_t)applied;
	ns.datastore_revision = (uint64_t)f->m.policy_rev;
	ns.version = (char *)AGENT_VERSION;
	ns.api = api;
	ns.error = f->error;
	ns.failed_revision = (uint64_t)f->failed_rev;
	ns.connected = atomic_load(&f->connected);
	ns.disconnected_since_unix = (uint64_t)atomic_load(&f->disconnected_since);
	ns.updated_unix = (uint64_t)time(NULL);
	ns.last_delay_seconds = f->last_delay;
	len = iofence__v1__node_status__get_packed_size(&ns);
	buf = malloc(len + 1);
	if (buf)
		iofence__v1__node_status__pack(&ns, buf);
	f->status_dirty = f->applied_rev != applied; /* applied meanwhile: reported next */
	pthread_mutex_unlock(&f->lock);
	if (!buf)
		return -ENOMEM;
	/* sent now; its answer is taken before the next call (follower_finish_put()): the
	 * thread is not woken when etcd answers */
	r = etcd_put_start(f->etcd, f->status_key, buf, len, f->lease, &f->put, err, sizeof(err));
	free(buf);
	f->put_started_usec = follower_now_usec();
	if (r) {
		log_debug("datastore: status: %s", err);
		lose_lease(f);
	}
	return r;
}

void follower_metrics(struct agent *a, FILE *out)
{
	struct follower *f = a->follower;
	uint64_t cum = 0;
	int64_t seen;

	if (!f)
		return;
	pthread_mutex_lock(&f->lock);
	seen = f->m.policy_rev;
	pthread_mutex_unlock(&f->lock);
	fprintf(out,
		"# HELP iofence_datastore_connected 1 while the agent watches the datastore.\n"
		"# TYPE iofence_datastore_connected gauge\n"
		"iofence_datastore_connected %d\n"
		"# HELP iofence_datastore_disconnected_since_seconds Unix time the connection was "
		"lost (0: connected).\n"
		"# TYPE iofence_datastore_disconnected_since_seconds gauge\n"
		"iofence_datastore_disconnected_since_seconds %lld\n"
		"# HELP iofence_datastore_revision Newest policy revision seen in the datastore.\n"
		"# TYPE iofence_datastore_revision gauge\n"
		"iofence_datastore_revision %lld\n"
		"# HELP iofence_policy_implementation_delay_seconds Controller write to enforced.\n"
		"# TYPE iofence_policy_implementation_delay_seconds histogram\n",
		atomic_load(&f->connected) ? 1 : 0, (long long)atomic_load(&f->disconnected_since),
		(long long)seen);
	for (size_t i = 0; i < DELAY_BUCKETS; i++) {
		cum += atomic_load(&f->delay_bucket[i]);
		fprintf(out,
			"iofence_policy_implementation_delay_seconds_bucket{le=\"%g\"} %llu\n",
			delay_le[i], (unsigned long long)cum);
	}
	fprintf(out,
		"iofence_policy_implementation_delay_seconds_bucket{le=\"+Inf\"} %llu\n"
		"iofence_policy_implementation_delay_seconds_sum %.6f\n"
		"iofence_policy_implementation_delay_seconds_count %llu\n",
		(unsigned long long)atomic_load(&f->delay_count),
		(double)atomic_load(&f->delay_usec_sum) / 1e6,
		(unsigned long long)atomic_load(&f->delay_count));
}
