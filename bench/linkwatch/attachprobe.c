// SPDX-License-Identifier: Apache-2.0
/*
 * The kernel's floor for enforcing an interface that appears: in a network namespace of its
 * own, a creator thread makes veth pairs that come up in one RTM_NEWLINK, and a watcher thread
 * (SCHED_FIFO with --fifo) that hears the event attaches a trivial TC program to both hooks,
 * as the agent's link watcher does. Samples alternate between the two ways of attaching, so
 * both meet the same load:
 *   tcx:    two bpf_link_create (BPF_TCX_EGRESS, then BPF_TCX_INGRESS);
 *   legacy: a clsact qdisc and two cls_bpf direct-action filters (bpf_tc_hook_create,
 *           bpf_tc_attach), the agent's fallback on kernels without tcx.
 *   attachprobe [--fifo PRIO] [--creator-fifo PRIO] [--samples N]
 * Prints per way: the message sent to the hooks attached (an upper bound of what a workload's
 * traffic sees: a creator at SCHED_OTHER can wait for a CPU between its time stamp and the
 * kernel's work, --creator-fifo removes that wait), the watcher's wake-up after the send, and
 * the attach calls alone (p50/p99/max, ms).
 */
#include <errno.h>
#include <getopt.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <net/if.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bench_util.h"

#define PROBE_TCX_INGRESS 46 /* kernel 6.6+; Debian 12's uapi header predates them */
#define PROBE_TCX_EGRESS 47

enum way { WAY_TCX, WAY_LEGACY, WAYS };
static const char *const way_name[WAYS] = {"tcx", "legacy tc (clsact + cls_bpf)"};

struct sample {
	int64_t sent, woke, done; /* CLOCK_MONOTONIC ns */
	int err;
};

/* What the creator asks for and the watcher reports, under one lock. */
static struct {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	char name[IFNAMSIZ]; /* the interface the watcher waits for; "" when none */
	enum way way;
	struct sample s;
	bool done, stop;
	int link_fd[2];
} probe = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER};

static int prog_fd = -1, fifo_prio, creator_prio;

/* Appends one attribute to the message in buf; returns it (for nesting). */
static struct rtattr *put_attr(struct nlmsghdr *n, unsigned short type, const void *data,
			       size_t len)
{
	struct rtattr *rta = (struct rtattr *)((char *)n + NLMSG_ALIGN(n->nlmsg_len));

	rta->rta_type = type;
	rta->rta_len = (unsigned short)RTA_LENGTH(len);
	if (len)
		memcpy(RTA_DATA(rta), data, len);
	n->nlmsg_len = NLMSG_ALIGN(n->nlmsg_len) + RTA_ALIGN(rta->rta_len);
	return rta;
}

static void end_nest(struct nlmsghdr *n, struct rtattr *nest)
{
	nest->rta_len = (unsigned short)((char *)n + n->nlmsg_len - (char *)nest);
}

/* Sends one request and waits for its acknowledgement: 0 or -errno. */
static int rtnl_request(int fd, struct nlmsghdr *n)
{
	char buf[4096];
	ssize_t len;

	n->nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
	if (send(fd, n, n->nlmsg_len, 0) < 0)
		return -errno;
	len = recv(fd, buf, sizeof(buf), 0);
	if (len < (ssize_t)NLMSG_LENGTH(sizeof(struct nlmsgerr)))
		return len < 0 ? -errno : -EPROTO;
	return ((struct nlmsgerr *)NLMSG_DATA((struct nlmsghdr *)buf))->error;
}

