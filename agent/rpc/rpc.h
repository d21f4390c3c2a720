/* SPDX-License-Identifier: Apache-2.0 */
/*
 * gRPC plumbing shared by iofenced and iofencectl: protobuf-c messages in and out of gRPC
 * byte buffers, channels to an ADDR (unix:PATH or HOST:PORT, mTLS when a CA is given) and
 * blocking unary / server-streaming client calls on the gRPC C core.
 */
#ifndef IOFENCE_AGENT_RPC_H
#define IOFENCE_AGENT_RPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <grpc/grpc.h>
#include <protobuf-c/protobuf-c.h>

#define RPC_METHOD_APPLY "/iofence.v1.Agent/Apply"
#define RPC_METHOD_GET_STATUS "/iofence.v1.Agent/GetStatus"
#define RPC_METHOD_GET_POLICY "/iofence.v1.Agent/GetPolicy"
#define RPC_METHOD_GET_COUNTERS "/iofence.v1.Agent/GetCounters"
#define RPC_METHOD_WATCH_FLOWS "/iofence.v1.Agent/WatchFlows"
#define RPC_METHOD_ENABLE_MODULE "/iofence.v1.Agent/EnableModule"
#define RPC_METHOD_DISABLE_MODULE "/iofence.v1.Agent/DisableModule"
#define RPC_METHOD_LIST_MODULES "/iofence.v1.Agent/ListModules"
#define RPC_METHOD_GET_TUNNELS "/iofence.v1.Agent/GetTunnels"
#define RPC_METHOD_TRACE "/iofence.v1.Agent/Trace"
#define RPC_METHOD_APPLY_DRY_RUN "/iofence.v1.Agent/ApplyDryRun"

/* Trailing metadata key of an INVALID_ARGUMENT Apply: a serialized ValidationErrors. */
#define RPC_ERRORS_MD_KEY "iofence-errors-bin"

/*
 * The message limit: a request (an Apply's document above all) is at most RPC_MAX_REQUEST
 * bytes, what the agent receives and the CLI sends. It is chosen with the read budget
 * (agent/iofenced/job.h) from measured parse costs, so that any request up to it is answered
 * within a second: a 100k-rule document as iofencectl sends it (its text and the message)
 * fits with room; docs/AGENT.md, "Bounds", gives the figures. Answers (a document read back
 * with its text, counters of every rule) may be larger: RPC_MAX_RESPONSE.
 */
#define RPC_MAX_REQUEST (24 << 20)
#define RPC_MAX_RESPONSE (256 << 20)

/*
 * Fills args[0..1] with the message limits: a server receives RPC_MAX_REQUEST and sends
 * RPC_MAX_RESPONSE, a client the other way round.
 */
void rpc_message_size_args(grpc_arg args[2], bool server);

/* A new byte buffer holding the message; NULL on out of memory. */
grpc_byte_buffer *rpc_pack(const ProtobufCMessage *msg);

/*
 * The message in a byte buffer (default allocator), or NULL with errno: EBADMSG if it does not
 * parse, E2BIG if it would take more memory than its size allows (decode.h).
 */
ProtobufCMessage *rpc_unpack(const ProtobufCMessageDescriptor *desc, grpc_byte_buffer *bb);

/*
 * The bytes of a byte buffer in one malloc'ed array (*ret_len of them), to decode later and
 * elsewhere (rpc_decode_until()); NULL with errno EBADMSG (no buffer) or ENOMEM.
 */
uint8_t *rpc_bytes(grpc_byte_buffer *bb, size_t *ret_len);

/* A whole file, NUL-terminated, malloc'ed; NULL with errno on failure. */
char *rpc_read_file(const char *path, size_t *ret_len);

/* Client TLS material (file paths); all NULL: plaintext (unix sockets, --insecure-tcp). */
struct rpc_tls {
	const char *ca;
	const char *cert;
	const char *key;
};

/*
 * rpc_channel_open() - a channel to ADDR: "unix:PATH" (plaintext) or "HOST:PORT" (mTLS with
 * tls->ca/cert/key when tls->ca is set, else plaintext). NULL with a reason in err.
 */
grpc_channel *rpc_channel_open(const char *addr, const struct rpc_tls *tls, char *err,
			       size_t err_len);

