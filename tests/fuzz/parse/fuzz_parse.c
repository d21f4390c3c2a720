// SPDX-License-Identifier: Apache-2.0
/*
 * libFuzzer target: arbitrary bytes into policy_parse_buffer(); a document that parses must
 * survive model -> protobuf (packed and unpacked) -> model and model -> YAML/JSON -> model
 * unchanged, and the reference evaluator must run on it. The bytes are also tried as a
 * protobuf message for policy_from_pb(). The reusing parser reads the bytes and then an
 * edited copy (a line deleted, repeated, swapped or with a digit changed, chosen by the bytes),
 * and must agree with the whole parse on both. Any difference aborts.
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
#include "tests/lib/doc_lines.h"

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

static char *errors_string(const struct policy_errors *errs)
{
	size_t cap = 64 + errs->n * 512, len = 0;
	char *s = malloc(cap), buf[512];

	if (!s)
		die("out of memory", NULL);
	s[0] = '\0';
	for (size_t i = 0; i < errs->n; i++) {
		policy_error_format(&errs->items[i], buf, sizeof(buf));
		len += (size_t)snprintf(s + len, cap - len, "%s\n", buf);
	}
	snprintf(s + len, cap - len, "%zu dropped", errs->dropped);
	return s;
}

/* policy_parse_reuse() on text must give what policy_parse_buffer() gives. */
static void check_reuse_once(struct policy_reuse *reuse, const char *text, size_t len)
{
	struct policy_errors e1 = {0}, e2 = {0};
	struct policy_document *d1 = NULL, *d2 = NULL;
	int r1 = policy_parse_buffer(text, len, "f.yaml", &d1, &e1);
	int r2 = policy_parse_reuse(reuse, text, len, "f.yaml", &d2, &e2);

	if (r1 != r2)
		die("the reusing parser returns another result", NULL);
	if (policy_reuse_check(reuse) == 0)
		die("the reusing parser keeps a tree a whole parse does not give", NULL);
	if (r1 == 0 && (!policy_document_equal(d1, d2) || !policy_lines_equal(d1, d2)))
		die("the reusing parser reads another document", NULL);
	if (r1 != 0) {
		char *s1 = errors_string(&e1), *s2 = errors_string(&e2);

		if (strcmp(s1, s2))
			die("the reusing parser reports other errors", s2);
		free(s1);
		free(s2);
	}
	policy_document_free(d1);
	policy_document_free(d2);
	policy_errors_free(&e1);
	policy_errors_free(&e2);
}

/* Where the line starting at `at` ends (after its newline). */
static size_t line_end(const uint8_t *data, size_t size, size_t at)
{
	const uint8_t *nl = at < size ? memchr(data + at, '\n', size - at) : NULL;

	return nl ? (size_t)(nl - data) + 1 : size;
}

/* Reads data, then data with one line edited (the edit chosen by data), through one reuse. */
static void check_reuse(const uint8_t *data, size_t size)
{
	struct policy_reuse *reuse = policy_reuse_new();
	size_t starts[256], n = 0, at, end, next;
	char *edited;
	size_t len = 0;

	if (!reuse || !size)
		die("out of memory", NULL);
	check_reuse_once(reuse, (const char *)data, size);
	for (size_t i = 0; i < size && n < 256; i++)
		if (i == 0 || data[i - 1] == '\n')
			starts[n++] = i;
	at = starts[data[size - 1] % n];
	end = line_end(data, size, at);
	next = line_end(data, size, end);
	edited = malloc(2 * size + 1);
	if (!edited)
		die("out of memory", NULL);
	memcpy(edited, data, at);
	len = at;
	switch (data[0] % 4) {
	case 0: /* the line deleted */
		break;
	case 1: /* the line repeated */
		memcpy(edited + len, data + at, end - at);
		len += end - at;
		memcpy(edited + len, data + at, end - at);
		len += end - at;
		break;
	case 2: /* a digit of the line changed, or a character added */
		memcpy(edited + len, data + at, end - at);
		for (size_t i = len; i < len + end - at; i++)
			if (edited[i] >= '0' && edited[i] <= '9') {
				edited[i] = (char)('0' + (edited[i] - '0' + 1) % 10);
				break;
			}
		len += end - at;
		if (data[size / 2] & 1)
			edited[len++] = 'x';
		break;
	default: /* the line and the next swapped */
		memcpy(edited + len, data + end, next - end);
		len += next - end;
		memcpy(edited + len, data + at, end - at);
		len += end - at;
		end = next;
		break;
	}
	memcpy(edited + len, data + end, size - end);
	len += size - end;
	check_reuse_once(reuse, edited, len);
	free(edited);
	policy_reuse_free(reuse);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size)
		check_reuse(data, size);
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
