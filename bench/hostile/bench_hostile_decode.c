// SPDX-License-Identifier: Apache-2.0
/*
 * bench/hostile: what a hostile Apply request costs as a message, before and after the
 * parser's side: the server's bounded decode (agent/rpc/decode.c, on a gRPC queue thread)
 * and policy_from_pb() (on a reader thread), for the densest messages protobuf allows, at
 * growing sizes. Prints a markdown table of CPU milliseconds and nanoseconds per byte.
 *   bench_hostile_decode [--sizes 1000000,4000000,16000000] [--repeat 3]
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <iofence/v1/agent.pb-c.h>

#include "agent/rpc/decode.h"
#include "policy/pb.h"

struct bytes {
	uint8_t *b;
	size_t len, cap;
};

static void put(struct bytes *m, const void *p, size_t n)
{
	if (!n)
		return;
	if (m->len + n > m->cap) {
		m->cap = (m->len + n) * 2;
		m->b = realloc(m->b, m->cap);
		if (!m->b) {
			perror("realloc");
			exit(1);
		}
	}
	memcpy(m->b + m->len, p, n);
	m->len += n;
}

static void varint(struct bytes *m, uint64_t v)
{
	uint8_t c;

	do {
		c = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
		put(m, &c, 1);
		v >>= 7;
	} while (v);
}

/* A length-delimited field number of payload. */
static void field(struct bytes *m, unsigned number, const struct bytes *payload)
{
	varint(m, (uint64_t)number << 3 | 2);
	varint(m, payload->len);
	put(m, payload->b, payload->len);
}

/* ApplyRequest{document: {security_groups: [group]}} around the group's bytes. */
static void request_of_group(struct bytes *out, const struct bytes *group)
{
	struct bytes doc = {0};

	field(&doc, 4, group);
	field(out, 1, &doc);
	free(doc.b);
}

/* n times the same item bytes as field number of one group (item empty: 2 bytes each). */
static void group_of(struct bytes *out, unsigned number, const uint8_t *item, size_t item_len,
		     size_t n)
{
	struct bytes group = {0}, one = {.b = (uint8_t *)item, .len = item_len};
	struct bytes name = {.b = (uint8_t *)"g", .len = 1};

	field(&group, 1, &name);
	for (size_t i = 0; i < n; i++)
		field(&group, number, &one);
	request_of_group(out, &group);
	free(group.b);
}

static void empty_rules(struct bytes *m, size_t size)
{
	group_of(m, 2, NULL, 0, size / 2);
}

/* The smallest valid rule: a direction alone (4 bytes). */
static void minimal_rules(struct bytes *m, size_t size)
{
	static const uint8_t ingress[] = {0x08, 0x01};

	group_of(m, 2, ingress, sizeof(ingress), size / 4);
}

/* One rule of many empty port ranges (port 0: an error each). */
static void empty_ports(struct bytes *m, size_t size)
{
	struct bytes rule = {0}, group = {0}, name = {.b = (uint8_t *)"g", .len = 1};
	struct bytes empty = {0};
	static const uint8_t head[] = {0x08, 0x01, 0x28, 0x06, 0x50, 0x01}; /* ingress, tcp */

	put(&rule, head, sizeof(head));
	for (size_t i = 0; i < size / 2; i++)
		field(&rule, 6, &empty);
	field(&group, 1, &name);
	field(&group, 2, &rule);
	request_of_group(m, &group);
	free(rule.b);
	free(group.b);
}

/* The same, valid: port 1 each (4 bytes a range). */
static void valid_ports(struct bytes *m, size_t size)
{
	struct bytes rule = {0}, group = {0}, name = {.b = (uint8_t *)"g", .len = 1};
	struct bytes one = {.b = (uint8_t[]){0x08, 0x01}, .len = 2};
	static const uint8_t head[] = {0x08, 0x01, 0x28, 0x06, 0x50, 0x01};

	put(&rule, head, sizeof(head));
	for (size_t i = 0; i < size / 4; i++)
		field(&rule, 6, &one);
	field(&group, 1, &name);
	field(&group, 2, &rule);
	request_of_group(m, &group);
	free(rule.b);
	free(group.b);
}