/* The same with up to 8 more channel arguments (reconnect backoff, keepalive). */
grpc_channel *rpc_channel_open_ex(const char *addr, const struct rpc_tls *tls,
				  const grpc_arg *extra, size_t n_extra, char *err, size_t err_len);

/* The outcome of a client call. */
struct rpc_result {
	grpc_status_code status;
	char *details; /* malloc'ed, may be "" */
	void *errors;  /* value of RPC_ERRORS_MD_KEY if the server sent it (malloc'ed) */
	size_t errors_len;
};

void rpc_result_free(struct rpc_result *res);

/*
 * rpc_unary() - one blocking unary call. On GRPC_STATUS_OK *ret_resp holds the unpacked
 * response (free with protobuf_c_message_free_unpacked). timeout_ms 0: no deadline.
 * Return: 0 when the call completed (see res->status), -EPROTO if the response did not parse,
 * -ENOMEM.
 */
int rpc_unary(grpc_channel *ch, const char *method, const ProtobufCMessage *req,
	      const ProtobufCMessageDescriptor *resp_desc, int timeout_ms,
	      ProtobufCMessage **ret_resp, struct rpc_result *res);

/*
 * rpc_unary_on() - the same on a pluck queue the caller keeps for its calls (any number of
 * threads, at most GRPC_MAX_COMPLETION_QUEUE_PLUCKERS at once), where rpc_unary() makes and
 * destroys one per call. The call itself has no deadline (no timer in the core, none sent to
 * the server): the caller waits timeout_ms (0: no limit) and then cancels it, which ends it
 * with DEADLINE_EXCEEDED.
 */
int rpc_unary_on(grpc_channel *ch, grpc_completion_queue *cq, const char *method,
		 const ProtobufCMessage *req, const ProtobufCMessageDescriptor *resp_desc,
		 int timeout_ms, ProtobufCMessage **ret_resp, struct rpc_result *res);

/*
 * A unary call whose answer is taken later: rpc_unary_start() sends the request (the core
 * writes it from the calling thread) on a pluck queue of the caller, and returns; the answer
 * waits in the socket until rpc_unary_finish() reads it, so a caller that has nothing to do
 * with it meanwhile is not woken for it. No deadline on the call: finish bounds the wait.
 * finish: wait_ms -1 without limit, 0 only what has arrived; -EINPROGRESS when the answer has
 * not come (the call stays, finish again or free it), else as rpc_unary() and the call is
 * freed. rpc_call_free() cancels a call still running.
 */
struct rpc_call;

int rpc_unary_start(grpc_channel *ch, grpc_completion_queue *cq, const char *method,
		    const ProtobufCMessage *req, struct rpc_call **ret);
int rpc_unary_finish(struct rpc_call *c, const ProtobufCMessageDescriptor *resp_desc,
		     int wait_ms, ProtobufCMessage **ret_resp, struct rpc_result *res);
void rpc_call_free(struct rpc_call *c);

/* A server-streaming call. */
struct rpc_stream;

int rpc_stream_open(grpc_channel *ch, const char *method, const ProtobufCMessage *req,
		    int timeout_ms, struct rpc_stream **ret);
/* Next message: 1 with *ret set, 0 at the end of the stream, -EPROTO on garbage. */
int rpc_stream_next(struct rpc_stream *st, const ProtobufCMessageDescriptor *desc,
		    ProtobufCMessage **ret);
/*
 * The same, waiting at most wait_ms (-1: no limit; 0: takes only what has arrived): -ETIMEDOUT
 * when no message came in time (the receive stays outstanding: the next call goes on waiting
 * for it).
 */
int rpc_stream_next_until(struct rpc_stream *st, const ProtobufCMessageDescriptor *desc,
			  int wait_ms, ProtobufCMessage **ret);
/* Cancels the call (from any thread) so that a blocked rpc_stream_next() returns 0. */
void rpc_stream_cancel(struct rpc_stream *st);
/* Waits for the status and frees the stream. */
void rpc_stream_close(struct rpc_stream *st, struct rpc_result *res);

/* A short name of a status code ("UNAVAILABLE"). */
const char *rpc_status_name(grpc_status_code code);

#endif /* IOFENCE_AGENT_RPC_H */
