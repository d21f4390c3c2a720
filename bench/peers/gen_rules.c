// SPDX-License-Identifier: Apache-2.0
/*
 * bench/peers: one realistic rule set written three ways - a policy YAML for iofence, an
 * iptables-restore file as users write it (a linear chain) and an nft -f file as experts write
 * it (conntrack first, then verdict maps over address . port) - plus the prefilter deny-lists.
 *
 *   peers_gen_rules --rules N --out DIR [--seed S] [--prefilter N]
 *
 * Every rule is an ingress rule of the server's group "bench-srv". Background rules name a
 * peer group (60%, 1-3 members each) or an external CIDR (40%, /20../32 in a block of its own)
 * with tcp/udp/icmp and 1-3 ports; one in ten denies, one in five has a priority below the
 * default. They never match the probed flows. Two probe rules (tcp 7000 and 5201; udp 7001;
 * from the group "bench-clients") come last in every linear order: they have the default
 * priority and the sort is stable. See run.sh for the addresses.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/model.h"
#include "policy/write.h"

#define CLIENTS 16              /* client addresses 10.201.1.2 .. 10.201.1.17 */
#define SERVER_ADDR 0x0ac90202u /* 10.201.2.2 */
#define CLIENT_BASE 0x0ac90102u /* 10.201.1.2 */
#define MEMBER_BASE 0x0aca0001u /* 10.202.0.1: members of background groups */
#define CIDR_BASE 0x0b000000u   /* 11.0.0.0: rule i owns the /20 block i */
#define MEMBERS_MAX 3
#define PORTS_MAX 3

static const uint16_t service_ports[] = {22, 53, 80, 443, 3306, 5432, 6379, 8080, 8443, 9090,
					 9100, 11211, 27017};
static const uint16_t probe_ports[] = {7000, 7001, 5201};

enum remote { REMOTE_GROUP, REMOTE_CIDR };

struct bench_rule {
	int action;   /* POLICY_ALLOW / POLICY_DENY */
	uint16_t priority;
	int proto;    /* POLICY_PROTO_TCP / UDP / ICMP */
	uint16_t ports[PORTS_MAX];
	size_t n_ports;
	enum remote remote;
	size_t group;          /* REMOTE_GROUP: background group index, or SIZE_MAX: clients */
	uint32_t addr;         /* REMOTE_CIDR, host order */
	uint8_t len;
};

struct bench_set {
	struct bench_rule *rules;
	size_t n_rules;
	size_t n_groups;
	size_t *n_members; /* per background group */
};

static uint64_t rng_state;

static uint64_t rnd(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint32_t below(uint32_t n)
{
	return (uint32_t)(rnd() % n);
}

static void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size);

	if (!p) {
		perror("calloc");
		exit(2);
	}
	return p;
}

static char *xstrdupf(const char *fmt, ...)
{
	char *s;
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0) {
		perror("vasprintf");
		exit(2);
	}
	va_end(ap);
	return s;
}

static uint32_t member_addr(size_t group, size_t k)
{
	return MEMBER_BASE + (uint32_t)(group * MEMBERS_MAX + k);
}

static const char *ip4(uint32_t a, char buf[16])
{
	snprintf(buf, 16, "%u.%u.%u.%u", a >> 24, (a >> 16) & 255, (a >> 8) & 255, a & 255);
	return buf;
}

static bool is_probe_port(uint16_t p)
{
	for (size_t i = 0; i < sizeof(probe_ports) / sizeof(probe_ports[0]); i++)
		if (p == probe_ports[i])
			return true;
	return false;
}

