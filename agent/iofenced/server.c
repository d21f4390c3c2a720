// SPDX-License-Identifier: Apache-2.0
/*
 * The gRPC server of iofence.v1.Agent on the C core: one completion queue served by two
 * threads, ARMED requests per method re-armed on arrival, one struct call per call with a
 * reference count and one tag per outstanding batch. Reads are answered on the queue
 * threads; Apply goes to the engine's worker, which completes the call when done; WatchFlows
 * streams what flows.c hands it.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <grpc/byte_buffer.h>
#include <grpc/grpc_security.h>
#include <grpc/support/alloc.h>
#include <grpc/support/time.h>

#include "agent.h"
#include "arrival.h"
#include "modules.h"
#include "agent/rpc/decode.h"
#include "agent/rpc/rpc.h"
#include "engine.h"
#include "flows.h"
#include "log.h"
#include "reads.h"
#include "server.h"

enum method {
	M_APPLY,
	M_STATUS,
	M_POLICY,
	M_COUNTERS,
	M_WATCH,
	M_MOD_ENABLE,
	M_MOD_DISABLE,
	M_MOD_LIST,
	M_TUNNELS,
	M_TRACE,
	M_APPLY_DRY_RUN,
	M_UNKNOWN,
	M_COUNT
};

static const char *const method_path[M_COUNT] = {
    [M_APPLY] = RPC_METHOD_APPLY,
    [M_STATUS] = RPC_METHOD_GET_STATUS,
    [M_POLICY] = RPC_METHOD_GET_POLICY,
    [M_COUNTERS] = RPC_METHOD_GET_COUNTERS,
    [M_WATCH] = RPC_METHOD_WATCH_FLOWS,
    [M_MOD_ENABLE] = RPC_METHOD_ENABLE_MODULE,
    [M_MOD_DISABLE] = RPC_METHOD_DISABLE_MODULE,
    [M_MOD_LIST] = RPC_METHOD_LIST_MODULES,
    [M_TUNNELS] = RPC_METHOD_GET_TUNNELS,
    [M_TRACE] = RPC_METHOD_TRACE,
    [M_APPLY_DRY_RUN] = RPC_METHOD_APPLY_DRY_RUN,
};

static const ProtobufCMessageDescriptor *const request_desc[M_COUNT] = {
    [M_APPLY] = &iofence__v1__apply_request__descriptor,
    [M_STATUS] = &iofence__v1__get_status_request__descriptor,
    [M_POLICY] = &iofence__v1__get_policy_request__descriptor,
    [M_COUNTERS] = &iofence__v1__get_counters_request__descriptor,
    [M_WATCH] = &iofence__v1__watch_flows_request__descriptor,
    [M_MOD_ENABLE] = &iofence__v1__module_request__descriptor,
    [M_MOD_DISABLE] = &iofence__v1__module_request__descriptor,
    [M_MOD_LIST] = &iofence__v1__list_modules_request__descriptor,
    [M_TUNNELS] = &iofence__v1__get_tunnels_request__descriptor,
    [M_TRACE] = &iofence__v1__trace_request__descriptor,
    [M_APPLY_DRY_RUN] = &iofence__v1__apply_request__descriptor,
};

#define ARMED 16
#define QUEUE_THREADS 2
/* Flow-control window of a stream (server_start): a policy document arrives in one. */
#define STREAM_WINDOW (8 << 20)

enum tag_kind { T_NEW, T_RECV, T_DONE, T_CLOSE, T_SEND, T_SHUTDOWN };

struct call;

struct tag {
	struct call *c;
	enum tag_kind kind;
};

struct server {
	struct agent *a;
	grpc_server *srv;
	grpc_completion_queue *cq;
	void *registered[M_COUNT];
	struct arrival_watch *arrivals; /* Apply messages still arriving */
	pthread_t threads[QUEUE_THREADS];
	int n_threads;
	atomic_bool stopping;
	atomic_int live; /* struct call alive */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool shutdown_done;
	struct tag shutdown_tag;
	char **unix_paths;
	int *lock_fds;
	size_t n_unix;
};

