// SPDX-License-Identifier: Apache-2.0
/*
 * policy_parse_reuse() against policy_parse_buffer(): chains of random edits to random
 * documents (block and flow rules, indentless lists, comments, inserted, deleted, changed and
 * broken lines), each text read both ways; the results must be the same document with the same
 * lines, or the same errors. Also checks that the reuse is taken where it should be.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include "policy/parse.h"
#include "policy/write.h"
#include "tests/lib/doc_lines.h"

#define MAX_LINES 4096

struct lines {
	char *v[MAX_LINES];
	size_t n;
};

static unsigned rnd(unsigned *seed, unsigned n)
{
	*seed = *seed * 1103515245u + 12345u;
	return (*seed >> 8) % n;
}

static void add(struct lines *l, size_t at, const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	if (l->n >= MAX_LINES)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	memmove(&l->v[at + 1], &l->v[at], (l->n - at) * sizeof(char *));
	l->v[at] = strdup(buf);
	l->n++;
}

static void del(struct lines *l, size_t at)
{
	free(l->v[at]);
	memmove(&l->v[at], &l->v[at + 1], (l->n - at - 1) * sizeof(char *));
	l->n--;
}

static const char *const protos[] = {"tcp", "udp", "sctp", "icmp", "any", "\"tcp\""};

/*
 * One rule at line `at` with items at indentation ind, in one of `shapes` shapes (the fifth
 * makes the document invalid); returns the lines it took.
 */
static size_t add_rule(struct lines *l, size_t at, unsigned ind, unsigned *seed, int groups,
		       unsigned shapes)
{
	unsigned port = 1 + rnd(seed, 65000), p = rnd(seed, 6);
	const char *dir = rnd(seed, 2) ? "ingress" : "egress";
	char remote[64];

	if (rnd(seed, 4) == 0 && groups > 0)
		snprintf(remote, sizeof(remote), "group: g%u", rnd(seed, (unsigned)groups));
	else {
		unsigned b = rnd(seed, 256), c = rnd(seed, 256); /* in this order, any compiler */

		snprintf(remote, sizeof(remote), "cidr: 10.%u.%u.0/24", b, c);
	}
	if (p >= 3 && p != 5)
		port = 0; /* no ports with icmp / any */
	switch (rnd(seed, shapes)) {
	case 0: /* flow mapping on one line */
		if (port)
			add(l, at, "%*s- {direction: %s, protocol: %s, ports: [%u], %s}", ind, "",
			    dir, protos[p], port, remote);
		else
			add(l, at, "%*s- {direction: %s, protocol: %s, %s}", ind, "", dir,
			    protos[p], remote);
		return 1;
	case 1: /* block mapping, flow ports */
		add(l, at, "%*s- direction: %s", ind, "", dir);
		add(l, at + 1, "%*s  protocol: %s", ind, "", protos[p]);
		add(l, at + 2, "%*s  %s", ind, "", remote);
		if (!port)
			return 3;
		add(l, at + 3, "%*s  ports: [%u, \"%u-%u\"]  # web", ind, "", port, port,
		    port + 1 > 65535 ? 65535 : port + 1);
		return 4;
	case 3: /* a flow mapping over two lines */
		add(l, at, "%*s- {direction: %s, protocol: %s,", ind, "", dir, protos[p]);
		add(l, at + 1, "%*s   %s}", ind, "", remote);
		return 2;
	case 4: /* a block scalar whose lines look like items (an unknown key: the tree counts) */
		add(l, at, "%*s- direction: %s", ind, "", dir);
		add(l, at + 1, "%*s  note: |", ind, "");
		add(l, at + 2, "%*s    - not an item", ind, "");
		add(l, at + 3, "%*s    'quoted: text'", ind, "");
		add(l, at + 4, "%*s  %s", ind, "", remote);
		return 5;
	default: /* block mapping, block ports list */
		add(l, at, "%*s- direction: %s", ind, "", dir);
		add(l, at + 1, "%*s  protocol: %s", ind, "", protos[p]);
		if (port) {
			add(l, at + 2, "%*s  ports:", ind, "");
			add(l, at + 3, "%*s    - %u", ind, "", port);
			add(l, at + 4, "%*s    - '%u'", ind, "", port > 1 ? port - 1 : 2);
			add(l, at + 5, "%*s  %s", ind, "", remote);
			return 6;
		}
		add(l, at + 2, "%*s  %s", ind, "", remote);
		return 3;
	}
}