static void background_rule(struct bench_rule *r, size_t i, size_t n_groups)
{
	uint32_t proto = below(100);

	r->action = below(10) ? POLICY_ALLOW : POLICY_DENY;
	r->priority = below(5) ? POLICY_PRIORITY_DEFAULT : (uint16_t)(100 + 100 * below(9));
	r->proto = proto < 80 ? POLICY_PROTO_TCP : proto < 95 ? POLICY_PROTO_UDP : POLICY_PROTO_ICMP;
	if (r->proto != POLICY_PROTO_ICMP) {
		r->n_ports = 1 + below(PORTS_MAX);
		for (size_t k = 0; k < r->n_ports; k++) {
			uint16_t p;

			do {
				p = below(2) ? service_ports[below(13)] : (uint16_t)(1024 + below(60000));
			} while (is_probe_port(p));
			r->ports[k] = p;
		}
	}
	if (below(100) < 60) {
		r->remote = REMOTE_GROUP;
		r->group = below((uint32_t)n_groups);
	} else {
		r->remote = REMOTE_CIDR;
		r->len = (uint8_t)(20 + below(13));
		r->addr = CIDR_BASE + ((uint32_t)i << 12);
		r->addr |= below(1u << 12) & ~(0xffffffffu >> r->len); /* inside its own block */
	}
}

static int cmp_rule(const void *a, const void *b)
{
	const struct bench_rule *x = a, *y = b;

	if (x->priority != y->priority)
		return x->priority < y->priority ? -1 : 1;
	return (x->action == POLICY_DENY ? 0 : 1) - (y->action == POLICY_DENY ? 0 : 1);
}

/* Stable: equal rules keep their order, so the probes (appended last) stay last. */
static void sort_rules(struct bench_rule *r, size_t n)
{
	struct bench_rule *tmp = xcalloc(n, sizeof(*tmp));

	for (size_t width = 1; width < n; width *= 2) {
		for (size_t lo = 0; lo < n; lo += 2 * width) {
			size_t mid = lo + width < n ? lo + width : n;
			size_t hi = lo + 2 * width < n ? lo + 2 * width : n;
			size_t i = lo, j = mid, k = lo;

			while (i < mid && j < hi)
				tmp[k++] = cmp_rule(&r[j], &r[i]) < 0 ? r[j++] : r[i++];
			while (i < mid)
				tmp[k++] = r[i++];
			while (j < hi)
				tmp[k++] = r[j++];
		}
		memcpy(r, tmp, n * sizeof(*r));
	}
	free(tmp);
}

static void make_set(struct bench_set *s, size_t n)
{
	s->n_groups = n / 50 < 5 ? 5 : n / 50 > 1000 ? 1000 : n / 50;
	s->n_members = xcalloc(s->n_groups, sizeof(*s->n_members));
	for (size_t g = 0; g < s->n_groups; g++)
		s->n_members[g] = 1 + below(MEMBERS_MAX);
	s->n_rules = n + 2;
	s->rules = xcalloc(s->n_rules, sizeof(*s->rules));
	for (size_t i = 0; i < n; i++)
		background_rule(&s->rules[i], i, s->n_groups);
	s->rules[n] = (struct bench_rule){.action = POLICY_ALLOW, .priority = POLICY_PRIORITY_DEFAULT,
					  .proto = POLICY_PROTO_TCP, .ports = {7000, 5201},
					  .n_ports = 2, .remote = REMOTE_GROUP, .group = SIZE_MAX};
	s->rules[n + 1] = (struct bench_rule){.action = POLICY_ALLOW,
					      .priority = POLICY_PRIORITY_DEFAULT,
					      .proto = POLICY_PROTO_UDP, .ports = {7001},
					      .n_ports = 1, .remote = REMOTE_GROUP,
					      .group = SIZE_MAX};
	sort_rules(s->rules, s->n_rules);
}

static struct policy_prefix prefix4(uint32_t a, uint8_t len)
{
	struct policy_prefix p = {.family = 4, .len = len};

	p.addr[0] = (uint8_t)(a >> 24);
	p.addr[1] = (uint8_t)(a >> 16);
	p.addr[2] = (uint8_t)(a >> 8);
	p.addr[3] = (uint8_t)a;
	return p;
}