struct call {
	atomic_int refs;
	struct server *s;
	enum method m;
	grpc_call *call;
	gpr_timespec deadline;
	grpc_metadata_array md;
	grpc_byte_buffer *payload;
	grpc_call_details details;
	int cancelled;
	atomic_bool gone; /* the client cancelled (or the deadline passed) before the end */
	grpc_byte_buffer *out;
	grpc_byte_buffer *stream_out;
	grpc_slice status_details;
	bool has_status_details;
	grpc_metadata trailer;
	bool has_trailer;
	bool sent_initial;
	struct watcher *w;
	uint64_t started_usec;	/* when the call was matched (its headers came) */
	struct arrival arrival; /* the message's deadline (due_usec 0: not watched) */
	struct tag t_new, t_recv, t_done, t_close, t_send;
};

/*
 * Methods whose message may be large (up to RPC_MAX_REQUEST): matched when the call starts,
 * their message received by the server itself under the read budget's wall clock, so that the
 * time it takes to arrive is counted. Small requests are matched with their message.
 */
static bool message_received_later(enum method m)
{
	return m == M_APPLY || m == M_APPLY_DRY_RUN;
}

static void call_ref(struct call *c)
{
	atomic_fetch_add(&c->refs, 1);
}

static void call_unref(struct call *c)
{
	struct server *s = c->s;

	if (atomic_fetch_sub(&c->refs, 1) != 1)
		return;
	if (c->call)
		grpc_call_unref(c->call);
	if (c->payload)
		grpc_byte_buffer_destroy(c->payload);
	if (c->out)
		grpc_byte_buffer_destroy(c->out);
	if (c->stream_out)
		grpc_byte_buffer_destroy(c->stream_out);
	grpc_metadata_array_destroy(&c->md);
	if (c->m == M_UNKNOWN)
		grpc_call_details_destroy(&c->details);
	if (c->has_status_details)
		grpc_slice_unref(c->status_details);
	if (c->has_trailer) {
		grpc_slice_unref(c->trailer.key);
		grpc_slice_unref(c->trailer.value);
	}
	free(c);
	if (atomic_fetch_sub(&s->live, 1) == 1) {
		pthread_mutex_lock(&s->lock);
		pthread_cond_broadcast(&s->cond);
		pthread_mutex_unlock(&s->lock);
	}
}

static void arm(struct server *s, enum method m)
{
	struct call *c = calloc(1, sizeof(*c));
	grpc_call_error e;

	if (!c) {
		log_error("out of memory arming a request");
		return;
	}
	atomic_store(&c->refs, 1);
	atomic_fetch_add(&s->live, 1);
	c->s = s;
	c->m = m;
	c->t_new = (struct tag){c, T_NEW};
	c->t_recv = (struct tag){c, T_RECV};
	c->t_done = (struct tag){c, T_DONE};
	c->t_close = (struct tag){c, T_CLOSE};
	c->t_send = (struct tag){c, T_SEND};
	grpc_metadata_array_init(&c->md);
	if (m == M_UNKNOWN) {
		grpc_call_details_init(&c->details);
		e = grpc_server_request_call(s->srv, &c->call, &c->details, &c->md, s->cq, s->cq,
					     &c->t_new);
	} else {
		e = grpc_server_request_registered_call(
		    s->srv, s->registered[m], &c->call, &c->deadline, &c->md,
		    message_received_later(m) ? NULL : &c->payload, s->cq, s->cq, &c->t_new);
	}
	if (e != GRPC_CALL_OK) {
		if (!atomic_load(&s->stopping))
			log_error("grpc: cannot arm a request (%d)", e);
		call_unref(c);
	}
}

