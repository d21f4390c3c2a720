// SPDX-License-Identifier: Apache-2.0
/*
 * gRPC client plumbing over the C core: channels to unix:PATH or HOST:PORT (mTLS), blocking
 * unary calls and server streams on a private pluck queue per call, and the protobuf-c
 * message <-> byte buffer conversions the server uses as well.
 */
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <grpc/byte_buffer.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc_security.h>
#include <grpc/support/time.h>

#include "decode.h"
#include "rpc.h"

grpc_byte_buffer *rpc_pack(const ProtobufCMessage *msg)
{
	size_t len = protobuf_c_message_get_packed_size(msg);
	grpc_slice s = grpc_slice_malloc(len);
	grpc_byte_buffer *bb;

	protobuf_c_message_pack(msg, GRPC_SLICE_START_PTR(s));
	bb = grpc_raw_byte_buffer_create(&s, 1);
	grpc_slice_unref(s);
	return bb;
}

ProtobufCMessage *rpc_unpack(const ProtobufCMessageDescriptor *desc, grpc_byte_buffer *bb)
{
	grpc_byte_buffer_reader rd;
	ProtobufCMessage *msg;
	grpc_slice s;
	int err;

	if (!bb || !grpc_byte_buffer_reader_init(&rd, bb)) {
		errno = EBADMSG;
		return NULL;
	}
	s = grpc_byte_buffer_reader_readall(&rd);
	grpc_byte_buffer_reader_destroy(&rd);
	msg = rpc_decode(desc, GRPC_SLICE_LENGTH(s), GRPC_SLICE_START_PTR(s));
	err = errno;
	grpc_slice_unref(s);
	errno = err;
	return msg;
}

uint8_t *rpc_bytes(grpc_byte_buffer *bb, size_t *ret_len)
{
	grpc_byte_buffer_reader rd;
	uint8_t *bytes;
	grpc_slice s;
	size_t len = 0;

	if (!bb || !grpc_byte_buffer_reader_init(&rd, bb)) {
		errno = EBADMSG;
		return NULL;
	}
	bytes = malloc(grpc_byte_buffer_length(bb) + 1);
	while (bytes && grpc_byte_buffer_reader_next(&rd, &s)) {
		memcpy(bytes + len, GRPC_SLICE_START_PTR(s), GRPC_SLICE_LENGTH(s));
		len += GRPC_SLICE_LENGTH(s);
		grpc_slice_unref(s);
	}
	grpc_byte_buffer_reader_destroy(&rd);
	if (!bytes)
		errno = ENOMEM;
	*ret_len = len;
	return bytes;
}