static void add_endpoint(struct policy_document *doc, char *name, const char *node,
			 const char *ifname, uint32_t addr, char *group)
{
	struct policy_endpoint *ep = &doc->endpoints[doc->n_endpoints++];

	ep->name = name;
	ep->node = strdup(node);
	ep->interface = strdup(ifname); /* the validator wants one even on another node */
	ep->n_addresses = 1;
	ep->addresses = xcalloc(1, sizeof(*ep->addresses));
	ep->addresses[0] = prefix4(addr, 32);
	ep->n_groups = 1;
	ep->groups = xcalloc(1, sizeof(*ep->groups));
	ep->groups[0] = group;
	ep->group_index = xcalloc(1, sizeof(*ep->group_index));
	ep->ingress = ep->egress = ep->mode = POLICY_INHERIT;
}

struct deny_entry {
	uint32_t addr;
	uint8_t len;
};

static int write_policy(const struct bench_set *s, const char *path,
			const struct deny_entry *deny, size_t n_deny)
{
	struct policy_document *doc = xcalloc(1, sizeof(*doc));
	size_t n_members = 0;
	FILE *f;
	int err;

	for (size_t g = 0; g < s->n_groups; g++)
		n_members += s->n_members[g];
	doc->defaults.ingress = POLICY_DENY;
	doc->defaults.egress = POLICY_ALLOW;
	doc->defaults.mode = POLICY_ENFORCE;
	doc->n_groups = 2 + s->n_groups;
	doc->groups = xcalloc(doc->n_groups, sizeof(*doc->groups));
	doc->groups[0].name = strdup("bench-srv");
	doc->groups[1].name = strdup("bench-clients");
	for (size_t g = 0; g < s->n_groups; g++)
		doc->groups[2 + g].name = xstrdupf("sg-%zu", g);
	doc->groups[0].n_rules = s->n_rules;
	doc->groups[0].rules = xcalloc(s->n_rules, sizeof(struct policy_rule));
	for (size_t i = 0; i < s->n_rules; i++) {
		const struct bench_rule *b = &s->rules[i];
		struct policy_rule *r = &doc->groups[0].rules[i];

		r->direction = POLICY_INGRESS;
		r->action = b->action;
		r->priority = b->priority;
		r->protocol = b->proto;
		r->n_ports = b->n_ports;
		r->ports = xcalloc(b->n_ports, sizeof(*r->ports));
		for (size_t k = 0; k < b->n_ports; k++)
			r->ports[k].lo = r->ports[k].hi = b->ports[k];
		if (b->remote == REMOTE_GROUP) {
			r->remote_kind = POLICY_REMOTE_GROUP;
			r->group = b->group == SIZE_MAX ? strdup("bench-clients")
							 : xstrdupf("sg-%zu", b->group);
		} else {
			r->remote_kind = POLICY_REMOTE_CIDR;
			r->has_cidr = true;
			r->cidr = prefix4(b->addr, b->len);
		}
	}
	doc->endpoints = xcalloc(1 + CLIENTS + n_members, sizeof(*doc->endpoints));
	add_endpoint(doc, strdup("srv"), "iofpeer-node", "vsrv", SERVER_ADDR, strdup("bench-srv"));
	for (uint32_t c = 0; c < CLIENTS; c++)
		add_endpoint(doc, xstrdupf("cli-%u", c), "iofpeer-remote", "eth0", CLIENT_BASE + c,
			     strdup("bench-clients"));
	for (size_t g = 0; g < s->n_groups; g++)
		for (size_t k = 0; k < s->n_members[g]; k++)
			add_endpoint(doc, xstrdupf("sg-%zu-%zu", g, k), "iofpeer-remote", "eth0",
				     member_addr(g, k), xstrdupf("sg-%zu", g));
	if (deny && n_deny) {
		struct policy_prefilter *pf;

		doc->n_prefilters = 1;
		doc->prefilters = pf = xcalloc(1, sizeof(*pf));
		pf->node = strdup("iofpeer-node");
		pf->n_interfaces = 1;
		pf->interfaces = xcalloc(1, sizeof(char *));
		pf->interfaces[0] = strdup("vcli");
		pf->n_deny = n_deny;
		pf->deny = xcalloc(n_deny, sizeof(*pf->deny));
		for (size_t i = 0; i < n_deny; i++)
			pf->deny[i] = prefix4(deny[i].addr, deny[i].len);
	}
	f = fopen(path, "w");
	if (!f) {
		err = -errno;
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		policy_document_free(doc);
		return err;
	}
	err = policy_write(doc, POLICY_FORMAT_YAML, f);
	if (fclose(f) && !err)
		err = -EIO;
	policy_document_free(doc);
	return err;
}

