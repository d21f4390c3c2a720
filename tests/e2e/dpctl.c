// SPDX-License-Identifier: Apache-2.0
/*
 * dpctl: a small driver of the datapath library for the end-to-end tests (what iofenced will
 * do, without the store and the API): apply policy files, hold the datapath open, print
 * counters and pinned links, clean up.
 *   dpctl apply   --pin-dir D --node N -f FILE [-f FILE]... [--repeat K] [--revision-start R]
 *                 [--failsafe tcp:PORT]... [--xdp-generic] [--bpf-object O] [--hold]
 *                 [--oversize remote4] [--watch: --hold, and follow links (netlink)]
 *                 [--watch-cgroup PATH: --watch, and poll PATH's existence]
 *   dpctl counters --pin-dir D [--failsafe ...]
 *   dpctl events  --pin-dir D [--list] drain the verdict event ring, print a tally
 *   dpctl links   --pin-dir D
 *   dpctl cleanup --pin-dir D
 *   dpctl probe                       exit 0 if BPF programs can be loaded here
 * Exit: 0 ok, 1 refused (message on stderr), 2 system error.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <poll.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sys/socket.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "agent/datapath/datapath.h"
#include "policy/errors.h"
#include "policy/image.h"
#include "policy/parse.h"

#define MAX_FILES 8

struct args {
	const char *pin_dir, *node, *bpf_object, *oversize;
	const char *files[MAX_FILES];
	int n_files, repeat;
	long long revision_start;
	bool hold, watch, xdp_generic, list;
	const char *cgroups[4];
	int n_cgroups;
	struct dp_options opts;
};

static const char *const drop_names[IOF_DROP_MAX] = {
    "none",	 "policy",   "default",	   "prefilter", "revoked",
    "malformed", "fragment", "unknown_ep", "audit",
};

static int libbpf_quiet(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level == LIBBPF_DEBUG || (level == LIBBPF_INFO && !getenv("DPCTL_VERBOSE")))
		return 0;
	return vfprintf(stderr, fmt, ap);
}

static int parse_failsafe(const char *s, struct dp_options *o)
{
	struct iof_failsafe *f;
	unsigned port;
	char proto[8];

	if (o->n_failsafe + 2 > IOF_FAILSAFE_MAX || sscanf(s, "%7[a-z]:%u", proto, &port) != 2 ||
	    port > 65535)
		return -EINVAL;
	for (int fam = 4; fam <= 6; fam += 2) {
		f = &o->failsafe[o->n_failsafe++];
		memset(f, 0, sizeof(*f));
		f->proto = strcmp(proto, "udp") ? 6 : 17;
		f->port = htons((uint16_t)port);
		f->family = (uint8_t)fam;
	}
	return 0;
}

static int parse_args(int argc, char **argv, struct args *a)
{
	static const struct option lo[] = {
	    {"pin-dir", required_argument, NULL, 'p'},
	    {"node", required_argument, NULL, 'n'},
	    {"file", required_argument, NULL, 'f'},
	    {"repeat", required_argument, NULL, 'r'},
	    {"revision-start", required_argument, NULL, 'R'},
	    {"failsafe", required_argument, NULL, 's'},
	    {"xdp-generic", no_argument, NULL, 'g'},
	    {"bpf-object", required_argument, NULL, 'b'},
	    {"hold", no_argument, NULL, 'H'},
	    {"watch", no_argument, NULL, 'W'},
	    {"list", no_argument, NULL, 'L'},
	    {"watch-cgroup", required_argument, NULL, 'C'},
	    {"oversize", required_argument, NULL, 'O'},
	    {NULL, 0, NULL, 0},
	};
	int c;

	a->repeat = 1;
	a->opts.config.events_per_sec = 1000;
	a->opts.config.flags = IOF_CFG_EVENT_ALLOWS;
	a->revision_start = -1;
	while ((c = getopt_long(argc, argv, "p:n:f:r:", lo, NULL)) != -1) {
		switch (c) {
		case 'p':
			a->pin_dir = optarg;
			break;
		case 'n':
			a->node = optarg;
			break;
		case 'f':
			if (a->n_files == MAX_FILES)
				return -EINVAL;
			a->files[a->n_files++] = optarg;
			break;
		case 'r':
			a->repeat = atoi(optarg);
			break;
		case 'R':
			a->revision_start = atoll(optarg);
			break;
		case 's':
			if (parse_failsafe(optarg, &a->opts))
				return -EINVAL;
			break;
		case 'g':
			a->xdp_generic = true;
			break;
		case 'b':
			a->bpf_object = optarg;
			break;
		case 'H':
			a->hold = true;
			break;
		case 'C':
			if (a->n_cgroups == 4)
				return -EINVAL;
			a->cgroups[a->n_cgroups++] = optarg;
			a->watch = a->hold = true;
			break;
		case 'L':
			a->list = true;
			break;
		case 'W':
			a->watch = a->hold = true;
			break;
		case 'O':
			a->oversize = optarg;
			break;
		default:
			return -EINVAL;
		}
	}
	a->opts.pin_dir = a->pin_dir;
	a->opts.bpf_object = a->bpf_object;
	a->opts.xdp_generic = a->xdp_generic;
	return 0;
}

/* Makes iof_remote4 one entry too big (for the capacity test). */
static int oversize(struct policy_image *img, const char *map)
{
	size_t n = IOF_MAX_REMOTE_ENTRIES + 1 - img->n_remote4;
	struct layout_host4 *r;

	if (strcmp(map, "remote4") || !img->n_remote4)
		return -EINVAL;
	r = realloc(img->host4, n * sizeof(*r));
	if (!r)
		return -ENOMEM;
	for (size_t i = img->n_host4; i < n; i++) {
		struct policy_prefix p = {
		    .family = 4,
		    .len = 32,
		    .addr = {100, (uint8_t)(i >> 16), (uint8_t)(i >> 8), (uint8_t)i}};
		struct layout_remote4 unused;

		layout_remote4_entry(img->remote4[0].trie, &p, img->remote4[0].val, &unused, &r[i]);
	}
	img->host4 = r;
	img->n_host4 = n;
	return 0;
}

