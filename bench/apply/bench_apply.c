// SPDX-License-Identifier: Apache-2.0
/*
 * bench_apply: the agent's control plane under load, against a running iofenced.
 *  - push-to-enforced latency: Apply RPCs that each change one rule of an N-rule document,
 *    timed from send until a probe packet run through the endpoint's TC program sees the new
 *    verdict (with --netns and --pin-dir; probe.h), and from send to acknowledgement (the
 *    agent acks once the new revision is committed and enforced), p50/p99, with the document
 *    sent as YAML source (the agent parses it) and as a PolicyDocument message with its YAML
 *    attached for display (what iofencectl sends);
 *  - GetStatus calls per second from C concurrent clients (one channel each);
 *  - the agent's RSS idle and after the largest document.
 * Usage: bench_apply --agent ADDR --pid PID [--rules 100,10000,100000] [--count 100]
 *                    [--clients 8] [--seconds 3] [--interface IF] [--as yaml|message|both]
 *                    [--netns PATH --pin-dir DIR]
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <iofence/v1/agent.pb-c.h>

#include "agent/rpc/rpc.h"
#include "probe.h"
#include "tests/lib/bench_util.h"

static const char *agent_addr;
static const char *ifname = "bench0";
static uint64_t revision = 1;
static const char *probe_netns, *probe_pin_dir; /* NULL: no probe, acknowledgements only */
static struct probe *probe;			/* opened once the endpoint's program is attached */
static uint16_t probe_sport = 20000;