/* Members of a rule's remote group (or the client addresses). */
static size_t remote_addrs(const struct bench_set *s, const struct bench_rule *r, uint32_t *out)
{
	if (r->group == SIZE_MAX) {
		for (uint32_t c = 0; c < CLIENTS; c++)
			out[c] = CLIENT_BASE + c;
		return CLIENTS;
	}
	for (size_t k = 0; k < s->n_members[r->group]; k++)
		out[k] = member_addr(r->group, k);
	return s->n_members[r->group];
}

static const char *proto_name(int p)
{
	return p == POLICY_PROTO_TCP ? "tcp" : p == POLICY_PROTO_UDP ? "udp" : "icmp";
}

/* iptables as users write it: one line per rule (-s a,b,c expands to one rule per address). */
static size_t write_iptables(const struct bench_set *s, FILE *f)
{
	uint32_t addrs[CLIENTS];
	size_t kernel_rules = 0;
	char b[16];

	fprintf(f, "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"
		   ":IOFPEER-SRV - [0:0]\n"
		   "-A FORWARD -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT\n"
		   "-A FORWARD -o vsrv -j IOFPEER-SRV\n"
		   "-A FORWARD -o vsrv -j DROP\n");
	for (size_t i = 0; i < s->n_rules; i++) {
		const struct bench_rule *r = &s->rules[i];

		fprintf(f, "-A IOFPEER-SRV -s ");
		if (r->remote == REMOTE_GROUP) {
			size_t n = remote_addrs(s, r, addrs);

			for (size_t k = 0; k < n; k++)
				fprintf(f, "%s%s", k ? "," : "", ip4(addrs[k], b));
			kernel_rules += n;
		} else {
			fprintf(f, "%s/%u", ip4(r->addr, b), r->len);
			kernel_rules++;
		}
		fprintf(f, " -p %s", proto_name(r->proto));
		if (r->n_ports == 1) {
			fprintf(f, " --dport %u", r->ports[0]);
		} else if (r->n_ports > 1) {
			fprintf(f, " -m multiport --dports ");
			for (size_t k = 0; k < r->n_ports; k++)
				fprintf(f, "%s%u", k ? "," : "", r->ports[k]);
		}
		fprintf(f, " -j %s\n", r->action == POLICY_DENY ? "DROP" : "ACCEPT");
	}
	fprintf(f, "COMMIT\n");
	return kernel_rules;
}

/*
 * nft as experts write it: the rules compiled to verdict maps keyed by source . port (and a
 * source map for icmp); the first rule in priority order wins a key, as in the policy.
 */
struct nft_key {
	uint32_t addr;
	uint8_t len;
	uint16_t port;
};

static int cmp_key(const void *a, const void *b)
{
	const struct nft_key *x = a, *y = b;

	if (x->addr != y->addr)
		return x->addr < y->addr ? -1 : 1;
	if (x->len != y->len)
		return x->len - y->len;
	return x->port - y->port;
}