char *rpc_read_file(const char *path, size_t *ret_len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t len = 0, cap = 4096;
	char *buf = NULL, *nbuf;
	ssize_t n;

	if (fd < 0)
		return NULL;
	for (;;) {
		if (!buf || len + 1 >= cap) {
			cap *= 2;
			nbuf = realloc(buf, cap);
			if (!nbuf)
				goto err;
			buf = nbuf;
		}
		n = read(fd, buf + len, cap - len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			goto err;
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	buf[len] = 0;
	if (ret_len)
		*ret_len = len;
	return buf;
err:
	n = errno;
	free(buf);
	close(fd);
	errno = (int)n;
	return NULL;
}

const char *rpc_status_name(grpc_status_code code)
{
	static const char *const names[] = {"OK",
					    "CANCELLED",
					    "UNKNOWN",
					    "INVALID_ARGUMENT",
					    "DEADLINE_EXCEEDED",
					    "NOT_FOUND",
					    "ALREADY_EXISTS",
					    "PERMISSION_DENIED",
					    "RESOURCE_EXHAUSTED",
					    "FAILED_PRECONDITION",
					    "ABORTED",
					    "OUT_OF_RANGE",
					    "UNIMPLEMENTED",
					    "INTERNAL",
					    "UNAVAILABLE",
					    "DATA_LOSS",
					    "UNAUTHENTICATED"};

	if ((unsigned)code < sizeof(names) / sizeof(names[0]))
		return names[code];
	return "UNKNOWN";
}

void rpc_message_size_args(grpc_arg args[2], bool server)
{
	args[0] = (grpc_arg){.type = GRPC_ARG_INTEGER,
			     .key = (char *)GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH,
			     .value.integer = server ? RPC_MAX_REQUEST : RPC_MAX_RESPONSE};
	args[1] = (grpc_arg){.type = GRPC_ARG_INTEGER,
			     .key = (char *)GRPC_ARG_MAX_SEND_MESSAGE_LENGTH,
			     .value.integer = server ? RPC_MAX_RESPONSE : RPC_MAX_REQUEST};
}

grpc_channel *rpc_channel_open(const char *addr, const struct rpc_tls *tls, char *err,
			       size_t err_len)
{
	return rpc_channel_open_ex(addr, tls, NULL, 0, err, err_len);
}

grpc_channel *rpc_channel_open_ex(const char *addr, const struct rpc_tls *tls,
				  const grpc_arg *extra, size_t n_extra, char *err, size_t err_len)
{
	grpc_arg args[2 + 8];
	grpc_channel_args cargs = {.num_args = 2, .args = args};
	grpc_channel_credentials *creds;
	char *ca = NULL, *cert = NULL, *key = NULL;
	grpc_channel *ch = NULL;
	bool is_unix = !strncmp(addr, "unix:", 5);

	rpc_message_size_args(args, false);
	for (size_t i = 0; i < n_extra && i < 8; i++)
		args[cargs.num_args++] = extra[i];

	if (is_unix ? !addr[5] : !strchr(addr, ':')) {
		snprintf(err, err_len, "%s: not an address (unix:PATH or HOST:PORT)", addr);
		return NULL;
	}
	if (!is_unix && tls && tls->ca) {
		grpc_ssl_pem_key_cert_pair pair;
		const char *bad = tls->ca;

		ca = rpc_read_file(tls->ca, NULL);
		if (ca && tls->cert && tls->key) {
			bad = tls->cert;
			cert = rpc_read_file(tls->cert, NULL);
			bad = tls->key;
			key = cert ? rpc_read_file(tls->key, NULL) : NULL;
		}
		if (!ca || (tls->cert && tls->key && (!cert || !key))) {
			snprintf(err, err_len, "%s: %s", bad, strerror(errno));
			goto out;
		}
		pair.private_key = key;
		pair.cert_chain = cert;
		creds = grpc_ssl_credentials_create_ex(ca, key ? &pair : NULL, NULL, NULL);
	} else {
		creds = grpc_insecure_credentials_create();
	}
	ch = grpc_channel_create(addr, creds, &cargs);
	grpc_channel_credentials_release(creds);
	if (!ch)
		snprintf(err, err_len, "%s: cannot create a channel", addr);
out:
	free(ca);
	free(cert);
	free(key);
	return ch;
}

void rpc_result_free(struct rpc_result *res)
{
	if (!res)
		return;
	free(res->details);
	free(res->errors);
	res->details = NULL;
	res->errors = NULL;
	res->errors_len = 0;
}

static gpr_timespec deadline_in(int timeout_ms)
{
	if (timeout_ms <= 0)
		return gpr_inf_future(GPR_CLOCK_REALTIME);
	return gpr_time_add(gpr_now(GPR_CLOCK_REALTIME),
			    gpr_time_from_millis(timeout_ms, GPR_TIMESPAN));
}

/* Copies status details and the errors metadata out of the core's buffers. */
static void take_status(struct rpc_result *res, grpc_status_code status, grpc_slice details,
			const grpc_metadata_array *trailing)
{
	res->status = status;
	res->details = grpc_slice_to_c_string(details);
	res->errors = NULL;
	res->errors_len = 0;
	for (size_t i = 0; i < trailing->count; i++) {
		const grpc_metadata *md = &trailing->metadata[i];

		if (grpc_slice_str_cmp(md->key, RPC_ERRORS_MD_KEY))
			continue;
		res->errors_len = GRPC_SLICE_LENGTH(md->value);
		res->errors = malloc(res->errors_len ? res->errors_len : 1);
		if (res->errors)
			memcpy(res->errors, GRPC_SLICE_START_PTR(md->value), res->errors_len);
		else
			res->errors_len = 0;
		break;
	}
}

static grpc_call *start_call(grpc_channel *ch, grpc_completion_queue *cq, const char *method,
			     int timeout_ms)
{
	grpc_slice m = grpc_slice_from_static_string(method);

	return grpc_channel_create_call(ch, NULL, GRPC_PROPAGATE_DEFAULTS, cq, m, NULL,
					deadline_in(timeout_ms), NULL);
}

static void wait_tag(grpc_completion_queue *cq, void *tag)
{
	grpc_event ev;

	do
		ev = grpc_completion_queue_pluck(cq, tag, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
	while (ev.type != GRPC_OP_COMPLETE);
}

static void destroy_cq(grpc_completion_queue *cq)
{
	grpc_completion_queue_shutdown(cq);
	while (
	    grpc_completion_queue_pluck(cq, NULL, gpr_inf_future(GPR_CLOCK_REALTIME), NULL).type !=
	    GRPC_QUEUE_SHUTDOWN)
		;
	grpc_completion_queue_destroy(cq);
}

/*
 * One unary call on cq: the call's own deadline (sent to the server, a timer in the core) is
 * call_deadline; the caller stops waiting at wait_deadline and cancels the call then.
 */
static int unary_call(grpc_channel *ch, grpc_completion_queue *cq, const char *method,
		      const ProtobufCMessage *req, const ProtobufCMessageDescriptor *resp_desc,
		      gpr_timespec call_deadline, gpr_timespec wait_deadline,
		      ProtobufCMessage **ret_resp, struct rpc_result *res)
{
	grpc_metadata_array init_md, trailing;
	grpc_byte_buffer *out = rpc_pack(req), *in = NULL;
	grpc_status_code status = GRPC_STATUS_UNKNOWN;
	grpc_slice details = grpc_empty_slice();
	grpc_call *call;
	grpc_op ops[6];
	int tag, r = 0; /* tag: this call's completion, unique on a queue shared by threads */

	*ret_resp = NULL;
	memset(res, 0, sizeof(*res));
	if (!out)
		return -ENOMEM;
	if (grpc_byte_buffer_length(out) > RPC_MAX_REQUEST) {
		/* what the agent would answer, said here with the sizes and without sending it */
		res->status = GRPC_STATUS_RESOURCE_EXHAUSTED;
		if (asprintf(&res->details,
			     "the request is %zu bytes, more than the message limit of %d bytes "
			     "(%d MiB)",
			     grpc_byte_buffer_length(out), RPC_MAX_REQUEST, RPC_MAX_REQUEST >> 20) < 0)
			res->details = NULL;
		grpc_byte_buffer_destroy(out);
		return res->details ? 0 : -ENOMEM;
	}
	grpc_metadata_array_init(&init_md);
	grpc_metadata_array_init(&trailing);
	call = grpc_channel_create_call(ch, NULL, GRPC_PROPAGATE_DEFAULTS, cq,
					grpc_slice_from_static_string(method), NULL, call_deadline,
					NULL);
	memset(ops, 0, sizeof(ops));
	ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
	ops[1].op = GRPC_OP_SEND_MESSAGE;
	ops[1].data.send_message.send_message = out;
	ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
	ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
	ops[3].data.recv_initial_metadata.recv_initial_metadata = &init_md;
	ops[4].op = GRPC_OP_RECV_MESSAGE;
	ops[4].data.recv_message.recv_message = &in;
	ops[5].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
	ops[5].data.recv_status_on_client.trailing_metadata = &trailing;
	ops[5].data.recv_status_on_client.status = &status;
	ops[5].data.recv_status_on_client.status_details = &details;
	if (grpc_call_start_batch(call, ops, 6, &tag, NULL) != GRPC_CALL_OK) {
		status = GRPC_STATUS_INTERNAL;
	} else if (grpc_completion_queue_pluck(cq, &tag, wait_deadline, NULL).type !=
		   GRPC_OP_COMPLETE) {
		grpc_call_cancel_with_status(call, GRPC_STATUS_DEADLINE_EXCEEDED,
					     "Deadline Exceeded", NULL);
		wait_tag(cq, &tag);
	}
	take_status(res, status, details, &trailing);
	if (status == GRPC_STATUS_OK) {
		*ret_resp = rpc_unpack(resp_desc, in);
		if (!*ret_resp)
			r = -EPROTO;
	}
	if (in)
		grpc_byte_buffer_destroy(in);
	grpc_byte_buffer_destroy(out);
	grpc_slice_unref(details);
	grpc_metadata_array_destroy(&init_md);
	grpc_metadata_array_destroy(&trailing);
	grpc_call_unref(call);
	return r;
}

int rpc_unary(grpc_channel *ch, const char *method, const ProtobufCMessage *req,
	      const ProtobufCMessageDescriptor *resp_desc, int timeout_ms,
	      ProtobufCMessage **ret_resp, struct rpc_result *res)
{
	grpc_completion_queue *cq = grpc_completion_queue_create_for_pluck(NULL);
	int r = unary_call(ch, cq, method, req, resp_desc, deadline_in(timeout_ms),
			   gpr_inf_future(GPR_CLOCK_REALTIME), ret_resp, res);

	destroy_cq(cq);
	return r;
}

int rpc_unary_on(grpc_channel *ch, grpc_completion_queue *cq, const char *method,
		 const ProtobufCMessage *req, const ProtobufCMessageDescriptor *resp_desc,
		 int timeout_ms, ProtobufCMessage **ret_resp, struct rpc_result *res)
{
	gpr_timespec wait = timeout_ms <= 0 ? gpr_inf_future(GPR_CLOCK_MONOTONIC)
					    : gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC),
							   gpr_time_from_millis(timeout_ms, GPR_TIMESPAN));

	return unary_call(ch, cq, method, req, resp_desc, gpr_inf_future(GPR_CLOCK_REALTIME), wait,
			  ret_resp, res);
}

/* A unary call started on a caller's queue, its answer taken later (rpc_unary_start()). */
struct rpc_call {
	grpc_completion_queue *cq;
	grpc_call *call;
	grpc_byte_buffer *out, *in;
	grpc_metadata_array init_md, trailing;
	grpc_status_code status;
	grpc_slice details;
	bool done;
};

int rpc_unary_start(grpc_channel *ch, grpc_completion_queue *cq, const char *method,
		    const ProtobufCMessage *req, struct rpc_call **ret)
{
	struct rpc_call *c = calloc(1, sizeof(*c));
	grpc_op ops[6];

	*ret = NULL;
	if (!c)
		return -ENOMEM;
	c->out = rpc_pack(req);
	if (!c->out) {
		free(c);
		return -ENOMEM;
	}
	c->cq = cq;
	grpc_metadata_array_init(&c->init_md);
	grpc_metadata_array_init(&c->trailing);
	c->details = grpc_empty_slice();
	c->status = GRPC_STATUS_UNKNOWN;
	c->call = grpc_channel_create_call(ch, NULL, GRPC_PROPAGATE_DEFAULTS, cq,
					   grpc_slice_from_static_string(method), NULL,
					   gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
	memset(ops, 0, sizeof(ops));
	ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
	ops[1].op = GRPC_OP_SEND_MESSAGE;
	ops[1].data.send_message.send_message = c->out;
	ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
	ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
	ops[3].data.recv_initial_metadata.recv_initial_metadata = &c->init_md;
	ops[4].op = GRPC_OP_RECV_MESSAGE;
	ops[4].data.recv_message.recv_message = &c->in;
	ops[5].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
	ops[5].data.recv_status_on_client.trailing_metadata = &c->trailing;
	ops[5].data.recv_status_on_client.status = &c->status;
	ops[5].data.recv_status_on_client.status_details = &c->details;
	if (grpc_call_start_batch(c->call, ops, 6, c, NULL) != GRPC_CALL_OK) {
		c->status = GRPC_STATUS_INTERNAL;
		c->done = true;
	}
	*ret = c;
	return 0;
}

int rpc_unary_finish(struct rpc_call *c, const ProtobufCMessageDescriptor *resp_desc,
		     int wait_ms, ProtobufCMessage **ret_resp, struct rpc_result *res)
{
	gpr_timespec until = wait_ms < 0 ? gpr_inf_future(GPR_CLOCK_MONOTONIC)
					 : gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC),
							gpr_time_from_millis(wait_ms, GPR_TIMESPAN));
	int r = 0;

	*ret_resp = NULL;
	memset(res, 0, sizeof(*res));
	if (!c->done) {
		if (grpc_completion_queue_pluck(c->cq, c, until, NULL).type != GRPC_OP_COMPLETE)
			return -EINPROGRESS;
		c->done = true;
	}
	take_status(res, c->status, c->details, &c->trailing);
	if (c->status == GRPC_STATUS_OK && resp_desc) {
		*ret_resp = rpc_unpack(resp_desc, c->in);
		if (!*ret_resp)
			r = -EPROTO;
	}
	rpc_call_free(c);
	return r;
}