/* Ends a call: initial metadata (unless sent), message (if any), status (+ trailer). */
static void finish(struct call *c, int status, const char *details, grpc_byte_buffer *out,
		   const void *errors, size_t errors_len)
{
	grpc_op ops[3];
	size_t n = 0;

	memset(ops, 0, sizeof(ops));
	if (!c->sent_initial) {
		ops[n++].op = GRPC_OP_SEND_INITIAL_METADATA;
		c->sent_initial = true;
	}
	if (out) {
		c->out = out;
		ops[n].op = GRPC_OP_SEND_MESSAGE;
		ops[n++].data.send_message.send_message = out;
	}
	c->status_details = grpc_slice_from_copied_string(details ? details : "");
	c->has_status_details = true;
	if (errors) {
		c->trailer.key = grpc_slice_from_static_string(RPC_ERRORS_MD_KEY);
		c->trailer.value = grpc_slice_from_copied_buffer(errors, errors_len);
		c->has_trailer = true;
	}
	ops[n].op = GRPC_OP_SEND_STATUS_FROM_SERVER;
	ops[n].data.send_status_from_server.status = (grpc_status_code)status;
	ops[n].data.send_status_from_server.status_details = &c->status_details;
	ops[n].data.send_status_from_server.trailing_metadata_count = c->has_trailer ? 1 : 0;
	ops[n++].data.send_status_from_server.trailing_metadata =
	    c->has_trailer ? &c->trailer : NULL;
	call_ref(c);
	if (grpc_call_start_batch(c->call, ops, n, &c->t_done, NULL) != GRPC_CALL_OK) {
		log_error("grpc: cannot finish a call");
		call_unref(c);
	}
}

static bool call_gone(void *ctx)
{
	return atomic_load(&((struct call *)ctx)->gone);
}

/* A call's deadline on CLOCK_MONOTONIC in microseconds (the engine's clock); 0: none. */
static uint64_t deadline_usec(gpr_timespec deadline)
{
	gpr_timespec left;
	struct timespec now;
	int64_t usec;

	if (deadline.tv_sec == INT64_MAX || deadline.clock_type == GPR_TIMESPAN)
		return 0;
	left = gpr_time_sub(gpr_convert_clock_type(deadline, GPR_CLOCK_MONOTONIC),
			    gpr_now(GPR_CLOCK_MONOTONIC));
	usec = left.tv_sec * 1000000 + left.tv_nsec / 1000;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (uint64_t)now.tv_sec * 1000000u + (uint64_t)now.tv_nsec / 1000u +
	       (usec > 0 ? (uint64_t)usec : 0);
}

static void apply_complete(struct job *job)
{
	struct call *c = job->ctx;
	grpc_byte_buffer *out = NULL;

	if (job->status == GRPC_STATUS_OK)
		out = rpc_pack(&job->resp.base);
	finish(c, job->status, job->details, out, job->errors, job->errors_len);
	call_unref(c);
	job_free(job);
}

/* The flow sink of a WatchFlows call: start sending one packed event (false if it cannot). */
static bool stream_send(void *ctx, grpc_byte_buffer *bb)
{
	struct call *c = ctx;
	grpc_op ops[2];
	size_t n = 0;

	memset(ops, 0, sizeof(ops));
	if (!c->sent_initial) {
		ops[n++].op = GRPC_OP_SEND_INITIAL_METADATA;
		c->sent_initial = true;
	}
	if (bb) {
		c->stream_out = bb;
		ops[n].op = GRPC_OP_SEND_MESSAGE;
		ops[n++].data.send_message.send_message = bb;
	}
	call_ref(c);
	if (grpc_call_start_batch(c->call, ops, n, &c->t_send, NULL) != GRPC_CALL_OK) {
		c->stream_out = NULL;
		call_unref(c);
		return false;
	}
	return true;
}

/* A history-only stream replayed everything: end the call. */
static void stream_finish(void *ctx)
{
	finish(ctx, GRPC_STATUS_OK, "", NULL, NULL, 0);
}

