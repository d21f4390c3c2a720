// SPDX-License-Identifier: Apache-2.0
/* Policy and packet generators (tests/lib/gen.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gen.h"
#include "policy/derive.h"
#include "policy/errors.h"
#include "policy/parse.h"

uint64_t gen_next(struct gen_rng *r)
{
	if (r->data) {
		uint64_t v = 0;

		for (int i = 0; i < 2 && r->len; i++, r->data++, r->len--)
			v = v << 8 | *r->data;
		return v;
	}
	uint64_t z = (r->state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

uint64_t gen_seed_from_env(void)
{
	const char *s = getenv("IOFENCE_SEED");
	struct timespec ts;

	if (s && *s)
		return strtoull(s, NULL, 0);
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000007ull ^ (uint64_t)ts.tv_nsec;
}

static void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size);

	if (!p) {
		perror("calloc");
		abort();
	}
	return p;
}

static char *xprintf(const char *fmt, size_t i)
{
	char buf[64];

	snprintf(buf, sizeof(buf), fmt, i);
	return strdup(buf);
}

/* Pool of workload addresses: small, so CIDRs and groups overlap a lot. */
static struct policy_prefix pool_address(unsigned family, uint32_t i)
{
	struct policy_prefix p = {.family = (uint8_t)family, .len = family == 4 ? 32 : 128};

	if (family == 4) {
		p.addr[0] = 10;
		p.addr[1] = (uint8_t)(i / 64 % 2);
		p.addr[2] = (uint8_t)(i / 16 % 4);
		p.addr[3] = (uint8_t)(1 + i % 16);
	} else {
		p.addr[0] = 0xfd;
		p.addr[7] = (uint8_t)(i / 16 % 4);
		p.addr[15] = (uint8_t)(1 + i % 16);
	}
	return p;
}

static void mask_prefix(struct policy_prefix *p)
{
	unsigned max = p->family == 4 ? 32 : 128;

	for (unsigned b = p->len; b < max; b++)
		p->addr[b / 8] &= (uint8_t)~(0x80u >> (b % 8));
}

static struct policy_prefix random_address(struct gen_rng *r, unsigned family)
{
	struct policy_prefix p = pool_address(family, gen_below(r, 128));
	unsigned max = family == 4 ? 32 : 128;

	switch (gen_below(r, 4)) {
	case 0: /* anywhere */
		for (unsigned i = 0; i < max / 8; i++)
			p.addr[i] = (uint8_t)gen_next(r);
		break;
	case 1: /* near the pool: flip a few low bits */
		p.addr[max / 8 - 1 - gen_below(r, 2)] ^= (uint8_t)gen_next(r);
		break;
	default: /* a pool address */
		break;
	}
	return p;
}

static struct policy_prefix random_cidr(struct gen_rng *r)
{
	unsigned family = gen_below(r, 3) ? 4 : 6, max = family == 4 ? 32 : 128;
	struct policy_prefix p = random_address(r, family);

	switch (gen_below(r, 4)) {
	case 0:
		p.len = (uint8_t)gen_below(r, max + 1);
		break;
	case 1:
		p.len = (uint8_t)max;
		break;
	default: /* lengths around the pool's structure */
		p.len = (uint8_t)(family == 4 ? 20 + gen_below(r, 13) : 112 + gen_below(r, 17));
		break;
	}
	mask_prefix(&p);
	return p;
}

static const uint16_t interesting_ports[] = {1, 2, 22, 53, 79, 80, 81, 443, 1000, 1023, 1024,
					     8000, 8080, 32768, 65534, 65535};
#define N_INTERESTING (sizeof(interesting_ports) / sizeof(interesting_ports[0]))

static struct policy_port_range random_range(struct gen_rng *r)
{
	struct policy_port_range pr;
	uint32_t lo = gen_below(r, 3) ? interesting_ports[gen_below(r, N_INTERESTING)]
				      : 1 + gen_below(r, 65535);
	uint32_t hi;