static size_t write_map(const struct bench_set *s, FILE *f, int proto, const char *name,
			const char *type)
{
	uint32_t addrs[CLIENTS];
	size_t n = 0, cap = 1024, written = 0;
	struct nft_key *keys = xcalloc(cap, sizeof(*keys));
	char *verdict_of = NULL; /* parallel: 'a' / 'd' */
	size_t *order = NULL;
	char b[16];

	verdict_of = xcalloc(cap, 1);
	/* Collect keys in rule order; the rule index breaks ties in favour of the earlier rule. */
	order = xcalloc(cap, sizeof(*order));
	for (size_t i = 0; i < s->n_rules; i++) {
		const struct bench_rule *r = &s->rules[i];
		size_t na = 1, np = r->n_ports ? r->n_ports : 1;

		if (r->proto != proto)
			continue;
		if (r->remote == REMOTE_GROUP)
			na = remote_addrs(s, r, addrs);
		for (size_t a = 0; a < na; a++) {
			for (size_t p = 0; p < np; p++) {
				if (n == cap) {
					cap *= 2;
					keys = realloc(keys, cap * sizeof(*keys));
					verdict_of = realloc(verdict_of, cap);
					order = realloc(order, cap * sizeof(*order));
					if (!keys || !verdict_of || !order) {
						perror("realloc");
						exit(2);
					}
				}
				keys[n] = (struct nft_key){
					.addr = r->remote == REMOTE_GROUP ? addrs[a] : r->addr,
					.len = r->remote == REMOTE_GROUP ? 32 : r->len,
					.port = r->n_ports ? r->ports[p] : 0};
				verdict_of[n] = r->action == POLICY_DENY ? 'd' : 'a';
				order[n] = n;
				n++;
			}
		}
	}
	/* Sort (key, first index) pairs by packing the index into a side array. */
	struct item {
		struct nft_key k;
		size_t idx;
	} *items = xcalloc(n, sizeof(*items));

	for (size_t i = 0; i < n; i++)
		items[i] = (struct item){keys[i], order[i]};
	qsort(items, n, sizeof(*items), cmp_key); /* key first: struct nft_key leads */
	fprintf(f, "\tmap %s {\n\t\ttype %s : verdict\n\t\tflags interval\n", name, type);
	for (size_t i = 0; i < n; i++) {
		size_t best = items[i].idx;

		while (i + 1 < n && !cmp_key(&items[i].k, &items[i + 1].k)) {
			i++;
			if (items[i].idx < best)
				best = items[i].idx;
		}
		fprintf(f, written ? ",\n\t\t\t" : "\t\telements = { ");
		fprintf(f, "%s/%u", ip4(items[i].k.addr, b), items[i].k.len);
		if (proto != POLICY_PROTO_ICMP)
			fprintf(f, " . %u", items[i].k.port);
		fprintf(f, " : %s", verdict_of[best] == 'd' ? "drop" : "accept");
		written++;
	}
	if (written)
		fprintf(f, " }\n");
	fprintf(f, "\t}\n");
	free(items);
	free(keys);
	free(verdict_of);
	free(order);
	return written;
}

static size_t write_nft(const struct bench_set *s, FILE *f)
{
	size_t elements = 0;

	fprintf(f, "table ip iofpeer {\n");
	elements += write_map(s, f, POLICY_PROTO_TCP, "srv_tcp", "ipv4_addr . inet_service");
	elements += write_map(s, f, POLICY_PROTO_UDP, "srv_udp", "ipv4_addr . inet_service");
	elements += write_map(s, f, POLICY_PROTO_ICMP, "srv_icmp", "ipv4_addr");
	fprintf(f, "\tchain forward {\n"
		   "\t\ttype filter hook forward priority filter; policy accept;\n"
		   "\t\tct state established,related accept\n"
		   "\t\toifname \"vsrv\" jump to_srv\n"
		   "\t}\n"
		   "\tchain to_srv {\n"
		   "\t\tip saddr . tcp dport vmap @srv_tcp\n"
		   "\t\tip saddr . udp dport vmap @srv_udp\n"
		   "\t\tip protocol icmp ip saddr vmap @srv_icmp\n"
		   "\t\tdrop\n"
		   "\t}\n"
		   "}\n");
	return elements;
}

