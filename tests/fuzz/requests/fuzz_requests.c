// SPDX-License-Identifier: Apache-2.0
/*
 * libFuzzer target: the protobuf decoding of every request of the iofence.v1.Agent service.
 * The first byte picks the method (from the service descriptor, so a new RPC is fuzzed
 * too), the rest is its request message as the server's rpc_unpack() decodes it. A decoded
 * message is walked field by field (strings read to their end, repeated fields and
 * sub-messages followed), packed again, and must decode to the same bytes; an ApplyRequest
 * goes on as the apply worker takes it: its PolicyDocument through policy_from_pb() and its
 * source through policy_parse_buffer(), whose errors must name a field and a message.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/rpc/decode.h"
#include "iofence/v1/agent.pb-c.h"
#include "policy/parse.h"
#include "policy/pb.h"

static void die(const char *what)
{
	fprintf(stderr, "fuzz_requests: %s\n", what);
	abort();
}

static size_t walk(const ProtobufCMessage *m);

/* Reads every byte a field's value points at: a bad pointer or length faults under ASan. */
static size_t walk_value(const ProtobufCFieldDescriptor *f, const void *v)
{
	switch (f->type) {
	case PROTOBUF_C_TYPE_STRING: {
		const char *s = *(const char *const *)v;

		return s ? strlen(s) : 0;
	}
	case PROTOBUF_C_TYPE_BYTES: {
		const ProtobufCBinaryData *b = v;
		size_t sum = 0;

		for (size_t i = 0; i < b->len; i++)
			sum += b->data[i];
		return sum;
	}
	case PROTOBUF_C_TYPE_MESSAGE: {
		const ProtobufCMessage *sub = *(const ProtobufCMessage *const *)v;

		return sub ? walk(sub) : 0;
	}
	default:
		return 1;
	}
}

static size_t elem_size(const ProtobufCFieldDescriptor *f)
{
	switch (f->type) {
	case PROTOBUF_C_TYPE_STRING:
	case PROTOBUF_C_TYPE_MESSAGE:
		return sizeof(void *);
	case PROTOBUF_C_TYPE_BYTES:
		return sizeof(ProtobufCBinaryData);
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
	case PROTOBUF_C_TYPE_DOUBLE:
		return 8;
	case PROTOBUF_C_TYPE_BOOL:
		return sizeof(protobuf_c_boolean);
	default:
		return 4;
	}
}

static size_t walk(const ProtobufCMessage *m)
{
	const ProtobufCMessageDescriptor *d = m->descriptor;
	size_t sum = 0;

	for (unsigned i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		const char *base = (const char *)m + f->offset;

		if (f->label == PROTOBUF_C_LABEL_REPEATED) {
			size_t n = *(const size_t *)((const char *)m + f->quantifier_offset);
			const char *items = *(const char *const *)base;

			if (n && !items)
				die("a repeated field with a count and no items");
			for (size_t k = 0; k < n; k++)
				sum += walk_value(f, items + k * elem_size(f));
		} else {
			sum += walk_value(f, base);
		}
	}
	return sum;
}

/* Whether m or a message in it kept fields it does not know. */
static bool has_unknown(const ProtobufCMessage *m)
{
	const ProtobufCMessageDescriptor *d = m->descriptor;

	if (m->n_unknown_fields)
		return true;
	for (unsigned i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		const char *base = (const char *)m + f->offset;
		size_t n = 1;

		if (f->type != PROTOBUF_C_TYPE_MESSAGE)
			continue;
		if (f->label == PROTOBUF_C_LABEL_REPEATED) {
			n = *(const size_t *)((const char *)m + f->quantifier_offset);
			base = *(const char *const *)base;
		}
		for (size_t k = 0; k < n; k++) {
			const ProtobufCMessage *sub = ((const ProtobufCMessage *const *)base)[k];

			if (sub && has_unknown(sub))
				return true;
		}
	}
	return false;
}

/*
 * Pack, unpack, pack: the two packed forms must be the same bytes. Unknown fields are kept
 * and packed back as they came, even where their numbers are not valid (field 0): such a
 * message need not decode again, and the server ignores them.
 */
static void check_repack(const ProtobufCMessage *m)
{
	const ProtobufCMessageDescriptor *d = m->descriptor;
	size_t len = protobuf_c_message_get_packed_size(m), len2;
	uint8_t *a = malloc(len + 1), *b;
	ProtobufCMessage *again;

	if (!a)
		die("out of memory");
	if (protobuf_c_message_pack(m, a) != len)
		die("packed size differs from get_packed_size");
	again = protobuf_c_message_unpack(d, NULL, len, a);
	if (!again && has_unknown(m)) {
		free(a);
		return;
	}
	if (!again)
		die("a packed message does not decode");
	len2 = protobuf_c_message_get_packed_size(again);
	b = malloc(len2 + 1);
	if (!b)
		die("out of memory");
	protobuf_c_message_pack(again, b);
	if (len2 != len || memcmp(a, b, len))
		die("a decoded message packs to other bytes");
	protobuf_c_message_free_unpacked(again, NULL);
	free(a);
	free(b);
}

static void check_errors(const struct policy_errors *errs, int r, const void *doc)
{
	for (size_t i = 0; i < errs->n; i++) {
		const struct policy_error *e = &errs->items[i];

		if (!e->file || !e->field || !e->message || !*e->field || !*e->message)
			die("an error without a field or message");
	}
	if (r == 0 && (!doc || errs->n))
		die("success with errors or without a document");
	if (r < 0 && (doc || (r == -EINVAL && errs->n + errs->dropped == 0)))
		die("refused without errors, or with a document");
}

/* What the apply worker does with the request before compiling it. */
static void check_apply(const Iofence__V1__ApplyRequest *req)
{
	struct policy_errors errs = {0};
	struct policy_document *doc = NULL;
	const char *name = req->source_name && *req->source_name ? req->source_name : "<grpc>";
	int r;

	if (req->document) {
		r = policy_from_pb(req->document, name, &doc, &errs);
		check_errors(&errs, r, doc);
		policy_document_free(doc);
		policy_errors_free(&errs);
		doc = NULL;
		errs = (struct policy_errors){0};
	}
	if (req->source && *req->source) {
		r = policy_parse_buffer(req->source, strlen(req->source), name, &doc, &errs);
		check_errors(&errs, r, doc);
		policy_document_free(doc);
		policy_errors_free(&errs);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const ProtobufCServiceDescriptor *svc = &iofence__v1__agent__descriptor;
	const ProtobufCMessageDescriptor *d;
	ProtobufCMessage *m;

	if (!size)
		return 0;
	d = svc->methods[data[0] % svc->n_methods].input;
	m = rpc_decode(d, size - 1, data + 1);
	if (!m)
		return 0;
	if (!protobuf_c_message_check(m))
		die("a decoded message fails protobuf_c_message_check");
	walk(m);
	check_repack(m);
	if (d == &iofence__v1__apply_request__descriptor)
		check_apply((const Iofence__V1__ApplyRequest *)m);
	protobuf_c_message_free_unpacked(m, NULL);
	return 0;
}