	switch (gen_below(r, 4)) {
	case 0:
		hi = lo;
		break;
	case 1:
		hi = lo + gen_below(r, 16);
		break;
	case 2:
		hi = interesting_ports[gen_below(r, N_INTERESTING)];
		break;
	default:
		hi = lo + gen_below(r, 65536);
		break;
	}
	if (hi > 65535)
		hi = 65535;
	if (hi < lo) {
		uint32_t t = hi;

		hi = lo;
		lo = t;
	}
	pr.lo = (uint16_t)lo;
	pr.hi = (uint16_t)hi;
	return pr;
}

static const int protocols[] = {POLICY_PROTO_ANY, POLICY_PROTO_TCP, POLICY_PROTO_TCP,
				POLICY_PROTO_UDP, POLICY_PROTO_SCTP, POLICY_PROTO_ICMP,
				POLICY_PROTO_ICMPV6, 47};
static const uint16_t priorities[] = {0, 1, 10, 100, 100, 1000, 1000, 65535};

static void random_rule(struct gen_rng *r, struct policy_rule *rule, size_t n_groups)
{
	rule->direction = gen_below(r, 2) ? POLICY_EGRESS : POLICY_INGRESS;
	rule->action = gen_below(r, 2) ? POLICY_DENY : POLICY_ALLOW;
	rule->priority = gen_below(r, 4) ? priorities[gen_below(r, 8)] : (uint16_t)gen_next(r);
	rule->protocol = protocols[gen_below(r, 8)];
	if (policy_proto_has_ports(rule->protocol) && gen_below(r, 3)) {
		rule->n_ports = 1 + gen_below(r, 3);
		rule->ports = xcalloc(rule->n_ports, sizeof(*rule->ports));
		for (size_t i = 0; i < rule->n_ports; i++)
			rule->ports[i] = random_range(r);
	}
	switch (gen_below(r, 5)) {
	case 0:
		rule->remote_kind = POLICY_REMOTE_ANY;
		break;
	case 1:
	case 2:
		rule->remote_kind = POLICY_REMOTE_CIDR;
		rule->cidr = random_cidr(r);
		rule->has_cidr = true;
		break;
	default:
		rule->remote_kind = POLICY_REMOTE_GROUP;
		rule->group = xprintf("g%zu", gen_below(r, (uint32_t)n_groups));
		break;
	}
}

static void resolve(struct policy_document *doc)
{
	struct policy_errors errs = {0};

	if (policy_validate(doc, "generated", &errs)) {
		fprintf(stderr, "generator produced an invalid document:\n");
		policy_errors_print(&errs, stderr);
		abort();
	}
	policy_errors_free(&errs);
}

static struct policy_document *random_policy(struct gen_rng *r)
{
	struct policy_document *doc = xcalloc(1, sizeof(*doc));
	size_t n_groups = 1 + gen_below(r, 6), n_eps = 1 + gen_below(r, 8), next_addr = 0;
	uint32_t pool_order = gen_below(r, 64);