/* The watcher let go of the call. */
static void stream_release(void *ctx)
{
	call_unref(ctx);
}

/* RECV_CLOSE_ON_SERVER: completes when the call ends (cancelled or finished). */
static void recv_close(struct call *c)
{
	grpc_op op;

	memset(&op, 0, sizeof(op));
	op.op = GRPC_OP_RECV_CLOSE_ON_SERVER;
	op.data.recv_close_on_server.cancelled = &c->cancelled;
	call_ref(c);
	if (grpc_call_start_batch(c->call, &op, 1, &c->t_close, NULL) != GRPC_CALL_OK)
		call_unref(c);
}

/*
 * An Apply (or ApplyDryRun) becomes a job for the engine, its message still undecoded: the
 * reader decodes it within the read budget, whose wall clock started with the call (before
 * the message arrived). Decoding the densest messages costs more than parsing the densest
 * text, and the queue threads answer every other call.
 */
static void handle_apply(struct server *s, struct call *c)
{
	struct agent *a = s->a;
	struct job *job = calloc(1, sizeof(*job));

	if (job)
		job->request = rpc_bytes(c->payload, &job->request_bytes);
	/* the reader works on the copy: the call need not hold the message too */
	grpc_byte_buffer_destroy(c->payload);
	c->payload = NULL;
	if (!job || !job->request) {
		free(job);
		finish(c, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory", NULL, NULL, 0);
		return;
	}
	job->kind = JOB_APPLY;
	job->dry_run = c->m == M_APPLY_DRY_RUN;
	job->complete = apply_complete;
	job->ctx = c;
	job->abandoned = call_gone;
	job->deadline_usec = deadline_usec(c->deadline);
	job->read_wall_ms = a->cfg.apply_read_wall_ms;
	job->read_by_usec = job->read_wall_ms ? c->started_usec + job->read_wall_ms * 1000ull : 0;
	iofence__v1__apply_response__init(&job->resp);
	call_ref(c);
	engine_submit(a->engine, job);
}

/* The watch's deadline passed before the message arrived whole: the client is answered. */
static void message_late(struct arrival *arr)
{
	struct call *c = (struct call *)((char *)arr - offsetof(struct call, arrival));
	char details[256];

	snprintf(details, sizeof(details),
		 "apply refused: its request message had not arrived whole %u ms after the call "
		 "started (the read budget's wall clock, --apply-read-wall-ms; messages are at "
		 "most %d bytes)",
		 c->s->a->cfg.apply_read_wall_ms, RPC_MAX_REQUEST);
	log_warn("%s", details);
	grpc_call_cancel_with_status(c->call, GRPC_STATUS_RESOURCE_EXHAUSTED, details, NULL);
	call_unref(c); /* the watch's */
}

/*
 * Receives an Apply's message: the read budget's wall clock starts now, when the call does,
 * and the arrival watch ends the call if the message is not in by then.
 */
static void receive_message(struct server *s, struct call *c)
{
	struct agent *a = s->a;
	grpc_op op;
	char details[512];

	if (a->cfg.etcd_endpoints && c->m == M_APPLY) {
		/* the datastore numbers revisions: a pushed one would fork the history */
		snprintf(details, sizeof(details),
			 "this node follows the datastore at %s (prefix %s): apply with "
			 "iofencectl apply --etcd-endpoints",
			 a->cfg.etcd_endpoints, a->cfg.etcd_prefix);
		finish(c, GRPC_STATUS_FAILED_PRECONDITION, details, NULL, NULL, 0);
		return;
	}
	if (a->cfg.apply_read_wall_ms && s->arrivals) {
		c->arrival.due_usec = c->started_usec + a->cfg.apply_read_wall_ms * 1000ull;
		c->arrival.expire = message_late;
		call_ref(c); /* the watch's, until it expires or is cancelled */
		arrival_watch_add(s->arrivals, &c->arrival);
	}
	memset(&op, 0, sizeof(op));
	op.op = GRPC_OP_RECV_MESSAGE;
	op.data.recv_message.recv_message = &c->payload;
	call_ref(c);
	if (grpc_call_start_batch(c->call, &op, 1, &c->t_recv, NULL) != GRPC_CALL_OK) {
		call_unref(c);
		if (c->arrival.due_usec && arrival_watch_cancel(s->arrivals, &c->arrival))
			call_unref(c);
		log_error("grpc: cannot receive a request message");
		grpc_call_cancel_with_status(c->call, GRPC_STATUS_INTERNAL,
					     "cannot receive the request message", NULL);
	}
}

/* RECV_MESSAGE of an Apply completed: ok false when the call ended first. */
static void message_received(struct server *s, struct call *c, bool ok)
{
	if (c->arrival.due_usec) {
		if (!arrival_watch_cancel(s->arrivals, &c->arrival))
			return; /* the watch has ended the call */
		call_unref(c); /* the watch's */
	}
	if (!ok)
		return; /* cancelled by the client, or its deadline passed */
	if (!c->payload) {
		finish(c, GRPC_STATUS_INVALID_ARGUMENT, "no request message", NULL, NULL, 0);
		return;
	}
	log_debug("apply: a %zu-byte message arrived %.1f ms after the call started",
		  grpc_byte_buffer_length(c->payload), (monotonic_usec() - c->started_usec) / 1e3);
	handle_apply(s, c);
}

static void handle_new(struct server *s, struct call *c)
{
	struct agent *a = s->a;
	ProtobufCMessage *req = NULL, *resp = NULL;
	struct arena ar = {0};
	char details[512] = "";
	int st;

	if (!atomic_load(&s->stopping))
		arm(s, c->m);
	if (c->m != M_WATCH)
		recv_close(c);
	if (c->m == M_UNKNOWN) {
		char *m = grpc_slice_to_c_string(c->details.method);

		log_debug("call to unknown method %s", m);
		gpr_free(m);
		finish(c, GRPC_STATUS_UNIMPLEMENTED, "unknown method", NULL, NULL, 0);
		return;
	}
	if (message_received_later(c->m)) {
		c->started_usec = monotonic_usec();
		receive_message(s, c);
		return;
	}
	req = rpc_unpack(request_desc[c->m], c->payload);
	if (!req && errno == E2BIG) {
		snprintf(details, sizeof(details),
			 "request message refused: decoded, its %zu bytes would take more than "
			 "%d times as much memory (or %zu MiB)",
			 (size_t)grpc_byte_buffer_length(c->payload), RPC_DECODE_FACTOR,
			 RPC_DECODE_MAX >> 20);
		log_warn("%s: %s", method_path[c->m], details);
		finish(c, GRPC_STATUS_INVALID_ARGUMENT, details, NULL, NULL, 0);
		return;
	}
	if (!req) {
		log_warn("%s: malformed request message", method_path[c->m]);
		finish(c, GRPC_STATUS_INVALID_ARGUMENT, "malformed request message", NULL, NULL, 0);
		return;
	}
	switch (c->m) {
	case M_STATUS:
		st = reads_status(a, &ar, &resp, details, sizeof(details));
		goto reply;
	case M_POLICY:
		st = reads_policy(a, (void *)req, &ar, &resp, details, sizeof(details));
		goto reply;
	case M_TRACE:
		st = reads_trace(a, (void *)req, &ar, &resp, details, sizeof(details));
		goto reply;
	case M_MOD_ENABLE:
		st = modules_enable(a, (void *)req, &ar, &resp, details, sizeof(details));
		goto reply;
	case M_MOD_DISABLE:
		st = modules_disable(a, (void *)req, &ar, &resp, details, sizeof(details));
		goto reply;
	case M_MOD_LIST:
		st = modules_list(a, &ar, &resp, details, sizeof(details));
		goto reply;
	case M_TUNNELS:
		st = modules_tunnels(a, (void *)req, &ar, &resp, details, sizeof(details));
		goto reply;
	case M_COUNTERS:
		st = reads_counters(a, (void *)req, &ar, &resp, details, sizeof(details));
	reply:
		finish(c, st, details, st == GRPC_STATUS_OK ? rpc_pack(resp) : NULL, NULL, 0);
		arena_free(&ar);
		break;
	case M_WATCH:
		/*
		 * c->w is set before any batch of this call can complete (the completions read
		 * it on another queue thread): register, then close watch, then first send.
		 */
		call_ref(c); /* the watcher's, released by stream_release() */
		c->w = flows_add(a->flows, (void *)req,
				 &(struct flow_sink){stream_send, stream_release, stream_finish, c});
		if (!c->w) {
			call_unref(c);
			recv_close(c);
			finish(c, GRPC_STATUS_INVALID_ARGUMENT,
			       "verdict must be allow, deny, audit or empty (or too many watchers)",
			       NULL, NULL, 0);
			break;
		}
		recv_close(c);
		flows_start(a->flows, c->w);
		break;
	default:
		break;
	}
	if (req)
		protobuf_c_message_free_unpacked(req, NULL);
}

static void handle(struct server *s, struct tag *t, bool ok)
{
	struct call *c = t->c;

	switch (t->kind) {
	case T_SHUTDOWN:
		pthread_mutex_lock(&s->lock);
		s->shutdown_done = true;
		pthread_cond_broadcast(&s->cond);
		pthread_mutex_unlock(&s->lock);
		return;
	case T_NEW:
		if (ok)
			handle_new(s, c);
		break; /* the request's own reference */
	case T_RECV:
		message_received(s, c, ok);
		break;
	case T_DONE:
		break;
	case T_CLOSE:
		if (c->cancelled)
			atomic_store(&c->gone, true);
		if (c->w)
			flows_remove(s->a->flows, c->w); /* frees it unless a send is in flight */
		break;
	case T_SEND:
		if (c->stream_out) {
			grpc_byte_buffer_destroy(c->stream_out);
			c->stream_out = NULL;
		}
		if (c->w)
			flows_sent(s->a->flows, c->w, ok);
		break;
	}
	call_unref(c);
}

static void *queue_main(void *arg)
{
	struct server *s = arg;

	for (;;) {
		grpc_event ev =
		    grpc_completion_queue_next(s->cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);

		if (ev.type == GRPC_QUEUE_SHUTDOWN)
			break;
		if (ev.type == GRPC_OP_COMPLETE)
			handle(s, ev.tag, ev.success);
	}
	return NULL;
}

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

/* A lock file next to each unix socket keeps a second agent from unlinking a live socket. */
static int lock_path(const char *path, int *ret_fd, char *err, size_t len)
{
	char lock[4200];
	int fd;

	if (mkdir_parents(path)) {
		snprintf(err, len, "%s: cannot create its directory: %s", path, strerror(errno));
		return -errno;
	}
	snprintf(lock, sizeof(lock), "%s.lock", path);
	fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		snprintf(err, len, "%s: %s", lock, strerror(errno));
		return -errno;
	}
	if (flock(fd, LOCK_EX | LOCK_NB)) {
		snprintf(err, len, "%s: another agent is using this socket (%s is locked)", path,
			 lock);
		close(fd);
		return -EBUSY;
	}
	*ret_fd = fd;
	return 0;
}