/*
 * Prefilter deny-list of n entries, each in a /16 block of its own from 100.64.0.0 up, /16../32
 * long. Written as deny_prefixes.txt, deny_hosts.txt (the first address of each prefix: all
 * xdp-filter can match) and flood_sources.txt (1024 of those hosts, denied by both forms).
 */
static struct deny_entry *make_deny(const char *dir, size_t n)
{
	struct deny_entry *d = xcalloc(n, sizeof(*d));
	FILE *hosts, *prefixes, *flood;
	char path[4096], b[16];

	snprintf(path, sizeof(path), "%s/deny_hosts.txt", dir);
	hosts = fopen(path, "w");
	snprintf(path, sizeof(path), "%s/deny_prefixes.txt", dir);
	prefixes = fopen(path, "w");
	snprintf(path, sizeof(path), "%s/flood_sources.txt", dir);
	flood = fopen(path, "w");
	if (!hosts || !prefixes || !flood) {
		perror("prefilter files");
		exit(1);
	}
	for (size_t i = 0; i < n; i++) {
		uint32_t block = 0x64400000u + ((uint32_t)i << 16);

		d[i].len = (uint8_t)(16 + below(17));
		d[i].addr = block | (below(1u << 16) & ~(0xffffffffu >> d[i].len));
		fprintf(hosts, "%s\n", ip4(d[i].addr, b));
		fprintf(prefixes, "%s/%u\n", ip4(d[i].addr, b), d[i].len);
		if (i % (n > 1024 ? n / 1024 : 1) == 0)
			fprintf(flood, "%s\n", ip4(d[i].addr, b));
	}
	fclose(hosts);
	fclose(prefixes);
	fclose(flood);
	return d;
}

int main(int argc, char **argv)
{
	size_t n = 0, n_prefilter = 0;
	const char *dir = NULL;
	struct bench_set set = {0};
	char path[4096];
	FILE *f;
	int err;

	rng_state = 42;
	for (int i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--rules"))
			n = strtoull(argv[i + 1], NULL, 10);
		else if (!strcmp(argv[i], "--out"))
			dir = argv[i + 1];
		else if (!strcmp(argv[i], "--seed"))
			rng_state = strtoull(argv[i + 1], NULL, 0);
		else if (!strcmp(argv[i], "--prefilter"))
			n_prefilter = strtoull(argv[i + 1], NULL, 10);
		else
			dir = NULL, i = argc;
	}
	if (!dir) {
		fprintf(stderr, "usage: %s --rules N --out DIR [--seed S] [--prefilter N]\n"
				"writes DIR/policy.yaml, DIR/iptables.rules, DIR/nft.rules; with "
				"--prefilter also the deny-lists\n", argv[0]);
		return 2;
	}
	make_set(&set, n);
	snprintf(path, sizeof(path), "%s/policy.yaml", dir);
	err = write_policy(&set, path, NULL, 0);
	if (!err && n_prefilter) {
		struct deny_entry *deny = make_deny(dir, n_prefilter);

		snprintf(path, sizeof(path), "%s/policy-prefilter.yaml", dir);
		err = write_policy(&set, path, deny, n_prefilter);
		free(deny);
	}
	if (err) {
		fprintf(stderr, "%s: %s\n", path, strerror(-err));
		return 1;
	}
	snprintf(path, sizeof(path), "%s/iptables.rules", dir);
	f = fopen(path, "w");
	if (!f) {
		perror(path);
		return 1;
	}
	size_t kernel_rules = write_iptables(&set, f);

	fclose(f);
	snprintf(path, sizeof(path), "%s/nft.rules", dir);
	f = fopen(path, "w");
	if (!f) {
		perror(path);
		return 1;
	}
	size_t elements = write_nft(&set, f);

	fclose(f);
	printf("rules=%zu groups=%zu iptables_kernel_rules=%zu nft_elements=%zu\n", set.n_rules,
	       set.n_groups, kernel_rules, elements);
	return 0;
}