static void make_doc(struct lines *l, unsigned *seed)
{
	int groups = 1 + (int)rnd(seed, 4);

	add(l, l->n, "# generated");
	add(l, l->n, "revision: %u", 1 + rnd(seed, 1000));
	if (rnd(seed, 2))
		add(l, l->n, "defaults: {ingress: deny, egress: allow}");
	add(l, l->n, "securityGroups:");
	for (int g = 0; g < groups; g++) {
		unsigned ind = rnd(seed, 2) ? 6 : 4; /* 4: an indentless list under "rules:" */
		int rules = 1 + (int)rnd(seed, 12);

		add(l, l->n, "  - name: g%d", g);
		add(l, l->n, "    rules:");
		for (int r = 0; r < rules; r++) {
			if (rnd(seed, 8) == 0)
				add(l, l->n, rnd(seed, 2) ? "" : "%*s# rule %d", ind, "", r);
			add_rule(l, l->n, ind, seed, groups, 4);
		}
	}
	add(l, l->n, "endpoints:");
	for (int e = 0; e < 3; e++) {
		add(l, l->n, "  - name: e%d", e);
		add(l, l->n, "    node: n1");
		add(l, l->n, "    interface: veth%d", e);
		add(l, l->n, "    addresses: [10.255.0.%d]", e + 1);
		add(l, l->n, "    groups: [g%d]", e % groups);
	}
	if (rnd(seed, 2)) {
		add(l, l->n, "prefilter:");
		add(l, l->n, "  - node: n1");
		add(l, l->n, "    interfaces: [eth0]");
		add(l, l->n, "    deny:");
		for (int d = 0; d < 3; d++)
			add(l, l->n, "      - 192.0.%d.0/24", d);
	}
}

static char *join(const struct lines *l, bool final_newline)
{
	size_t len = 0, at = 0;
	char *s;

	for (size_t i = 0; i < l->n; i++)
		len += strlen(l->v[i]) + 1;
	s = malloc(len + 1);
	for (size_t i = 0; i < l->n; i++) {
		size_t k = strlen(l->v[i]);

		memcpy(s + at, l->v[i], k);
		at += k;
		if (i + 1 < l->n || final_newline)
			s[at++] = '\n';
	}
	s[at] = '\0';
	return s;
}

/* Indexes of lines that start a rule item (a "- " under "rules:"), for likely-valid edits. */
static size_t rule_starts(const struct lines *l, size_t *out)
{
	size_t n = 0;

	for (size_t i = 0; i < l->n; i++)
		if (!strncmp(l->v[i], "      - ", 8) ||
		    (!strncmp(l->v[i], "    - ", 6) && i && strncmp(l->v[i - 1], "  -", 3)))
			out[n++] = i;
	return n;
}