/* One RTM_NEWLINK: a veth pair NAME / NAME's peer "p"+NAME, NAME up. Stamps the send. */
static int veth_add_up(int fd, const char *name, int64_t *sent)
{
	union {
		struct nlmsghdr n;
		char buf[1024];
	} m = {0};
	struct ifinfomsg *ifi = NLMSG_DATA(&m.n), peer = {0};
	struct rtattr *info, *data, *pe;
	char peer_name[IFNAMSIZ];

	m.n.nlmsg_type = RTM_NEWLINK;
	m.n.nlmsg_flags = NLM_F_CREATE | NLM_F_EXCL;
	m.n.nlmsg_len = NLMSG_LENGTH(sizeof(*ifi));
	ifi->ifi_flags = IFF_UP;
	ifi->ifi_change = IFF_UP;
	put_attr(&m.n, IFLA_IFNAME, name, strlen(name) + 1);
	info = put_attr(&m.n, IFLA_LINKINFO, NULL, 0);
	put_attr(&m.n, IFLA_INFO_KIND, "veth", 5);
	data = put_attr(&m.n, IFLA_INFO_DATA, NULL, 0);
	pe = put_attr(&m.n, VETH_INFO_PEER, &peer, sizeof(peer));
	snprintf(peer_name, sizeof(peer_name), "p%s", name);
	put_attr(&m.n, IFLA_IFNAME, peer_name, strlen(peer_name) + 1);
	end_nest(&m.n, pe);
	end_nest(&m.n, data);
	end_nest(&m.n, info);
	*sent = bench_now_ns();
	return rtnl_request(fd, &m.n);
}

static int link_del(int fd, const char *name)
{
	union {
		struct nlmsghdr n;
		char buf[256];
	} m = {0};

	m.n.nlmsg_type = RTM_DELLINK;
	m.n.nlmsg_len = NLMSG_LENGTH(sizeof(struct ifinfomsg));
	put_attr(&m.n, IFLA_IFNAME, name, strlen(name) + 1);
	return rtnl_request(fd, &m.n);
}

/* The agent's order: the hook towards the workload (egress) first. */
static int attach(enum way way, int ifindex, int link_fd[2])
{
	if (way == WAY_TCX) {
		link_fd[1] =
		    bpf_link_create(prog_fd, ifindex, (enum bpf_attach_type)PROBE_TCX_EGRESS, NULL);
		if (link_fd[1] < 0)
			return link_fd[1];
		link_fd[0] = bpf_link_create(prog_fd, ifindex,
					     (enum bpf_attach_type)PROBE_TCX_INGRESS, NULL);
		return link_fd[0] < 0 ? link_fd[0] : 0;
	}
	for (int h = 1; h >= 0; h--) {
		DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex,
				    .attach_point = h ? BPF_TC_EGRESS : BPF_TC_INGRESS);
		DECLARE_LIBBPF_OPTS(bpf_tc_opts, o, .handle = 1, .priority = 1, .prog_fd = prog_fd);
		int r = bpf_tc_hook_create(&hook);

		if (r && r != -EEXIST)
			return r;
		r = bpf_tc_attach(&hook, &o);
		if (r)
			return r;
	}
	return 0;
}

/* The interface named in an RTM_NEWLINK, or 0. */
static int newlink_index(struct nlmsghdr *n, char *name, size_t len)
{
	struct ifinfomsg *ifi = NLMSG_DATA(n);
	int alen = (int)IFLA_PAYLOAD(n);

	if (n->nlmsg_type != RTM_NEWLINK)
		return 0;
	for (struct rtattr *a = IFLA_RTA(ifi); RTA_OK(a, alen); a = RTA_NEXT(a, alen))
		if (a->rta_type == IFLA_IFNAME) {
			snprintf(name, len, "%s", (char *)RTA_DATA(a));
			return ifi->ifi_index;
		}
	return 0;
}

