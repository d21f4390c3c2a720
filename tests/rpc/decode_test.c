// SPDX-License-Identifier: Apache-2.0
/*
 * Bounded decoding of requests (agent/rpc/decode.c): an ApplyRequest whose rules are empty
 * messages (2 bytes each on the wire, ~108 decoded) passes the bound and is refused with
 * E2BIG, without a leak; one as long of the smallest valid rules (a direction only, 4 bytes)
 * decodes whole, unless the read budget is spent (ETIME). Wire bytes are written by hand, as
 * a hostile client would.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "agent/rpc/decode.h"
#include "iofence/v1/agent.pb-c.h"

/* Field numbers of proto/iofence/v1/agent.proto. */
#define APPLY_DOCUMENT 1
#define DOCUMENT_SECURITY_GROUPS 4
#define GROUP_RULES 2
#define RULE_DIRECTION 1

struct wire {
	uint8_t *b;
	size_t len;
};

static void put_byte(struct wire *w, uint8_t v)
{
	w->b[w->len++] = v;
}

static void put_varint(struct wire *w, uint64_t v)
{
	do {
		put_byte(w, (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0)));
		v >>= 7;
	} while (v);
}

/* A length-delimited field holding inner. */
static void put_message(struct wire *w, uint32_t field, const struct wire *inner)
{
	put_varint(w, (uint64_t)field << 3 | 2);
	put_varint(w, inner->len);
	if (inner->len) /* an empty message may have no bytes at all */
		memcpy(w->b + w->len, inner->b, inner->len);
	w->len += inner->len;
}

/* ApplyRequest{document: {security_groups: [{rules: n copies of rule}]}}. */
static struct wire apply_request(size_t n, const struct wire *rule)
{
	size_t cap = n * (rule->len + 2) + 64;
	struct wire group = {malloc(cap), 0}, doc = {malloc(cap + 16), 0}, req = {malloc(cap + 32), 0};

	assert_non_null(group.b);
	assert_non_null(doc.b);
	assert_non_null(req.b);
	for (size_t i = 0; i < n; i++)
		put_message(&group, GROUP_RULES, rule);
	put_message(&doc, DOCUMENT_SECURITY_GROUPS, &group);
	put_message(&req, APPLY_DOCUMENT, &doc);
	free(group.b);
	free(doc.b);
	return req;
}

static void test_empty_rules_past_the_bound_are_refused(void **state)
{
	struct wire empty = {NULL, 0};
	struct wire req = apply_request(200000, &empty);
	ProtobufCMessage *m;

	(void)state;
	errno = 0;
	m = rpc_decode(&iofence__v1__apply_request__descriptor, req.len, req.b);
	assert_null(m);
	assert_int_equal(errno, E2BIG);
	free(req.b);
}

static void test_smallest_valid_rules_decode(void **state)
{
	uint8_t ingress[] = {RULE_DIRECTION << 3, IOFENCE__V1__DIRECTION__DIRECTION_INGRESS};
	struct wire rule = {ingress, sizeof(ingress)};
	struct wire req = apply_request(200000, &rule);
	Iofence__V1__ApplyRequest *m;

	(void)state;
	m = (Iofence__V1__ApplyRequest *)rpc_decode(&iofence__v1__apply_request__descriptor,
						    req.len, req.b);
	assert_non_null(m);
	assert_non_null(m->document);
	assert_int_equal(m->document->n_security_groups, 1);
	assert_int_equal(m->document->security_groups[0]->n_rules, 200000);
	protobuf_c_message_free_unpacked(&m->base, NULL);
	free(req.b);
}

/* The read budget reaches the decode: a spent CPU or wall-clock budget stops it (ETIME). */
static void test_a_spent_budget_stops_the_decode(void **state)
{
	uint8_t ingress[] = {RULE_DIRECTION << 3, IOFENCE__V1__DIRECTION__DIRECTION_INGRESS};
	struct wire rule = {ingress, sizeof(ingress)};
	struct wire req = apply_request(200000, &rule);

	(void)state;
	errno = 0;
	assert_null(rpc_decode_until(&iofence__v1__apply_request__descriptor, req.len, req.b,
				     &(struct read_clock){.cpu_by_usec = 1}));
	assert_int_equal(errno, ETIME);
	errno = 0;
	assert_null(rpc_decode_until(&iofence__v1__apply_request__descriptor, req.len, req.b,
				     &(struct read_clock){.deadline_usec = 1}));
	assert_int_equal(errno, ETIME);
	errno = 0;
	assert_null(rpc_decode_until(&iofence__v1__apply_request__descriptor, req.len, req.b,
				     &(struct read_clock){.wall_by_usec = 1}));
	assert_int_equal(errno, ETIME);
	/* the wall-clock budget waits for its CPU minimum: this decode is done long before */
	errno = 0;
	ProtobufCMessage *msg = rpc_decode_until(
	    &iofence__v1__apply_request__descriptor, req.len, req.b,
	    &(struct read_clock){.wall_by_usec = 1, .wall_cpu_usec = read_clock_usec(
							 CLOCK_THREAD_CPUTIME_ID) + 60000000});
	assert_non_null(msg);
	protobuf_c_message_free_unpacked(msg, NULL);
	free(req.b);
}

static void test_garbage_is_a_bad_message(void **state)
{
	uint8_t junk[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

	(void)state;
	errno = 0;
	assert_null(rpc_decode(&iofence__v1__apply_request__descriptor, sizeof(junk), junk));
	assert_int_equal(errno, EBADMSG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_empty_rules_past_the_bound_are_refused),
	    cmocka_unit_test(test_smallest_valid_rules_decode),
	    cmocka_unit_test(test_a_spent_budget_stops_the_decode),
	    cmocka_unit_test(test_garbage_is_a_bad_message),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