void rpc_call_free(struct rpc_call *c)
{
	if (!c)
		return;
	if (!c->done) {
		grpc_call_cancel(c->call, NULL);
		wait_tag(c->cq, c);
	}
	if (c->in)
		grpc_byte_buffer_destroy(c->in);
	grpc_byte_buffer_destroy(c->out);
	grpc_slice_unref(c->details);
	grpc_metadata_array_destroy(&c->init_md);
	grpc_metadata_array_destroy(&c->trailing);
	grpc_call_unref(c->call);
	free(c);
}

struct rpc_stream {
	grpc_completion_queue *cq;
	grpc_call *call;
	grpc_byte_buffer *out;
	grpc_metadata_array init_md, trailing;
	grpc_status_code status;
	grpc_slice details;
	bool ended;
	bool recv_pending; /* a RECV_MESSAGE (tag 3) is outstanding; it fills in */
	grpc_byte_buffer *in;
};

int rpc_stream_open(grpc_channel *ch, const char *method, const ProtobufCMessage *req,
		    int timeout_ms, struct rpc_stream **ret)
{
	struct rpc_stream *st = calloc(1, sizeof(*st));
	grpc_op ops[4];

	if (!st)
		return -ENOMEM;
	st->out = rpc_pack(req);
	if (!st->out) {
		free(st);
		return -ENOMEM;
	}
	st->cq = grpc_completion_queue_create_for_pluck(NULL);
	grpc_metadata_array_init(&st->init_md);
	grpc_metadata_array_init(&st->trailing);
	st->details = grpc_empty_slice();
	st->status = GRPC_STATUS_UNKNOWN;
	st->call = start_call(ch, st->cq, method, timeout_ms);
	memset(ops, 0, sizeof(ops));
	ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
	ops[1].op = GRPC_OP_SEND_MESSAGE;
	ops[1].data.send_message.send_message = st->out;
	ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
	ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
	ops[3].data.recv_initial_metadata.recv_initial_metadata = &st->init_md;
	grpc_call_start_batch(st->call, ops, 4, (void *)1, NULL);
	memset(ops, 0, sizeof(ops));
	ops[0].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
	ops[0].data.recv_status_on_client.trailing_metadata = &st->trailing;
	ops[0].data.recv_status_on_client.status = &st->status;
	ops[0].data.recv_status_on_client.status_details = &st->details;
	grpc_call_start_batch(st->call, ops, 1, (void *)2, NULL);
	wait_tag(st->cq, (void *)1);
	*ret = st;
	return 0;
}

