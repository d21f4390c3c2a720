/* SPDX-License-Identifier: Apache-2.0 */
/*
 * iofenced: the per-node agent. Shared state of its parts: configuration, the applied
 * revision (an immutable snapshot readers hold a reference to), the store, the datapath, the
 * apply worker's queue, and the entry points each part offers the others.
 */
#ifndef IOFENCE_IOFENCED_AGENT_H
#define IOFENCE_IOFENCED_AGENT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <net/if.h>

#include <grpc/grpc.h>
#include <iofence/v1/agent.pb-c.h>

#include "agent/datapath/datapath.h"
#include "policy/image.h"
#include "policy/model.h"

#define AGENT_VERSION "0.1.0"
#define AGENT_DEFAULT_CONFIG "/etc/iofence/iofenced.conf"
#define AGENT_DEFAULT_STATE "/var/lib/iofence/state.db"
#define AGENT_DEFAULT_LISTEN "unix:/run/iofence/iofenced.sock"

/* ---- log.c ---- */
enum log_level { LOG_ERROR = 0, LOG_WARN = 1, LOG_INFO = 2, LOG_DEBUG = 3 };

int log_parse_level(const char *name); /* -1 if unknown */
void log_set_level(int level);
void log_msg(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)

/* ---- config.c ---- */
struct agent_config {
	char *config_path;
	char *node;
	char *state;
	char **listen;
	size_t n_listen;
	char *pin_dir;
	char *metrics; /* HOST:PORT or NULL */
	char *tls_ca, *tls_cert, *tls_key;
	char *bpf_object;
	int log_level;
	bool insecure_tcp;
	bool cleanup;
	bool datapath_none; /* --datapath=none: test aid, no enforcement */
	unsigned keep;	    /* revisions kept in the store */
	unsigned events_per_sec;
	char **failsafe; /* PROTO:PORT never dropped by the prefilter; default tcp:22 */
	size_t n_failsafe;
	bool xdp_generic;
	/* cluster mode (follower.c): NULL endpoints = direct Apply */
	char *etcd_endpoints, *etcd_prefix, *etcd_ca, *etcd_cert, *etcd_key;
};

/* Return: 0, 1 when --help/--version was printed, or -EINVAL with a reason in err. */
int config_load(int argc, char **argv, struct agent_config *cfg, char *err, size_t err_len);
/* Re-reads cfg->config_path for SIGHUP: only run-time settings change (log level). */
int config_reload(struct agent_config *cfg, char *err, size_t err_len);
void config_free(struct agent_config *cfg);

/* ---- engine.c ---- */

/*
 * Names of an earlier revision's endpoints and rules, all its events need: the previous
 * revision keeps only these, not its document and image (a large policy's model is tens of MB).
 */
struct snapshot_names {
	char **endpoints; /* by endpoint index */
	size_t n_endpoints;
	char **groups;
	size_t n_groups;
	struct snapshot_rule_name {
		uint32_t group, index; /* groups[group], rule index in the group */
	} *rules;		       /* by rule id */
	size_t n_rules;
};

/* One applied revision; immutable once published. */
struct snapshot {
	atomic_int refs;
	uint64_t revision;
	struct policy_document *doc;   /* NULL in the previous revision's slim snapshot */
	struct policy_image *image;    /* NULL there too */
	struct snapshot_names *names;  /* the slim snapshot's names, else NULL */
	char *source; /* source text when applied as text (this process only), or NULL */
	char *source_name;
	int64_t applied_unix;
};

struct snapshot *snapshot_ref(struct snapshot *s);
void snapshot_unref(struct snapshot *s);

enum job_kind { JOB_APPLY, JOB_LINK, JOB_CGROUP };

struct job {
	struct job *next;
	enum job_kind kind;
	/* JOB_APPLY */
	Iofence__V1__ApplyRequest *req;	   /* owned by the job */
	void (*complete)(struct job *job); /* called on the apply thread; frees the job */
	void *ctx;
	int status;    /* grpc_status_code */
	char *details; /* malloc'ed */
	void *errors;  /* packed ValidationErrors or NULL */
	size_t errors_len;
	Iofence__V1__ApplyResponse resp;
	/* JOB_LINK */
	char ifname[IF_NAMESIZE];
	int ifindex;
	bool up; /* also JOB_CGROUP: the cgroup exists */
	/* JOB_CGROUP */
	char *cgroup; /* malloc'ed path */
};

/* Apply metrics (read by metrics.c). Buckets in seconds: see APPLY_BUCKETS. */
#define APPLY_BUCKETS 12
extern const double apply_bucket_le[APPLY_BUCKETS];

struct agent_stats {
	atomic_uint_fast64_t apply_ok, apply_failed;
	atomic_uint_fast64_t apply_bucket[APPLY_BUCKETS]; /* non-cumulative */
	atomic_uint_fast64_t apply_usec_sum;
	atomic_uint_fast64_t events_dropped; /* slow watchers */
	atomic_uint_fast64_t events_seen;
};

struct store;
struct server;
struct flows;
struct events;
struct MHD_Daemon;
struct follower;