static struct server *server_new(struct agent *a)
{
	struct server *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->a = a;
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->cond, NULL);
	s->shutdown_tag.kind = T_SHUTDOWN;
	s->unix_paths = calloc(a->cfg.n_listen + 2, sizeof(char *));
	s->lock_fds = calloc(a->cfg.n_listen + 2, sizeof(int));
	if (!s->unix_paths || !s->lock_fds) {
		free(s->unix_paths);
		free(s->lock_fds);
		free(s);
		return NULL;
	}
	a->server = s;
	return s;
}

int server_lock(struct agent *a, char *err, size_t len)
{
	struct server *s = a->server ? a->server : server_new(a);
	int r, fd;

	if (!s)
		return -ENOMEM;
	for (size_t i = 0; i < a->cfg.n_listen; i++) {
		if (strncmp(a->cfg.listen[i], "unix:", 5))
			continue;
		r = lock_path(a->cfg.listen[i] + 5, &fd, err, len);
		if (r)
			return r;
		s->unix_paths[s->n_unix] = strdup(a->cfg.listen[i] + 5);
		s->lock_fds[s->n_unix++] = fd;
	}
	return 0;
}

static int add_unix(struct server *s, const char *addr, char *err, size_t len)
{
	grpc_server_credentials *creds = grpc_insecure_server_credentials_create();
	int port = grpc_server_add_http2_port(s->srv, addr, creds);

	grpc_server_credentials_release(creds);
	if (!port) {
		snprintf(err, len, "%s: cannot listen", addr);
		return -EADDRINUSE;
	}
	return 0;
}