/* One message from the watcher's socket: the awaited interface's RTM_NEWLINK is attached. */
static void on_message(struct nlmsghdr *n, int64_t woke)
{
	char name[IFNAMSIZ];
	int ifindex = newlink_index(n, name, sizeof(name)), fds[2] = {-1, -1}, r;
	enum way way;

	pthread_mutex_lock(&probe.lock);
	if (!ifindex || probe.done || strcmp(name, probe.name)) {
		pthread_mutex_unlock(&probe.lock);
		return;
	}
	way = probe.way;
	pthread_mutex_unlock(&probe.lock);
	r = attach(way, ifindex, fds);
	pthread_mutex_lock(&probe.lock);
	probe.s.woke = woke;
	probe.s.done = bench_now_ns();
	probe.s.err = r;
	probe.link_fd[0] = fds[0];
	probe.link_fd[1] = fds[1];
	probe.done = true;
	pthread_cond_signal(&probe.cond);
	pthread_mutex_unlock(&probe.lock);
}

/* The watcher thread: the agent's link watcher reduced to its attach. */
static void *watcher(void *arg)
{
	int fd = *(int *)arg;
	char buf[16384];

	if (fifo_prio) {
		struct sched_param sp = {.sched_priority = fifo_prio};
		int r = pthread_setschedparam(pthread_self(), SCHED_FIFO, &sp);

		if (r)
			fprintf(stderr, "attachprobe: SCHED_FIFO %d: %s\n", fifo_prio, strerror(r));
	}
	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		ssize_t len;
		int64_t woke;
		bool stop;

		if (poll(&p, 1, 100) < 0 && errno != EINTR)
			break;
		woke = bench_now_ns();
		pthread_mutex_lock(&probe.lock);
		stop = probe.stop;
		pthread_mutex_unlock(&probe.lock);
		if (stop)
			break;
		while ((len = recv(fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0)
			for (struct nlmsghdr *n = (struct nlmsghdr *)buf; NLMSG_OK(n, (size_t)len);
			     n = NLMSG_NEXT(n, len))
				on_message(n, woke);
	}
	return NULL;
}

/* The creator: one interface at a time, removed once the watcher has attached to it. */
static int run_sample(int rtnl, int i, enum way way, struct sample *out)
{
	struct timespec deadline;
	int r;

	pthread_mutex_lock(&probe.lock);
	snprintf(probe.name, sizeof(probe.name), "ap%d", i);
	probe.way = way;
	probe.done = false;
	probe.link_fd[0] = probe.link_fd[1] = -1;
	pthread_mutex_unlock(&probe.lock);
	r = veth_add_up(rtnl, probe.name, &out->sent);
	if (r) {
		fprintf(stderr, "attachprobe: create veth %s: %s\n", probe.name, strerror(-r));
		return r;
	}
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += 10;
	pthread_mutex_lock(&probe.lock);
	while (!probe.done && !r)
		r = pthread_cond_timedwait(&probe.cond, &probe.lock, &deadline);
	out->woke = probe.s.woke;
	out->done = probe.s.done;
	out->err = probe.done ? probe.s.err : -ETIMEDOUT;
	for (int h = 0; h < 2; h++)
		if (probe.link_fd[h] >= 0)
			close(probe.link_fd[h]);
	pthread_mutex_unlock(&probe.lock);
	link_del(rtnl, probe.name); /* takes its peer, qdisc and links with it */
	if (out->err)
		fprintf(stderr, "attachprobe: %s on %s: %s\n", way_name[way], probe.name,
			strerror(-out->err));
	usleep(5000); /* let the removal's RCU callbacks drain before the next sample */
	return out->err;
}

static void print_ms(const char *what, int64_t *v, int n)
{
	struct bench_spread ms = bench_spread_ns(v, (size_t)n, 1e6);

	printf(" %s p50 %.2f / p99 %.2f / max %.2f ms;", what, ms.p50, ms.p99, ms.max);
}

static void report(enum way way, const struct sample *s, int n)
{
	int64_t *a = calloc((size_t)n, sizeof(*a)), *b = calloc((size_t)n, sizeof(*b)),
		*c = calloc((size_t)n, sizeof(*c));

	if (!a || !b || !c)
		goto out;
	for (int i = 0; i < n; i++) {
		a[i] = s[i].done - s[i].sent;
		b[i] = s[i].woke - s[i].sent;
		c[i] = s[i].done - s[i].woke;
	}
	printf("%s, watcher %s, creator %s, %d interfaces:", way_name[way],
	       fifo_prio ? "SCHED_FIFO" : "SCHED_OTHER",
	       creator_prio ? "SCHED_FIFO" : "SCHED_OTHER", n);
	print_ms("sent->attached", a, n);
	print_ms("sent->woke", b, n);
	print_ms("attach calls", c, n);
	printf("\n");
out:
	free(a);
	free(b);
	free(c);
}

static int load_prog(void)
{
	struct bpf_insn ok[] = {
	    {.code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 0 /* TC_ACT_OK */},
	    {.code = BPF_JMP | BPF_EXIT},
	};

	prog_fd = bpf_prog_load(BPF_PROG_TYPE_SCHED_CLS, "iof_probe", "GPL", ok, 2, NULL);
	return prog_fd < 0 ? prog_fd : 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {{"fifo", required_argument, NULL, 'f'},
					     {"creator-fifo", required_argument, NULL, 'c'},
					     {"samples", required_argument, NULL, 'n'},
					     {0}};
	struct sockaddr_nl groups = {.nl_family = AF_NETLINK, .nl_groups = RTMGRP_LINK};
	int samples = 100, c, events, rtnl, r = 0, done[WAYS] = {0};
	struct sample *s[WAYS];
	pthread_t th;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 'f')
			fifo_prio = atoi(optarg);
		else if (c == 'c')
			creator_prio = atoi(optarg);
		else if (c == 'n')
			samples = atoi(optarg);
		else
			return 2;
	}
	if (samples < 2 || fifo_prio < 0 || fifo_prio > 99 || creator_prio < 0 ||
	    creator_prio > 99) {
		fprintf(stderr, "attachprobe: --samples >= 2, --fifo and --creator-fifo 0-99\n");
		return 2;
	}
	/* A namespace of its own: its interfaces go away with the process, whatever happens. */
	if (unshare(CLONE_NEWNET)) {
		fprintf(stderr, "attachprobe: new network namespace: %s\n", strerror(errno));
		return 1;
	}
	libbpf_set_print(NULL); /* bpf_tc_hook_create's EEXIST for the second hook is expected */
	if (load_prog()) {
		fprintf(stderr, "attachprobe: load a TC program: %s\n", strerror(errno));
		return 1;
	}
	events = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	rtnl = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (events < 0 || rtnl < 0 || bind(events, (struct sockaddr *)&groups, sizeof(groups))) {
		fprintf(stderr, "attachprobe: netlink: %s\n", strerror(errno));
		return 1;
	}
	s[WAY_TCX] = calloc((size_t)samples, sizeof(struct sample));
	s[WAY_LEGACY] = calloc((size_t)samples, sizeof(struct sample));
	if (!s[WAY_TCX] || !s[WAY_LEGACY] || pthread_create(&th, NULL, watcher, &events))
		return 1;
	if (creator_prio) { /* after the watcher's creation: it must not inherit the policy */
		struct sched_param sp = {.sched_priority = creator_prio};

		if (sched_setscheduler(0, SCHED_FIFO, &sp)) {
			fprintf(stderr, "attachprobe: creator SCHED_FIFO %d: %s\n", creator_prio,
				strerror(errno));
			return 1;
		}
	}
	for (int i = 0; i < 2 * samples && !r; i++) {
		enum way way = (enum way)(i % 2);

		r = run_sample(rtnl, i, way, &s[way][done[way]]);
		if (!r)
			done[way]++;
	}
	pthread_mutex_lock(&probe.lock);
	probe.stop = true;
	pthread_mutex_unlock(&probe.lock);
	pthread_join(th, NULL);
	if (!r)
		for (int w = 0; w < WAYS; w++)
			report((enum way)w, s[w], done[w]);
	free(s[WAY_TCX]);
	free(s[WAY_LEGACY]);
	return r ? 1 : 0;
}