int rpc_stream_next_until(struct rpc_stream *st, const ProtobufCMessageDescriptor *desc,
			  int wait_ms, ProtobufCMessage **ret)
{
	gpr_timespec deadline = wait_ms < 0 ? gpr_inf_future(GPR_CLOCK_MONOTONIC)
					    : gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC),
							   gpr_time_from_millis(wait_ms, GPR_TIMESPAN));
	grpc_byte_buffer *in;
	grpc_event ev;
	grpc_op op;

	*ret = NULL;
	if (st->ended)
		return 0;
	if (!st->recv_pending) {
		memset(&op, 0, sizeof(op));
		op.op = GRPC_OP_RECV_MESSAGE;
		op.data.recv_message.recv_message = &st->in;
		if (grpc_call_start_batch(st->call, &op, 1, (void *)3, NULL) != GRPC_CALL_OK) {
			st->ended = true;
			return 0;
		}
		st->recv_pending = true;
	}
	do
		ev = grpc_completion_queue_pluck(st->cq, (void *)3, deadline, NULL);
	while (ev.type != GRPC_OP_COMPLETE && (wait_ms < 0 || ev.type != GRPC_QUEUE_TIMEOUT));
	if (ev.type != GRPC_OP_COMPLETE)
		return -ETIMEDOUT; /* still outstanding: the next call waits for it */
	st->recv_pending = false;
	in = st->in;
	st->in = NULL;
	if (!in) {
		st->ended = true;
		return 0;
	}
	*ret = rpc_unpack(desc, in);
	grpc_byte_buffer_destroy(in);
	return *ret ? 1 : -EPROTO;
}

int rpc_stream_next(struct rpc_stream *st, const ProtobufCMessageDescriptor *desc,
		    ProtobufCMessage **ret)
{
	return rpc_stream_next_until(st, desc, -1, ret);
}

void rpc_stream_cancel(struct rpc_stream *st)
{
	grpc_call_cancel(st->call, NULL);
}

void rpc_stream_close(struct rpc_stream *st, struct rpc_result *res)
{
	if (!st->ended)
		grpc_call_cancel(st->call, NULL);
	if (st->recv_pending) /* completes (empty) once cancelled */
		wait_tag(st->cq, (void *)3);
	if (st->in)
		grpc_byte_buffer_destroy(st->in);
	wait_tag(st->cq, (void *)2);
	if (res)
		take_status(res, st->status, st->details, &st->trailing);
	grpc_slice_unref(st->details);
	grpc_metadata_array_destroy(&st->init_md);
	grpc_metadata_array_destroy(&st->trailing);
	grpc_byte_buffer_destroy(st->out);
	grpc_call_unref(st->call);
	destroy_cq(st->cq);
	free(st);
}