	doc->defaults.ingress = gen_below(r, 2) ? POLICY_DENY : POLICY_ALLOW;
	doc->defaults.egress = gen_below(r, 2) ? POLICY_DENY : POLICY_ALLOW;
	doc->defaults.mode = gen_below(r, 6) ? POLICY_ENFORCE : POLICY_AUDIT;
	doc->n_groups = n_groups;
	doc->groups = xcalloc(n_groups, sizeof(*doc->groups));
	for (size_t g = 0; g < n_groups; g++) {
		struct policy_group *grp = &doc->groups[g];

		grp->name = xprintf("g%zu", g);
		grp->n_rules = gen_below(r, 14);
		grp->rules = xcalloc(grp->n_rules, sizeof(*grp->rules));
		for (size_t i = 0; i < grp->n_rules; i++)
			random_rule(r, &grp->rules[i], n_groups);
	}
	doc->n_endpoints = n_eps;
	doc->endpoints = xcalloc(n_eps, sizeof(*doc->endpoints));
	for (size_t e = 0; e < n_eps; e++) {
		struct policy_endpoint *ep = &doc->endpoints[e];

		ep->name = xprintf("ep%zu", e);
		ep->node = strdup(e == 0 || gen_below(r, 3) ? GEN_NODE : GEN_OTHER_NODE);
		ep->interface = xprintf("veth%zu", e);
		ep->n_addresses = gen_below(r, 4);
		ep->addresses = xcalloc(ep->n_addresses, sizeof(*ep->addresses));
		for (size_t a = 0; a < ep->n_addresses; a++) /* distinct: each pool slot once */
			ep->addresses[a] = pool_address(gen_below(r, 3) ? 4 : 6,
							(uint32_t)(pool_order + 37 * next_addr++));
		ep->n_groups = gen_below(r, 4);
		ep->groups = xcalloc(ep->n_groups, sizeof(*ep->groups));
		for (size_t g = 0; g < ep->n_groups; g++)
			ep->groups[g] = xprintf("g%zu", gen_below(r, (uint32_t)n_groups));
		ep->ingress = gen_below(r, 4) ? POLICY_INHERIT
					      : (gen_below(r, 2) ? POLICY_DENY : POLICY_ALLOW);
		ep->egress = gen_below(r, 4) ? POLICY_INHERIT
					     : (gen_below(r, 2) ? POLICY_DENY : POLICY_ALLOW);
		ep->mode = gen_below(r, 5) ? POLICY_INHERIT
					   : (gen_below(r, 2) ? POLICY_AUDIT : POLICY_ENFORCE);
	}
	resolve(doc);
	return doc;
}

struct policy_document *gen_random_policy(struct gen_rng *r)
{
	return random_policy(r);
}

struct policy_document *gen_policy_from_bytes(const uint8_t *data, size_t len)
{
	struct gen_rng r = {.data = data, .len = len};

	return random_policy(&r);
}

/* Ports on or next to the rules' range boundaries, where off-by-one errors live. */
static uint16_t random_port(struct gen_rng *r, const struct policy_document *doc)
{
	if (gen_below(r, 4) && doc->n_groups) {
		const struct policy_group *grp = &doc->groups[gen_below(r, (uint32_t)doc->n_groups)];

		if (grp->n_rules) {
			const struct policy_rule *rule = &grp->rules[gen_below(r, (uint32_t)grp->n_rules)];

			if (rule->n_ports) {
				const struct policy_port_range *pr =
					&rule->ports[gen_below(r, (uint32_t)rule->n_ports)];
				int delta = (int)gen_below(r, 3) - 1;
				int port = (gen_below(r, 2) ? pr->lo : pr->hi) + delta;

				return (uint16_t)(port < 0 ? 0 : port > 65535 ? 65535 : port);
			}
		}
	}
	if (gen_below(r, 2))
		return interesting_ports[gen_below(r, N_INTERESTING)];
	return (uint16_t)gen_next(r);
}

void gen_random_packet(struct gen_rng *r, const struct policy_document *doc, size_t ep_index,
		       struct policy_packet *pkt)
{
	static const uint8_t protos[] = {6, 6, 17, 17, 132, 1, 58, 47, 0};
	const struct policy_endpoint *other = &doc->endpoints[gen_below(r, (uint32_t)doc->n_endpoints)];

	(void)ep_index;
	memset(pkt, 0, sizeof(*pkt));
	pkt->direction = gen_below(r, 2) ? POLICY_EGRESS : POLICY_INGRESS;
	if (other->n_addresses && gen_below(r, 2))
		pkt->remote = other->addresses[gen_below(r, (uint32_t)other->n_addresses)];
	else
		pkt->remote = random_address(r, gen_below(r, 2) ? 4 : 6);
	pkt->proto = protos[gen_below(r, sizeof(protos))];
	pkt->dport = policy_proto_has_ports(pkt->proto) ? random_port(r, doc) : 0;
}