/* Text the agent stores and does not parse (document_source), beside a small document. */
static void document_source(struct bytes *m, size_t size)
{
	struct bytes text = {0};

	minimal_rules(m, 4);
	text.b = malloc(size);
	if (!text.b)
		exit(1);
	memset(text.b, 'a', size);
	text.len = size;
	field(m, 30, &text);
	free(text.b);
}

struct shape {
	const char *name;
	void (*make)(struct bytes *m, size_t size);
};

static const struct shape shapes[] = {
    {"empty rules (2 B each)", empty_rules},
    {"smallest valid rules (4 B each)", minimal_rules},
    {"empty port ranges (2 B each)", empty_ports},
    {"valid port ranges (4 B each)", valid_ports},
    {"document_source text", document_source},
};

static double cpu_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* CPU ms of the decode and of policy_from_pb (-1: not reached); the outcome in what. */
static void run_once(const struct bytes *m, double *decode, double *read, char *what,
		     size_t len)
{
	struct policy_errors errs = {0};
	struct policy_document *doc = NULL;
	Iofence__V1__ApplyRequest *req;
	double c0 = cpu_ms();
	int r;

	req = (Iofence__V1__ApplyRequest *)rpc_decode(&iofence__v1__apply_request__descriptor,
						      m->len, m->b);
	*decode = cpu_ms() - c0;
	*read = -1;
	if (!req) {
		snprintf(what, len, "decode refused (%s)",
			 errno == E2BIG ? "past its memory bound" : "malformed");
		return;
	}
	c0 = cpu_ms();
	r = req->document ? policy_from_pb(req->document, "<bench>", &doc, &errs) : 0;
	*read = cpu_ms() - c0;
	snprintf(what, len, "%s, %zu error%s", r == 0 ? "valid" : "refused",
		 errs.n + errs.dropped, errs.n + errs.dropped == 1 ? "" : "s");
	policy_document_free(doc);
	policy_errors_free(&errs);
	iofence__v1__apply_request__free_unpacked(req, NULL);
}

int main(int argc, char **argv)
{
	size_t sizes[8] = {1000000, 4000000, 16000000}, n_sizes = 3;
	int repeat = 3;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--sizes") && i + 1 < argc) {
			char *save = NULL, *tok = strtok_r(argv[++i], ",", &save);

			for (n_sizes = 0; tok && n_sizes < 8; tok = strtok_r(NULL, ",", &save))
				sizes[n_sizes++] = strtoull(tok, NULL, 10);
		} else if (!strcmp(argv[i], "--repeat") && i + 1 < argc &&
			   atoi(argv[i + 1]) > 0 && atoi(argv[i + 1]) <= 15) {
			repeat = atoi(argv[++i]);
		} else {
			fprintf(stderr, "usage: %s [--sizes a,b,c] [--repeat N]\n", argv[0]);
			return 2;
		}
	}
	printf("| message |");
	for (size_t s = 0; s < n_sizes; s++)
		printf(" %zu B: decode / from_pb CPU ms (ns/B) |", sizes[s]);
	printf(" outcome at the largest |\n|---|");
	for (size_t s = 0; s < n_sizes; s++)
		printf("---:|");
	printf("---|\n");
	for (size_t k = 0; k < sizeof(shapes) / sizeof(shapes[0]); k++) {
		char what[128] = "";

		printf("| %s |", shapes[k].name);
		for (size_t s = 0; s < n_sizes; s++) {
			struct bytes m = {0};
			double dec[15], rd[15];

			shapes[k].make(&m, sizes[s]);
			for (int i = 0; i < repeat; i++)
				run_once(&m, &dec[i], &rd[i], what, sizeof(what));
			qsort(dec, (size_t)repeat, sizeof(dec[0]), cmp_double);
			qsort(rd, (size_t)repeat, sizeof(rd[0]), cmp_double);
			if (rd[repeat / 2] < 0)
				printf(" %.1f / - (%.0f) |", dec[repeat / 2],
				       dec[repeat / 2] * 1e6 / (double)m.len);
			else
				printf(" %.1f / %.1f (%.0f) |", dec[repeat / 2], rd[repeat / 2],
				       (dec[repeat / 2] + rd[repeat / 2]) * 1e6 / (double)m.len);
			fflush(stdout);
			free(m.b);
		}
		printf(" %s |\n", what);
	}
	return 0;
}