static void edit(struct lines *l, unsigned *seed)
{
	static size_t starts[MAX_LINES];
	size_t ns = rule_starts(l, starts), at;
	char buf[512];

	switch (rnd(seed, 12)) {
	case 0: /* the revision, as a controller bumps it */
	case 1:
		for (size_t i = 0; i < l->n; i++)
			if (!strncmp(l->v[i], "revision:", 9)) {
				free(l->v[i]);
				snprintf(buf, sizeof(buf), "revision: %u", 1 + rnd(seed, 100000));
				l->v[i] = strdup(buf);
			}
		break;
	case 2: /* a rule replaced */
	case 3:
		if (!ns)
			break;
		at = starts[rnd(seed, (unsigned)ns)];
		{
			unsigned ind = (unsigned)(strchr(l->v[at], '-') - l->v[at]);

			del(l, at);
			while (at < l->n && strlen(l->v[at]) > ind + 2 && l->v[at][ind] == ' ' &&
			       l->v[at][ind + 1] == ' ')
				del(l, at);
			add_rule(l, at, ind, seed, 2, 4);
		}
		break;
	case 4: /* a rule inserted */
		if (!ns)
			break;
		at = starts[rnd(seed, (unsigned)ns)];
		add_rule(l, at, (unsigned)(strchr(l->v[at], '-') - l->v[at]), seed, 2, 5);
		break;
	case 5: /* a rule's first line deleted (often leaves an invalid item) */
		if (ns > 1)
			del(l, starts[rnd(seed, (unsigned)ns)]);
		break;
	case 6: /* a comment or blank line */
		at = rnd(seed, (unsigned)l->n + 1);
		{
			bool blank = rnd(seed, 2);
			int ind = (int)rnd(seed, 8);

			add(l, at, blank ? "" : "%*s# note", ind, "");
		}
		break;
	case 7: /* a character changed */
		at = rnd(seed, (unsigned)l->n);
		if (*l->v[at]) {
			static const char chars[] = " -:#{}[],'\"&*!\t0a|>";

			l->v[at][rnd(seed, (unsigned)strlen(l->v[at]))] =
			    chars[rnd(seed, sizeof(chars) - 1)];
		}
		break;
	case 8: /* a line deleted */
		if (l->n > 4)
			del(l, rnd(seed, (unsigned)l->n));
		break;
	case 9: /* a line repeated */
		at = rnd(seed, (unsigned)l->n);
		add(l, at, "%s", l->v[at]);
		break;
	case 10: /* a port changed in place */
		if (!ns)
			break;
		at = starts[rnd(seed, (unsigned)ns)];
		{
			char *p = strstr(l->v[at], "ports: [");

			if (p) {
				snprintf(buf, sizeof(buf), "%.*sports: [%u]}", (int)(p - l->v[at]),
					 l->v[at], 1 + rnd(seed, 65535));
				if (strstr(l->v[at], "cidr") || strstr(l->v[at], "group"))
					snprintf(buf + strlen(buf) - 1, 64, ", cidr: 10.9.%u.0/24}",
						 rnd(seed, 256));
				free(l->v[at]);
				l->v[at] = strdup(buf);
			}
		}
		break;
	default: /* a group renamed (references break) */
		for (size_t i = 0; i < l->n; i++)
			if (!strncmp(l->v[i], "  - name: g", 11) && rnd(seed, 3) == 0) {
				free(l->v[i]);
				snprintf(buf, sizeof(buf), "  - name: g%u", rnd(seed, 4));
				l->v[i] = strdup(buf);
			}
		break;
	}
}

static void copy_lines(struct lines *to, const struct lines *from)
{
	for (size_t i = 0; i < to->n; i++)
		free(to->v[i]);
	to->n = from->n;
	for (size_t i = 0; i < from->n; i++)
		to->v[i] = strdup(from->v[i]);
}

/* Reads text both ways; they must agree. Return true when it was valid. */
static bool read_both(struct policy_reuse *reuse, const char *text)
{
	struct policy_errors e1 = {0}, e2 = {0};
	struct policy_document *d1 = NULL, *d2 = NULL;
	int r1 = policy_parse_buffer(text, strlen(text), "t.yaml", &d1, &e1);
	int r2 = policy_parse_reuse(reuse, text, strlen(text), "t.yaml", &d2, &e2);

	if (r1 != r2)
		fprintf(stderr, "whole %d, reuse %d on:\n%s\n", r1, r2, text);
	assert_int_equal(r1, r2);
	if (policy_reuse_check(reuse) == 0)
		fprintf(stderr, "the kept tree differs from a whole parse; last text:\n%s\n", text);
	assert_int_not_equal(policy_reuse_check(reuse), 0);
	if (r1 == 0) {
		if (!policy_document_equal(d1, d2))
			fprintf(stderr, "documents differ on:\n%s\n", text);
		assert_true(policy_document_equal(d1, d2));
		assert_true(policy_lines_equal(d1, d2));
	} else {
		char *t1 = errors_text(&e1), *t2 = errors_text(&e2);

		assert_string_equal(t1, t2);
		free(t1);
		free(t2);
	}
	policy_document_free(d1);
	policy_document_free(d2);
	policy_errors_free(&e1);
	policy_errors_free(&e2);
	return r1 == 0;
}