static struct policy_prefix realistic_address(size_t i, unsigned family)
{
	struct policy_prefix p = {.family = (uint8_t)family, .len = family == 4 ? 32 : 128};

	if (family == 4) {
		p.addr[0] = 10;
		p.addr[1] = (uint8_t)(i / 250 / 256);
		p.addr[2] = (uint8_t)(i / 250 % 256);
		p.addr[3] = (uint8_t)(1 + i % 250); /* never .0 or .255 */
	} else {
		p.addr[0] = 0xfd;
		p.addr[1] = 0x10;
		p.addr[13] = (uint8_t)(i >> 16);
		p.addr[14] = (uint8_t)(i >> 8);
		p.addr[15] = (uint8_t)i;
	}
	return p;
}

static const uint16_t service_ports[] = {22, 53, 80, 443, 3306, 5432, 6379, 8080, 8443, 9090,
					 9100, 11211, 27017};

/*
 * Real segmentation policies are sparse graphs: a group talks to a few other groups (web to
 * lb and db), with many rules (ports) per pair. Group g's peers: GEN_PEERS fixed groups.
 */
#define GEN_PEERS 5

static size_t realistic_peer(struct gen_rng *r, size_t g, size_t n_groups)
{
	return (g * 7 + 13 * gen_below(r, GEN_PEERS) + 1) % n_groups;
}

static void realistic_rule(struct gen_rng *r, struct policy_rule *rule, size_t g,
			   const struct gen_realistic_opts *o)
{
	uint32_t kind = gen_below(r, 100);

	rule->direction = gen_below(r, 10) < 7 ? POLICY_INGRESS : POLICY_EGRESS;
	rule->action = gen_below(r, 10) ? POLICY_ALLOW : POLICY_DENY;
	rule->priority = gen_below(r, 5) ? POLICY_PRIORITY_DEFAULT : (uint16_t)(100 * gen_below(r, 10));
	uint32_t proto = gen_below(r, 100);

	rule->protocol = proto < 80 ? POLICY_PROTO_TCP : proto < 95 ? POLICY_PROTO_UDP
								      : POLICY_PROTO_ICMP;
	if (policy_proto_has_ports(rule->protocol)) {
		rule->n_ports = 1 + gen_below(r, 3);
		rule->ports = xcalloc(rule->n_ports, sizeof(*rule->ports));
		for (size_t i = 0; i < rule->n_ports; i++) {
			uint16_t port = gen_below(r, 2) ? service_ports[gen_below(r, 13)]
							: (uint16_t)(1024 + gen_below(r, 60000));

			rule->ports[i].lo = port;
			rule->ports[i].hi = gen_below(r, 8) ? port : (uint16_t)(port + gen_below(r, 100));
		}
	}
	if (kind < o->group_pct) {
		rule->remote_kind = POLICY_REMOTE_GROUP;
		rule->group = xprintf("sg-%zu", realistic_peer(r, g, o->groups));
	} else if (kind < o->group_pct + o->any_pct) {
		rule->remote_kind = POLICY_REMOTE_ANY;
	} else {
		rule->remote_kind = POLICY_REMOTE_CIDR;
		rule->has_cidr = true;
		if (gen_below(r, 10)) {
			rule->cidr.family = 4;
			rule->cidr.len = (uint8_t)(16 + gen_below(r, 17));
			/* outside the pod range 10.0.0.0/12, as external networks are */
			rule->cidr.addr[0] = gen_below(r, 2) ? 10 : 172;
			rule->cidr.addr[1] = (uint8_t)(16 + gen_below(r, 240));
			for (int i = 2; i < 4; i++)
				rule->cidr.addr[i] = (uint8_t)gen_next(r);
		} else {
			rule->cidr.family = 6;
			rule->cidr.len = (uint8_t)(48 + gen_below(r, 81));
			rule->cidr.addr[0] = 0xfd;
			rule->cidr.addr[1] = (uint8_t)(0x20 + gen_below(r, 0xc0)); /* not fd10::/16 */
			for (int i = 2; i < 16; i++)
				rule->cidr.addr[i] = (uint8_t)gen_next(r);
		}
		mask_prefix(&rule->cidr);
	}
}