static int add_tcp(struct server *s, const char *addr, char *err, size_t len)
{
	const struct agent_config *cfg = &s->a->cfg;
	grpc_server_credentials *creds;
	int port;

	if (cfg->tls_ca && cfg->tls_cert && cfg->tls_key) {
		char *ca = rpc_read_file(cfg->tls_ca, NULL), *cert = NULL, *key = NULL;
		grpc_ssl_pem_key_cert_pair pair;

		if (ca)
			cert = rpc_read_file(cfg->tls_cert, NULL);
		if (cert)
			key = rpc_read_file(cfg->tls_key, NULL);
		if (!key) {
			snprintf(err, len, "%s: %s",
				 !ca	 ? cfg->tls_ca
				 : !cert ? cfg->tls_cert
					 : cfg->tls_key,
				 strerror(errno));
			free(ca);
			free(cert);
			return -EINVAL;
		}
		pair.private_key = key;
		pair.cert_chain = cert;
		creds = grpc_ssl_server_credentials_create_ex(
		    ca, &pair, 1, GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY, NULL);
		free(ca);
		free(cert);
		free(key);
		if (!creds) {
			snprintf(err, len, "%s: TLS credentials refused", addr);
			return -EINVAL;
		}
	} else if (cfg->insecure_tcp) {
		log_warn("listening on %s without TLS (--insecure-tcp)", addr);
		creds = grpc_insecure_server_credentials_create();
	} else {
		snprintf(err, len,
			 "%s: TCP needs mTLS (--tls-ca, --tls-cert, --tls-key) or --insecure-tcp",
			 addr);
		return -EINVAL;
	}
	port = grpc_server_add_http2_port(s->srv, addr, creds);
	grpc_server_credentials_release(creds);
	if (!port) {
		snprintf(err, len, "%s: cannot listen (address in use or invalid)", addr);
		return -EADDRINUSE;
	}
	return 0;
}