static int apply_file(struct datapath *dp, const struct args *a, const char *file, long long rev)
{
	struct policy_errors errs = {0};
	struct policy_document *doc = NULL;
	struct policy_image *img = NULL;
	char msg[512];
	int r = policy_parse_file(file, &doc, &errs);

	if (r) {
		policy_errors_print(&errs, stderr);
		policy_errors_free(&errs);
		fprintf(stderr, "%s: cannot parse: %s\n", file, strerror(-r));
		return 1;
	}
	policy_errors_free(&errs);
	r = policy_compile(doc, a->node, &img, msg, sizeof(msg));
	if (r) {
		fprintf(stderr, "%s: compile: %s\n", file, r == -E2BIG ? msg : strerror(-r));
		policy_document_free(doc);
		return 1;
	}
	if (rev >= 0)
		img->revision = (uint64_t)rev;
	if (a->oversize && oversize(img, a->oversize)) {
		fprintf(stderr, "--oversize %s: cannot\n", a->oversize);
		r = -EINVAL;
	} else {
		r = dp_apply(dp, img, msg, sizeof(msg));
		if (r)
			fprintf(stderr, "%s: apply: %s (%s)\n", file, msg, strerror(-r));
	}
	policy_image_free(img);
	policy_document_free(doc);
	return r == -E2BIG || r == -EINVAL ? 1 : r ? 2 : 0;
}

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

/* What the agent's libnl watcher does: RTM_NEWLINK/DELLINK -> dp_link_changed(). */
/* What an inotify watcher of cgroup paths would do, by polling. */
static void poll_cgroups(struct datapath *dp, const struct args *a, bool *present)
{
	for (int i = 0; i < a->n_cgroups; i++) {
		bool now = access(a->cgroups[i], F_OK) == 0;
		int r;

		if (now == present[i])
			continue;
		present[i] = now;
		r = dp_cgroup_changed(dp, a->cgroups[i], now);
		printf("cgroup %s %s: %s\n", a->cgroups[i], now ? "appeared" : "removed",
		       r < 0 ? strerror(-r) : r ? "ok" : "not an endpoint's");
		fflush(stdout);
	}
}

static void watch_links(struct datapath *dp, const struct args *a)
{
	bool present[4];

	struct sockaddr_nl sa = {.nl_family = AF_NETLINK, .nl_groups = RTMGRP_LINK};
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	char buf[16384];

	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		perror("netlink");
		return;
	}
	for (int i = 0; i < a->n_cgroups; i++)
		present[i] = access(a->cgroups[i], F_OK) == 0;
	while (!stop) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		ssize_t n;

		poll_cgroups(dp, a, present);
		if (poll(&p, 1, 100) <= 0)
			continue;
		n = recv(fd, buf, sizeof(buf), 0);
		for (struct nlmsghdr *h = (struct nlmsghdr *)buf; n > 0 && NLMSG_OK(h, (size_t)n);
		     h = NLMSG_NEXT(h, n)) {
			struct ifinfomsg *ifi = NLMSG_DATA(h);
			int len = (int)IFLA_PAYLOAD(h);
			const char *name = NULL;

			if (h->nlmsg_type != RTM_NEWLINK && h->nlmsg_type != RTM_DELLINK)
				continue;
			for (struct rtattr *rta = IFLA_RTA(ifi); RTA_OK(rta, len);
			     rta = RTA_NEXT(rta, len))
				if (rta->rta_type == IFLA_IFNAME)
					name = RTA_DATA(rta);
			if (!name)
				continue;
			int r =
			    dp_link_changed(dp, name, ifi->ifi_index, h->nlmsg_type == RTM_NEWLINK, NULL);
			printf("link %s %s ifindex %d: %s\n", name,
			       h->nlmsg_type == RTM_NEWLINK ? "up" : "down", ifi->ifi_index,
			       r < 0 ? strerror(-r) : r ? "ok" : "not an endpoint's");
			fflush(stdout);
		}
	}
	close(fd);
}