static long rss_kb(int pid)
{
	char path[64], line[256];
	long kb = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

/*
 * Rule 0 allows tcp from 10.0.0.0/24 to port 1 + change % 60000, rules 1..255 the same source
 * to ports 2..256: a probe to rule 0's new port is dropped before the apply unless one of them
 * (or rule 0's old port) covers it.
 */
static uint16_t rule0_port(unsigned change)
{
	return (uint16_t)(1 + change % 60000);
}

/* The document as YAML: N ingress rules, rule 0's port varies with `change`. */
static char *yaml_doc(size_t n, unsigned change, uint64_t rev)
{
	size_t cap = 256 + n * 96, len = 0;
	char *s = malloc(cap);

	if (!s)
		return NULL;
	len += (size_t)snprintf(s + len, cap - len,
				"revision: %llu\nsecurityGroups:\n  - name: big\n    rules:\n",
				(unsigned long long)rev);
	for (size_t i = 0; i < n; i++)
		len +=
		    (size_t)snprintf(s + len, cap - len,
				     "      - {direction: ingress, protocol: tcp, ports: [%u], "
				     "cidr: 10.%zu.%zu.0/24}\n",
				     i ? 1 + (unsigned)(i % 60000) : (unsigned)rule0_port(change),
				     (i >> 16) & 255, (i >> 8) & 255);
	snprintf(s + len, cap - len,
		 "endpoints:\n  - {name: e, node: bench, interface: %s, addresses: [10.255.0.1], "
		 "groups: [big]}\n",
		 ifname);
	return s;
}

struct msg_doc {
	Iofence__V1__PolicyDocument doc;
	Iofence__V1__SecurityGroup group, *groups[1];
	Iofence__V1__Endpoint ep, *eps[1];
	char *ep_groups[1], *ep_addrs[1];
	Iofence__V1__Rule *rules, **rule_ptrs;
	Iofence__V1__PortRange *ports, **port_ptrs;
	char (*cidrs)[24];
};

static int msg_doc_init(struct msg_doc *m, size_t n)
{
	memset(m, 0, sizeof(*m));
	m->rules = calloc(n, sizeof(*m->rules));
	m->rule_ptrs = calloc(n, sizeof(*m->rule_ptrs));
	m->ports = calloc(n, sizeof(*m->ports));
	m->port_ptrs = calloc(n, sizeof(*m->port_ptrs));
	m->cidrs = calloc(n, sizeof(*m->cidrs));
	if (!m->rules || !m->rule_ptrs || !m->ports || !m->port_ptrs || !m->cidrs)
		return -ENOMEM;
	iofence__v1__policy_document__init(&m->doc);
	iofence__v1__security_group__init(&m->group);
	iofence__v1__endpoint__init(&m->ep);
	for (size_t i = 0; i < n; i++) {
		iofence__v1__rule__init(&m->rules[i]);
		iofence__v1__port_range__init(&m->ports[i]);
		m->rules[i].direction = IOFENCE__V1__DIRECTION__DIRECTION_INGRESS;
		m->rules[i].action = IOFENCE__V1__ACTION__ACTION_ALLOW;
		m->rules[i].protocol = 6;
		m->ports[i].lo = m->ports[i].hi = 1 + (unsigned)(i % 60000);
		m->port_ptrs[i] = &m->ports[i];
		m->rules[i].n_ports = 1;
		m->rules[i].ports = &m->port_ptrs[i];
		snprintf(m->cidrs[i], sizeof(m->cidrs[i]), "10.%zu.%zu.0/24", (i >> 16) & 255,
			 (i >> 8) & 255);
		m->rules[i].cidr = m->cidrs[i];
		m->rule_ptrs[i] = &m->rules[i];
	}
	m->group.name = "big";
	m->group.n_rules = n;
	m->group.rules = m->rule_ptrs;
	m->groups[0] = &m->group;
	m->ep.name = "e";
	m->ep.node = "bench";
	m->ep.interface = (char *)ifname;
	m->ep_addrs[0] = "10.255.0.1";
	m->ep.addresses = m->ep_addrs;
	m->ep.n_addresses = 1;
	m->ep_groups[0] = "big";
	m->ep.groups = m->ep_groups;
	m->ep.n_groups = 1;
	m->eps[0] = &m->ep;
	m->doc.security_groups = m->groups;
	m->doc.n_security_groups = 1;
	m->doc.endpoints = m->eps;
	m->doc.n_endpoints = 1;
	m->doc.has_revision = true;
	return 0;
}

static void msg_doc_free(struct msg_doc *m)
{
	free(m->rules);
	free(m->rule_ptrs);
	free(m->ports);
	free(m->port_ptrs);
	free(m->cidrs);
}

/* One Apply; seconds from send to ack, or -1. */
static double apply_once(grpc_channel *ch, Iofence__V1__ApplyRequest *req, uint64_t *usec_agent)
{
	Iofence__V1__ApplyResponse *resp = NULL;
	struct rpc_result res;
	double t0 = bench_now_s(), dt;
	int r =
	    rpc_unary(ch, RPC_METHOD_APPLY, &req->base, &iofence__v1__apply_response__descriptor,
		      300000, (ProtobufCMessage **)&resp, &res);

	dt = bench_now_s() - t0;
	if (r || res.status != GRPC_STATUS_OK) {
		fprintf(stderr, "bench_apply: Apply: %s: %s\n", rpc_status_name(res.status),
			res.details ? res.details : strerror(-r));
		rpc_result_free(&res);
		return -1;
	}
	*usec_agent = resp->apply_usec;
	iofence__v1__apply_response__free_unpacked(resp, NULL);
	rpc_result_free(&res);
	return dt;
}

static double pct(const double *v, size_t n, double p)
{
	size_t i = (size_t)(p * (double)(n - 1) + 0.5);

	return v[i < n ? i : n - 1];
}

static void print_probe(const double *v, size_t n)
{
	if (n)
		printf(" %10.2f | %10.2f | %6zu |", 1e3 * pct(v, n, 0.5), 1e3 * pct(v, n, 0.99), n);
	else
		printf(" %10s | %10s | %6s |", "-", "-", "0");
}

/* count applies of an n-rule document, each changing rule 0; prints a table row. */
static int bench_size(grpc_channel *ch, size_t n, unsigned count, bool as_message)
{
	double *lat = calloc(count, sizeof(double)), *agent_ms = calloc(count, sizeof(double));
	double *seen = calloc(count, sizeof(double));
	size_t n_seen = 0;
	Iofence__V1__ApplyRequest req = IOFENCE__V1__APPLY_REQUEST__INIT;
	struct msg_doc m;
	uint64_t usec = 0;
	int r = 0;

	if (!lat || !agent_ms || !seen || (as_message && msg_doc_init(&m, n)))
		return -ENOMEM;
	req.source_name = "bench";
	for (unsigned i = 0; i <= count && !r; i++) {
		char *yaml = NULL;
		bool probed = false;
		double dt, t_send, at;

		revision++;
		yaml = yaml_doc(n, i * 7919, revision);
		if (as_message) {
			m.ports[0].lo = m.ports[0].hi = rule0_port(i * 7919);
			m.doc.revision = revision;
			req.document = &m.doc;
			req.document_source = yaml;
		} else {
			req.source = yaml;
		}
		if (probe_netns && !probe && i == 1) { /* the warm-up apply attached the endpoint */
			char err[256];

			if (probe_open(probe_netns, probe_pin_dir, ifname, &probe, err,
				       sizeof(err))) {
				fprintf(stderr, "bench_apply: probe: %s\n", err);
				r = -EIO;
				break;
			}
		}
		if (probe && i > 0)
			probed = probe_arm(probe, rule0_port(i * 7919), probe_sport++);
		t_send = bench_now_s();
		dt = apply_once(ch, &req, &usec);
		free(yaml);
		at = probed ? probe_wait(probe, 2.0) : 0;
		if (dt < 0)
			r = -EIO;
		else if (i > 0) { /* the first apply of a size is warm-up (a new profile) */
			lat[i - 1] = dt;
			agent_ms[i - 1] = (double)usec / 1e3;
			if (at > 0)
				seen[n_seen++] = at - t_send;
			else if (probed) {
				fprintf(stderr,
					"bench_apply: the probe did not see revision %llu enforced "
					"within 2 s of its acknowledgement\n",
					(unsigned long long)revision);
				r = -EIO;
			}
		}
	}
	if (!r) {
		qsort(lat, count, sizeof(double), bench_cmp_double);
		qsort(agent_ms, count, sizeof(double), bench_cmp_double);
		qsort(seen, n_seen, sizeof(double), bench_cmp_double);
		printf("| %7zu | %-8s | %5u |", n, as_message ? "message" : "yaml", count);
		print_probe(seen, n_seen);
		printf(" %10.2f | %10.2f | %10.2f | %14.2f |\n", 1e3 * pct(lat, count, 0.5),
		       1e3 * pct(lat, count, 0.99), 1e3 * lat[count - 1],
		       pct(agent_ms, count, 0.5));
		fflush(stdout);
	}
	if (as_message)
		msg_doc_free(&m);
	free(lat);
	free(agent_ms);
	free(seen);
	return r;
}

struct status_client {
	pthread_t thread;
	double seconds;
	unsigned long calls, errors;
	double *lat;
	size_t n_lat, cap;
};

static void *status_loop(void *arg)
{
	struct status_client *c = arg;
	Iofence__V1__GetStatusRequest req = IOFENCE__V1__GET_STATUS_REQUEST__INIT;
	char err[256];
	grpc_channel *ch = rpc_channel_open(agent_addr, NULL, err, sizeof(err));
	double end = bench_now_s() + c->seconds;

	while (ch && bench_now_s() < end) {
		ProtobufCMessage *resp = NULL;
		struct rpc_result res;
		double t0 = bench_now_s();

		if (rpc_unary(ch, RPC_METHOD_GET_STATUS, &req.base,
			      &iofence__v1__get_status_response__descriptor, 5000, &resp, &res) ||
		    res.status != GRPC_STATUS_OK)
			c->errors++;
		else
			c->calls++;
		if (c->n_lat < c->cap)
			c->lat[c->n_lat++] = bench_now_s() - t0;
		if (resp)
			protobuf_c_message_free_unpacked(resp, NULL);
		rpc_result_free(&res);
	}
	if (ch)
		grpc_channel_destroy(ch);
	return NULL;
}

static void bench_status(unsigned clients, double seconds)
{
	struct status_client *c = calloc(clients, sizeof(*c));
	unsigned long calls = 0, errors = 0;
	size_t n = 0;
	double *all;

	for (unsigned i = 0; i < clients; i++) {
		c[i].seconds = seconds;
		c[i].cap = 2000000;
		c[i].lat = malloc(c[i].cap * sizeof(double));
		pthread_create(&c[i].thread, NULL, status_loop, &c[i]);
	}
	for (unsigned i = 0; i < clients; i++) {
		pthread_join(c[i].thread, NULL);
		calls += c[i].calls;
		errors += c[i].errors;
		n += c[i].n_lat;
	}
	all = malloc((n ? n : 1) * sizeof(double));
	n = 0;
	for (unsigned i = 0; i < clients; i++) {
		memcpy(all + n, c[i].lat, c[i].n_lat * sizeof(double));
		n += c[i].n_lat;
		free(c[i].lat);
	}
	qsort(all, n, sizeof(double), bench_cmp_double);
	printf("\n| GetStatus clients | calls/s | p50 µs | p99 µs | errors |\n"
	       "|---|---|---|---|---|\n| %u | %.0f | %.0f | %.0f | %lu |\n",
	       clients, (double)calls / seconds, n ? 1e6 * pct(all, n, 0.5) : 0,
	       n ? 1e6 * pct(all, n, 0.99) : 0, errors);
	free(all);
	free(c);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"agent", required_argument, NULL, 'a'},
	    {"pid", required_argument, NULL, 'p'},
	    {"rules", required_argument, NULL, 'r'},
	    {"count", required_argument, NULL, 'c'},
	    {"clients", required_argument, NULL, 'C'},
	    {"seconds", required_argument, NULL, 's'},
	    {"interface", required_argument, NULL, 'i'},
	    {"as", required_argument, NULL, 'A'},
	    {"netns", required_argument, NULL, 'n'},
	    {"pin-dir", required_argument, NULL, 'P'},
	    {0},
	};
	const char *netns = NULL, *pin_dir = NULL;
	bool as_yaml = true, as_message = true;
	char sizes[256] = "100,10000,100000", *tok, *save, err[256];
	unsigned count = 100, clients = 8;
	double seconds = 3;
	int pid = 0, c;
	long idle_rss;
	grpc_channel *ch;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'a':
			agent_addr = optarg;
			break;
		case 'p':
			pid = atoi(optarg);
			break;
		case 'r':
			snprintf(sizes, sizeof(sizes), "%s", optarg);
			break;
		case 'c':
			count = (unsigned)atoi(optarg);
			break;
		case 'C':
			clients = (unsigned)atoi(optarg);
			break;
		case 's':
			seconds = atof(optarg);
			break;
		case 'i':
			ifname = optarg;
			break;
		case 'n':
			netns = optarg;
			break;
		case 'P':
			pin_dir = optarg;
			break;
		case 'A':
			as_yaml = !strcmp(optarg, "yaml") || !strcmp(optarg, "both");
			as_message = !strcmp(optarg, "message") || !strcmp(optarg, "both");
			break;
		default:
			return 2;
		}
	}
	if (!agent_addr || !count || (!as_yaml && !as_message) || !netns != !pin_dir) {
		fprintf(stderr, "usage: bench_apply --agent ADDR [--pid PID] [--rules N,...] "
				"[--count K] [--clients C] [--seconds S] [--interface IF] "
				"[--as yaml|message|both] [--netns PATH --pin-dir DIR]\n");
		return 2;
	}
	grpc_init();
	ch = rpc_channel_open(agent_addr, NULL, err, sizeof(err));
	if (!ch) {
		fprintf(stderr, "bench_apply: %s\n", err);
		return 2;
	}
	idle_rss = pid ? rss_kb(pid) : -1;
	bench_status(clients, seconds);
	probe_netns = netns;
	probe_pin_dir = pin_dir;
	printf("\nOne-rule change per Apply. Enforced: from send until a probe packet run through "
	       "the endpoint's TC program every %d µs sees the new verdict (probed: applies whose "
	       "probe was dropped before). Ack: from send to the acknowledgement (committed and "
	       "enforced).\n\n"
	       "| rules   | as       | count | enforced p50 ms | enforced p99 ms | probed | "
	       "ack p50 ms | ack p99 ms | ack max ms | agent p50 ms   |\n"
	       "|---|---|---|---|---|---|---|---|---|---|\n",
	       PROBE_PERIOD_US);
	for (tok = strtok_r(sizes, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		size_t n = strtoul(tok, NULL, 10);

		if ((as_yaml && bench_size(ch, n, count, false)) ||
		    (as_message && bench_size(ch, n, count, true))) {
			grpc_channel_destroy(ch);
			return 1;
		}
	}
	if (pid) {
		sleep(1); /* the agent trims its heap once applies pause */
		printf("\n| agent RSS | MB |\n|---|---|\n| idle (before the applies) | %.1f |\n"
		       "| after the largest document | %.1f |\n",
		       idle_rss / 1024.0, rss_kb(pid) / 1024.0);
	}
	probe_close(probe);
	grpc_channel_destroy(ch);
	grpc_shutdown_blocking();
	return 0;
}