int server_start(struct agent *a, char *err, size_t err_len)
{
	/*
	 * No SO_REUSEPORT: a second agent on the same port must fail, not share it. A stream may
	 * send STREAM_WINDOW bytes before it waits for the agent to read: with gRPC's 64 KiB
	 * start a 4 MB request took ~60 window updates, each a round trip between two busy
	 * processes (~1 s on a loaded node, docs/BENCHMARKS.md "Hostile requests").
	 */
	grpc_arg args[4] = {
	    {.type = GRPC_ARG_INTEGER, .key = (char *)GRPC_ARG_ALLOW_REUSEPORT, .value.integer = 0},
	    {.type = GRPC_ARG_INTEGER,
	     .key = (char *)GRPC_ARG_HTTP2_STREAM_LOOKAHEAD_BYTES,
	     .value.integer = STREAM_WINDOW},
	};
	grpc_channel_args cargs = {.num_args = 4, .args = args};
	struct server *s = a->server;
	mode_t old_umask;
	int r = 0;

	rpc_message_size_args(&args[2], true);
	if (!s) {
		r = server_lock(a, err, err_len);
		if (r)
			return r;
		s = a->server;
	}
	s->cq = grpc_completion_queue_create_for_next(NULL);
	s->srv = grpc_server_create(&cargs, NULL);
	grpc_server_register_completion_queue(s->srv, s->cq, NULL);
	for (int m = 0; m < M_UNKNOWN; m++)
		s->registered[m] = grpc_server_register_method(
		    s->srv, method_path[m], NULL,
		    message_received_later((enum method)m) ? GRPC_SRM_PAYLOAD_NONE
							   : GRPC_SRM_PAYLOAD_READ_INITIAL_BYTE_BUFFER,
		    0);
	s->arrivals = arrival_watch_start();
	if (!s->arrivals) {
		snprintf(err, err_len, "cannot start the arrival watch: %s", strerror(errno));
		return -errno;
	}
	/* Sockets are created 0600: only root (the operator) talks to the agent. */
	old_umask = umask(0077);
	for (size_t i = 0; i < a->cfg.n_listen && !r; i++) {
		const char *addr = a->cfg.listen[i];

		r = strncmp(addr, "unix:", 5) ? add_tcp(s, addr, err, err_len)
					      : add_unix(s, addr, err, err_len);
	}
	if (!r)
		grpc_server_start(s->srv);
	umask(old_umask);
	if (r)
		return r;
	for (size_t i = 0; i < s->n_unix; i++)
		chmod(s->unix_paths[i], 0600);
	for (int m = 0; m < M_COUNT; m++)
		for (int i = 0; i < (m == M_UNKNOWN ? 2 : ARMED); i++)
			arm(s, (enum method)m);
	for (int i = 0; i < QUEUE_THREADS; i++) {
		if (pthread_create(&s->threads[i], NULL, queue_main, s))
			return -EAGAIN;
		s->n_threads++;
	}
	for (size_t i = 0; i < a->cfg.n_listen; i++)
		log_info("listening on %s", a->cfg.listen[i]);
	return 0;
}

