// SPDX-License-Identifier: Apache-2.0
/*
 * libFuzzer target: arbitrary bytes into policy_parse_buffer(); a document that parses must
 * survive model -> protobuf (packed and unpacked) -> model and model -> YAML/JSON -> model
 * unchanged, and the reference evaluator must run on it. The bytes are also tried as a
 * protobuf message for policy_from_pb(). Any difference aborts.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/eval.h"
#include "policy/parse.h"
#include "policy/pb.h"
#include "policy/write.h"

static void die(const char *what, const char *text)
{
	fprintf(stderr, "fuzz_parse: %s\n%s\n", what, text ? text : "");
	abort();
}

static void check_errors(const struct policy_errors *errs)
{
	char buf[512];

	for (size_t i = 0; i < errs->n; i++) {
		const struct policy_error *e = &errs->items[i];

		if (!e->file || !e->field || !e->message || !*e->field || !*e->message)
			die("an error without a field or message", NULL);
		policy_error_format(e, buf, sizeof(buf));
	}
}

static void check_pb(const struct policy_document *doc)
{
	Iofence__V1__PolicyDocument *msg = NULL, *unpacked;
	struct policy_errors errs = {0};
	struct policy_document *back = NULL;
	uint8_t *wire;
	size_t len;

	if (policy_to_pb(doc, &msg) < 0)
		die("policy_to_pb failed", NULL);
	len = iofence__v1__policy_document__get_packed_size(msg);
	wire = malloc(len ? len : 1);
	if (!wire)
		die("out of memory", NULL);
	iofence__v1__policy_document__pack(msg, wire);
	unpacked = iofence__v1__policy_document__unpack(NULL, len, wire);
	if (!unpacked)
		die("unpack of a packed document failed", NULL);
	if (policy_from_pb(unpacked, "<pb>", &back, &errs) < 0) {
		policy_errors_print(&errs, stderr);
		die("a valid document is refused after the protobuf round trip", NULL);
	}
	if (!policy_document_equal(doc, back))
		die("protobuf round trip changed the document", NULL);
	policy_document_free(back);
	iofence__v1__policy_document__free_unpacked(unpacked, NULL);
	policy_pb_free(msg);
	free(wire);
}

static void check_text(const struct policy_document *doc, enum policy_format fmt)
{
	struct policy_errors errs = {0};
	struct policy_document *back = NULL;
	char *text;
	size_t len;

	if (policy_write_buffer(doc, fmt, &text, &len) < 0)
		die("policy_write failed", NULL);
	if (policy_parse_buffer(text, len, "<written>", &back, &errs) < 0) {
		policy_errors_print(&errs, stderr);
		die("written document does not parse", text);
	}
	if (!policy_document_equal(doc, back))
		die("written document parses into a different one", text);
	policy_document_free(back);
	free(text);
}

static void check_eval(const struct policy_document *doc)
{
	struct policy_packet pkt = {.proto = 6, .dport = 80};
	struct policy_verdict v;

	pkt.remote = (struct policy_prefix){.family = 4, .len = 32, .addr = {10, 0, 0, 1}};
	for (size_t e = 0; e < doc->n_endpoints; e++) {
		const struct policy_endpoint *ep = &doc->endpoints[e];

		if (ep->n_addresses)
			pkt.remote = ep->addresses[0];
		for (int dir = POLICY_INGRESS; dir <= POLICY_EGRESS; dir++) {
			pkt.direction = dir;
			policy_evaluate(doc, ep, &pkt, &v);
			if (v.action != POLICY_ALLOW && v.action != POLICY_DENY)
				die("evaluator returned no action", NULL);
		}
	}
}

/* The same bytes as a PolicyDocument message: policy_from_pb() must cope with anything. */
static void check_message(const uint8_t *data, size_t size)
{
	Iofence__V1__PolicyDocument *msg = iofence__v1__policy_document__unpack(NULL, size, data);
	struct policy_errors errs = {0};
	struct policy_document *doc = NULL;
	int r;

	if (!msg)
		return;
	r = policy_from_pb(msg, "<pb>", &doc, &errs);
	check_errors(&errs);
	if (r == 0) {
		check_pb(doc);
		check_text(doc, POLICY_FORMAT_YAML);
		check_text(doc, POLICY_FORMAT_JSON);
		check_eval(doc);
	} else if (doc || (errs.n + errs.dropped == 0 && r == -EINVAL)) {
		die("message refused without errors, or with a document", NULL);
	}
	policy_document_free(doc);
	policy_errors_free(&errs);
	iofence__v1__policy_document__free_unpacked(msg, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check_message(data, size);

	struct policy_errors errs = {0};
	struct policy_document *doc = NULL;
	int r = policy_parse_buffer((const char *)data, size, "fuzz.yaml", &doc, &errs);

	check_errors(&errs);
	if (r == 0) {
		if (!doc || errs.n)
			die("success with errors or without a document", NULL);
		check_pb(doc);
		check_text(doc, POLICY_FORMAT_YAML);
		check_text(doc, POLICY_FORMAT_JSON);
		check_eval(doc);
	} else if (doc || (errs.n + errs.dropped == 0 && r == -EINVAL)) {
		die("failure without errors, or with a document", NULL);
	}
	policy_document_free(doc);
	policy_errors_free(&errs);
	return 0;
}