struct agent {
	struct agent_config cfg;
	int64_t started_unix;
	struct store *store;
	pthread_mutex_t store_lock;
	uint64_t store_latest; /* newest stored revision (apply thread) */
	struct datapath *dp;   /* NULL with --datapath=none */
	pthread_mutex_t snap_lock;
	struct snapshot *current;  /* NULL: nothing applied */
	struct snapshot *previous; /* the revision before (slim), for events of the old slot */

	pthread_mutex_t q_lock;
	pthread_cond_t q_cond;
	struct job *q_head, *q_tail;
	bool q_stop;
	bool trim_pending; /* an apply left heap to give back (apply thread only) */
	struct policy_reuse *reuse; /* the last source document read (apply thread only) */
	pthread_t apply_thread;

	struct agent_stats stats;
	struct server *server;
	struct flows *flows;
	struct events *events;
	struct MHD_Daemon *metrics;
	struct follower *follower; /* cluster mode, else NULL */
};

/* Opens the store and the datapath and restores the latest revision. 0 or a ctl-style exit. */
int engine_start(struct agent *a);
/* Starts and stops the apply worker thread. */
int engine_run(struct agent *a);
void engine_stop(struct agent *a);
void engine_close(struct agent *a);
/* Queues a job for the apply worker (never blocks on an apply). */
void engine_submit(struct agent *a, struct job *job);
void job_free(struct job *job);
/* The applied revision (a reference, or NULL); release with snapshot_unref(). */
struct snapshot *engine_current(struct agent *a);
struct snapshot *engine_snapshot_of(struct agent *a, uint64_t revision);

/* ---- reads.c: unary read RPCs, answered on the server threads ---- */
/* Bump allocator for one response: everything in it is freed at once. */
struct arena {
	struct arena_block *head;
	struct arena_cleanup *cleanups;
};
void *arena_alloc(struct arena *ar, size_t size); /* zeroed; NULL on ENOMEM */
char *arena_strdup(struct arena *ar, const char *s);
char *arena_printf(struct arena *ar, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Runs fn(ptr) when the arena is freed. */
int arena_defer(struct arena *ar, void (*fn)(void *), void *ptr);
void arena_free(struct arena *ar);

/* Each returns a grpc_status_code and, on OK, the response in *ret (arena memory). */
int reads_status(struct agent *a, struct arena *ar, ProtobufCMessage **ret, char *details,
		 size_t len);
int reads_policy(struct agent *a, const Iofence__V1__GetPolicyRequest *req, struct arena *ar,
		 ProtobufCMessage **ret, char *details, size_t len);
int reads_counters(struct agent *a, const Iofence__V1__GetCountersRequest *req, struct arena *ar,
		   ProtobufCMessage **ret, char *details, size_t len);

/* ---- server.c ---- */
/* Locks the store and the unix socket paths (before anything else touches them). */
int server_lock(struct agent *a, char *err, size_t err_len);
int server_start(struct agent *a, char *err, size_t err_len);
/* Stops accepting calls (phase 1) and finishes (phase 2, after the workers stopped). */
void server_shutdown_begin(struct agent *a);
void server_shutdown_finish(struct agent *a);

/* ---- flows.c: WatchFlows fan-out ---- */
struct watcher;
int flows_init(struct agent *a);
void flows_free(struct agent *a);
/* Called from the event loop for each ring buffer record. */
void flows_dispatch(struct agent *a, const struct iof_event *ev);
/* Server side of a stream: add / remove a watcher bound to a call. */
struct watcher *flows_add(struct agent *a, const Iofence__V1__WatchFlowsRequest *req,
			  void *call_ctx);
void flows_remove(struct agent *a, struct watcher *w);
/* Sends the stream's initial metadata; call after the call records the watcher. */
void flows_start(struct agent *a, struct watcher *w);
/* A send of this watcher completed: send the next queued event, if any. */
void flows_sent(struct agent *a, struct watcher *w, bool ok);
/* Strings a converted FlowEvent points into. */
struct flow_strings {
	char endpoint[128], rule[192], src[48], dst[48];
};
/* Converts a ring buffer record into a FlowEvent. */
void flows_event_to_pb(struct agent *a, const struct iof_event *ev, Iofence__V1__FlowEvent *out,
		       struct flow_strings *str);
/* server.c: start sending one packed event on the watcher's call (false if it cannot). */
bool server_stream_send(void *call_ctx, grpc_byte_buffer *bb);
void server_stream_end(void *call_ctx);

/* ---- events.c: the event loop (ring buffer, netlink link events) ---- */
int events_start(struct agent *a, char *err, size_t err_len);
void events_stop(struct agent *a);
/* Asks the event loop to look at the endpoints' cgroups again (after a new revision). */
void events_rescan_cgroups(struct agent *a);

/* ---- metrics.c ---- */
int metrics_start(struct agent *a, char *err, size_t err_len);
void metrics_stop(struct agent *a);

/* ---- util ---- */
uint64_t now_usec(void);
const char *drop_reason_name(unsigned reason);

#endif /* IOFENCE_IOFENCED_AGENT_H */