void server_shutdown_begin(struct agent *a)
{
	struct server *s = a->server;

	if (!s || !s->srv)
		return;
	atomic_store(&s->stopping, true);
	grpc_server_shutdown_and_notify(s->srv, s->cq, &s->shutdown_tag);
}

void server_shutdown_finish(struct agent *a)
{
	struct server *s = a->server;

	if (!s)
		return;
	if (s->srv && s->n_threads) {
		grpc_server_cancel_all_calls(s->srv);
		pthread_mutex_lock(&s->lock);
		while (!s->shutdown_done || atomic_load(&s->live) > 0)
			pthread_cond_wait(&s->cond, &s->lock);
		pthread_mutex_unlock(&s->lock);
	}
	if (s->cq) {
		grpc_completion_queue_shutdown(s->cq);
		if (!s->n_threads)
			queue_main(s);
	}
	for (int i = 0; i < s->n_threads; i++)
		pthread_join(s->threads[i], NULL);
	arrival_watch_stop(s->arrivals); /* watches nothing: every call has ended */
	if (s->srv)
		grpc_server_destroy(s->srv);
	if (s->cq)
		grpc_completion_queue_destroy(s->cq);
	for (size_t i = 0; i < s->n_unix; i++) {
		char lock[4200];

		unlink(s->unix_paths[i]);
		snprintf(lock, sizeof(lock), "%s.lock", s->unix_paths[i]);
		unlink(lock);
		close(s->lock_fds[i]);
		free(s->unix_paths[i]);
	}
	free(s->unix_paths);
	free(s->lock_fds);
	pthread_mutex_destroy(&s->lock);
	pthread_cond_destroy(&s->cond);
	free(s);
	a->server = NULL;
}