static void random_edit_chains(void **state)
{
	unsigned long valid = 0, steps = 0, spliced = 0;
	const struct policy_reuse_stats *st;
	struct policy_reuse *reuse;

	(void)state;
	reuse = policy_reuse_new();
	assert_non_null(reuse);
	for (unsigned doc = 0; doc < 60; doc++) {
		unsigned seed = 7919 * doc + 1;
		static struct lines l, good;

		make_doc(&l, &seed);
		for (unsigned step = 0; step < 120; step++) {
			char *text = join(&l, rnd(&seed, 16) != 0);
			unsigned long before = policy_reuse_stats(reuse)->reused;
			bool ok = read_both(reuse, text);

			valid += ok;
			spliced += policy_reuse_stats(reuse)->reused > before &&
				   policy_reuse_stats(reuse)->reread_bytes > 0;
			steps++;
			free(text);
			if (ok)
				copy_lines(&good, &l);
			else if (good.n &&
				 rnd(&seed, 4)) /* mostly go back to the last valid text */
				copy_lines(&l, &good);
			edit(&l, &seed);
			if (rnd(&seed, 3) == 0)
				edit(&l, &seed); /* two changes in one document */
		}
		for (size_t i = 0; i < l.n; i++)
			free(l.v[i]);
		for (size_t i = 0; i < good.n; i++)
			free(good.v[i]);
		l.n = good.n = 0;
	}
	st = policy_reuse_stats(reuse);
	fprintf(stderr,
		"%lu texts, %lu valid; %lu read whole, %lu by re-reading changed items (%lu "
		"of them not the same text again)\n",
		steps, valid, st->whole, st->reused, spliced);
	assert_true(valid > steps / 4);
	assert_true(spliced > valid / 4); /* the reuse is taken, not only fallen back from */
	policy_reuse_free(reuse);
}

/* The case the agent is tuned for: a large document, revision bumped and one rule changed. */
static void large_document_rereads_little(void **state)
{
	struct policy_reuse *reuse = policy_reuse_new();
	const struct policy_reuse_stats *st = policy_reuse_stats(reuse);
	size_t cap = 1 << 20;
	char *text = malloc(cap);

	(void)state;
	for (unsigned rev = 1; rev <= 4; rev++) {
		size_t len = (size_t)snprintf(text, cap,
					      "revision: %u\nsecurityGroups:\n  - name: big\n"
					      "    rules:\n",
					      rev);

		for (unsigned i = 0; i < 5000; i++)
			len += (size_t)snprintf(
			    text + len, cap - len,
			    "      - {direction: ingress, protocol: tcp, ports: [%u], "
			    "cidr: 10.%u.%u.0/24}\n",
			    i ? 1 + i : rev, (i >> 8) & 255, i & 255);
		snprintf(
		    text + len, cap - len,
		    "endpoints:\n  - {name: e, node: n, interface: v0, addresses: [10.255.0.1], "
		    "groups: [big]}\n");
		assert_true(read_both(reuse, text));
		if (rev > 1)
			assert_true(st->reread_bytes < 200);
	}
	assert_int_equal(st->whole, 1);
	assert_int_equal(st->reused, 3);
	free(text);
	policy_reuse_free(reuse);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(large_document_rereads_little),
	    cmocka_unit_test(random_edit_chains),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