static int cmd_apply(struct args *a)
{
	struct datapath *dp;
	char err[512];
	int r, rc = 0;
	long long rev = a->revision_start;

	if (!a->pin_dir || !a->node || !a->n_files) {
		fprintf(stderr, "usage: dpctl apply --pin-dir D --node N -f FILE...\n");
		return 1;
	}
	r = dp_open(&a->opts, &dp, err, sizeof(err));
	if (r) {
		fprintf(stderr, "dp_open: %s\n", err);
		return 2;
	}
	printf("adopted=%d revision=%llu\n", dp_adopted(dp),
	       (unsigned long long)dp_active_revision(dp));
	for (int k = 0; k < a->repeat && !rc; k++)
		for (int i = 0; i < a->n_files && !rc; i++)
			rc = apply_file(dp, a, a->files[i], rev >= 0 ? rev++ : -1);
	printf("applied revision=%llu\n", (unsigned long long)dp_active_revision(dp));
	fflush(stdout);
	if (a->hold && !rc) {
		signal(SIGTERM, on_signal);
		signal(SIGINT, on_signal);
		printf("ready\n");
		fflush(stdout);
		if (a->watch)
			watch_links(dp, a);
		while (!stop)
			pause();
	}
	dp_close(dp);
	return rc;
}

struct event_tally {
	unsigned long total, deny, allow, by_reason[IOF_DROP_MAX];
	bool list;
};

static void on_event(const struct iof_event *ev, uint64_t seq, void *ctx)
{
	struct event_tally *t = ctx;

	(void)seq;
	t->total++;
	if (ev->action == IOF_ACT_DENY)
		t->deny++;
	else
		t->allow++;
	if (ev->reason < IOF_DROP_MAX)
		t->by_reason[ev->reason]++;
	if (t->list) {
		char r[INET6_ADDRSTRLEN], l[INET6_ADDRSTRLEN];
		int af = ev->family == 6 ? AF_INET6 : AF_INET;

		inet_ntop(af, ev->remote, r, sizeof(r));
		inet_ntop(af, ev->local, l, sizeof(l));
		printf(
		    "rev %llu ep %u %s proto %u local %s:%u remote %s:%u %s reason %s rule %d%s\n",
		    (unsigned long long)ev->revision, ev->endpoint_index,
		    ev->dir == IOF_DIR_INGRESS ? "ingress" : "egress", ev->proto, l,
		    ntohs(ev->local_port), r, ntohs(ev->remote_port),
		    ev->action == IOF_ACT_DENY ? "DENY" : "allow",
		    ev->reason < IOF_DROP_MAX ? drop_names[ev->reason] : "?", (int)ev->rule_id,
		    ev->flags & IOF_EV_NEW_FLOW ? " new-flow" : "");
	}
}

/* Drains the pinned event ring through dp_events_consume() and prints a tally. */
static int cmd_events(struct args *a)
{
	struct event_tally t = {.list = a->list};
	uint64_t lost_ring = 0, lost_rate = 0;
	struct datapath *dp;
	char err[512];
	int r;

	if (dp_open(&a->opts, &dp, err, sizeof(err))) {
		fprintf(stderr, "dp_open: %s\n", err);
		return 2;
	}
	r = dp_events_fd(dp) < 0 ? -1 : dp_events_consume(dp, on_event, &t);
	dp_events_lost(dp, IOF_EVLOST_RINGBUF, &lost_ring);
	dp_events_lost(dp, IOF_EVLOST_RATELIMIT, &lost_rate);
	dp_close(dp);
	if (r) {
		fprintf(stderr, "events: %s\n", strerror(-r));
		return 2;
	}
	printf("events=%lu allow=%lu deny=%lu", t.total, t.allow, t.deny);
	for (int i = 1; i < IOF_DROP_MAX; i++)
		if (t.by_reason[i])
			printf(" %s=%lu", drop_names[i], t.by_reason[i]);
	printf(" lost_ring=%llu lost_ratelimit=%llu\n", (unsigned long long)lost_ring,
	       (unsigned long long)lost_rate);
	return 0;
}