struct policy_document *gen_realistic_policy(struct gen_rng *r,
					     const struct gen_realistic_opts *o)
{
	struct policy_document *doc = xcalloc(1, sizeof(*doc));
	size_t n_eps = 2 * o->endpoints;

	doc->defaults.ingress = POLICY_DENY;
	doc->defaults.egress = POLICY_ALLOW;
	doc->n_groups = o->groups;
	doc->groups = xcalloc(o->groups, sizeof(*doc->groups));
	for (size_t g = 0; g < o->groups; g++) {
		struct policy_group *grp = &doc->groups[g];

		grp->name = xprintf("sg-%zu", g);
		grp->n_rules = o->rules / o->groups + (g < o->rules % o->groups);
		grp->rules = xcalloc(grp->n_rules, sizeof(*grp->rules));
		for (size_t i = 0; i < grp->n_rules; i++)
			realistic_rule(r, &grp->rules[i], g, o);
	}
	doc->n_endpoints = n_eps;
	doc->endpoints = xcalloc(n_eps, sizeof(*doc->endpoints));
	for (size_t e = 0; e < n_eps; e++) {
		struct policy_endpoint *ep = &doc->endpoints[e];
		bool v6 = e % 5 == 0;

		ep->name = xprintf("pod-%zu", e);
		ep->node = strdup(e < o->endpoints ? GEN_NODE : GEN_OTHER_NODE);
		ep->interface = xprintf("lxc%zu", e);
		ep->n_addresses = v6 ? 2 : 1;
		ep->addresses = xcalloc(ep->n_addresses, sizeof(*ep->addresses));
		ep->addresses[0] = realistic_address(e + 1, 4);
		if (v6)
			ep->addresses[1] = realistic_address(e + 1, 6);
		ep->n_groups = e % 10 < 3 ? 2 : 1;
		ep->groups = xcalloc(ep->n_groups, sizeof(*ep->groups));
		ep->groups[0] = xprintf("sg-%zu", e % o->groups);
		if (ep->n_groups == 2) /* one of three cross-cutting groups: monitoring, logging, mesh */
			ep->groups[1] = xprintf("sg-%zu", (e / 10) % (o->groups < 3 ? o->groups : 3));
		ep->ingress = ep->egress = ep->mode = POLICY_INHERIT;
	}
	resolve(doc);
	return doc;
}

struct policy_document *gen_with_new_profile(struct policy_document *doc, const char *name,
					     const char *interface)
{
	Iofence__V1__Endpoint ep = IOFENCE__V1__ENDPOINT__INIT;
	char *addr = (char *)"10.251.0.9", *group = doc->groups[0].name;
	struct policy_endpoint_change ch = {.name = name, .put = &ep};
	struct policy_changes changes = {.endpoints = &ch, .n_endpoints = 1};
	struct policy_errors errs = {0};
	struct policy_document *out = NULL;

	ep.name = (char *)name;
	ep.node = (char *)GEN_NODE;
	ep.interface = (char *)interface;
	ep.n_addresses = 1;
	ep.addresses = &addr;
	ep.n_groups = 1;
	ep.groups = &group;
	ep.ingress = IOFENCE__V1__ACTION__ACTION_ALLOW; /* no local endpoint had these defaults */
	if (policy_derive(doc, &changes, "<test>", &out, &errs)) {
		for (size_t i = 0; i < errs.n; i++)
			fprintf(stderr, "%s\n", errs.items[i].message);
		out = NULL;
	}
	policy_errors_free(&errs);
	return out;
}