static int cmd_counters(struct args *a)
{
	struct datapath *dp;
	struct dp_fill fill;
	char err[512];

	if (dp_open(&a->opts, &dp, err, sizeof(err))) {
		fprintf(stderr, "dp_open: %s\n", err);
		return 2;
	}
	printf("revision %llu\n", (unsigned long long)dp_active_revision(dp));
	for (int i = 1; i < IOF_DROP_MAX; i++) {
		struct iof_counter c;

		if (dp_read_drops(dp, (enum iof_drop_reason)i, &c) == 0)
			printf("drop_%s %llu %llu\n", drop_names[i], (unsigned long long)c.packets,
			       (unsigned long long)c.bytes);
	}
	for (uint32_t ep = 0; ep < 8; ep++) {
		static const char *const kinds[] = {"in_allow", "in_deny", "eg_allow", "eg_deny",
						    "audit"};
		for (int k = 0; k < IOF_EP_COUNTER_KINDS; k++) {
			struct iof_counter c;

			if (dp_read_endpoint_counter(dp, ep, (enum iof_ep_counter_kind)k, &c) ==
				0 &&
			    c.packets)
				printf("ep%u_%s %llu\n", ep, kinds[k],
				       (unsigned long long)c.packets);
		}
	}
	if (dp_read_fill(dp, &fill) == 0)
		printf(
		    "fill endpoints=%zu remote4=%zu remote6=%zu policy=%zu prefilter=%zu ct4=%zu "
		    "ct6=%zu\n",
		    fill.endpoints, fill.remote4, fill.remote6, fill.policy, fill.prefilter,
		    fill.ct4, fill.ct6);
	dp_close(dp);
	return 0;
}

/* Prints every pinned link: its pin path, program id and program name (no dp_open). */
static void list_links(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char path[PATH_MAX];

	if (!d)
		return;
	while ((de = readdir(d))) {
		struct bpf_link_info li;
		struct bpf_prog_info pi;
		__u32 len = sizeof(li);
		int fd, pfd;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (de->d_type == DT_DIR) {
			list_links(path);
			continue;
		}
		fd = bpf_obj_get(path);
		if (fd < 0)
			continue;
		memset(&li, 0, sizeof(li));
		memset(&pi, 0, sizeof(pi));
		if (bpf_obj_get_info_by_fd(fd, &li, &len) == 0) {
			pfd = bpf_prog_get_fd_by_id(li.prog_id);
			len = sizeof(pi);
			if (pfd >= 0) {
				bpf_obj_get_info_by_fd(pfd, &pi, &len);
				close(pfd);
			}
			printf("%s prog_id=%u prog=%s\n", path, li.prog_id, pi.name);
		}
		close(fd);
	}
	closedir(d);
}

int main(int argc, char **argv)
{
	struct args a = {0};
	char err[512];

	if (argc < 2) {
		fprintf(stderr, "usage: dpctl apply|counters|links|cleanup --pin-dir D ...\n");
		return 1;
	}
	libbpf_set_print(libbpf_quiet);
	if (parse_args(argc - 1, argv + 1, &a)) {
		fprintf(stderr, "dpctl: bad arguments\n");
		return 1;
	}
	if (!strcmp(argv[1], "apply"))
		return cmd_apply(&a);
	if (!strcmp(argv[1], "counters"))
		return cmd_counters(&a);
	if (!strcmp(argv[1], "events"))
		return cmd_events(&a);
	if (!strcmp(argv[1], "links")) {
		char dir[PATH_MAX];

		snprintf(dir, sizeof(dir), "%s/links", a.pin_dir ? a.pin_dir : DP_DEFAULT_PIN_DIR);
		list_links(dir);
		return 0;
	}
	if (!strcmp(argv[1], "probe")) /* can this process load BPF programs? */
		return libbpf_probe_bpf_prog_type(BPF_PROG_TYPE_SCHED_CLS, NULL) == 1 ? 0 : 1;
	if (!strcmp(argv[1], "cleanup")) {
		if (dp_cleanup(a.pin_dir, err, sizeof(err))) {
			fprintf(stderr, "cleanup: %s\n", err);
			return 2;
		}
		return 0;
	}
	fprintf(stderr, "dpctl: unknown command %s\n", argv[1]);
	return 1;
}
