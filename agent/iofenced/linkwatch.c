// SPDX-License-Identifier: Apache-2.0
/*
 * The link watcher (linkwatch.h): a NETLINK_ROUTE socket (libnl-route) served by a thread of
 * its own, which attaches an endpoint's interface as soon as the kernel reports it: its
 * entry in the active slot, then its two tcx links from the loaded programs
 * (dp_link_changed, under the datapath's lock, so an apply activating the other slot is
 * never half-seen). Each endpoint event is timed: from the thread's wake-up to the hooks
 * attached, and how long the thread waited for a CPU after the kernel woke it (its run-queue
 * delay, from /proc/thread-self/schedstat). The thread runs at a low SCHED_FIFO priority
 * (--attach-rt-priority) so that other processes' CPU load does not delay it; events
 * lost to a full socket buffer (ENOBUFS) are made up for by a resync of every interface the
 * image names (dp_links_resync).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <linux/rtnetlink.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/route/link.h>

#include "agent/datapath/datapath.h"
#include "engine.h"
#include "guard.h"
#include "linkwatch.h"
#include "log.h"

/* Histogram buckets (seconds) of the attach time and the run-queue delay. */
#define LW_BUCKETS 10
static const double lw_bucket_le[LW_BUCKETS] = {0.0005, 0.001, 0.002, 0.005, 0.01,
						0.02,	0.05,  0.1,   0.5,   1};

struct lw_histogram {
	atomic_uint_fast64_t bucket[LW_BUCKETS + 1]; /* non-cumulative; the last is +Inf */
	atomic_uint_fast64_t usec_sum, count;
};

struct linkwatch {
	struct engine *engine;
	struct datapath *dp;
	pthread_t thread;
	bool running;
	int rt_priority; /* SCHED_FIFO priority of the thread, 0: SCHED_OTHER */
	int stopfd;
	struct nl_sock *nl;
	struct nl_cb *cb;
	bool lost; /* events were lost: resync once the socket is drained */
	atomic_uint_fast64_t resyncs;
	int schedstat_fd;	/* /proc/thread-self/schedstat of the thread */
	uint64_t wake_usec;	/* when the thread last woke with messages */
	uint64_t wake_delay_ns; /* the run-queue wait before that wake-up ran */
	uint64_t run_delay_ns;	/* schedstat's run-queue total at the last read */
	bool handled;		/* an endpoint's link changed in this batch */
	struct lw_histogram attach, delay;
	pthread_mutex_t hook_lock; /* the modules' hook may be set while the thread runs */
	linkwatch_fn hook;
	void *hook_ctx;
};

static void call_hook(struct linkwatch *lw, const char *ifname)
{
	pthread_mutex_lock(&lw->hook_lock);
	if (lw->hook)
		lw->hook(lw->hook_ctx, ifname);
	pthread_mutex_unlock(&lw->hook_lock);
}

void linkwatch_on_link(struct linkwatch *lw, linkwatch_fn fn, void *ctx)
{
	pthread_mutex_lock(&lw->hook_lock);
	lw->hook = fn;
	lw->hook_ctx = ctx;
	pthread_mutex_unlock(&lw->hook_lock);
}

static uint64_t now_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000ull + (uint64_t)ts.tv_nsec / 1000;
}

static void observe(struct lw_histogram *h, uint64_t usec)
{
	size_t i = 0;

	while (i < LW_BUCKETS && (double)usec / 1e6 > lw_bucket_le[i])
		i++;
	atomic_fetch_add(&h->bucket[i], 1);
	atomic_fetch_add(&h->usec_sum, usec);
	atomic_fetch_add(&h->count, 1);
}

/* The thread's run-queue wait so far (ns; schedstat's second field), 0 when unknown. */
static uint64_t run_delay_total(struct linkwatch *lw)
{
	char buf[128];
	unsigned long long on_cpu, waited;
	ssize_t n = lw->schedstat_fd >= 0 ? pread(lw->schedstat_fd, buf, sizeof(buf) - 1, 0) : -1;

	if (n <= 0)
		return 0;
	buf[n] = 0;
	return sscanf(buf, "%llu %llu", &on_cpu, &waited) == 2 ? waited : 0;
}

static void link_obj(struct nl_object *obj, void *arg)
{
	struct linkwatch *lw = arg;
	struct rtnl_link *link = (struct rtnl_link *)obj;
	const char *name = rtnl_link_get_name(link);
	int ifindex = rtnl_link_get_ifindex(link);
	bool up = nl_object_get_msgtype(obj) == RTM_NEWLINK;
	struct dp_link_timing t;
	uint64_t t0 = now_usec();
	int r;

	if (!name)
		return;
	r = dp_link_changed(lw->dp, name, ifindex, up, &t);
	call_hook(lw, name); /* after the endpoint: its attach is the one timed */
	if (r == 0)
		return; /* not an interface of the enforced image */
	lw->handled = true;
	if (r == -ENODEV) { /* gone again before we got to it: its RTM_DELLINK follows */
		log_debug("link %s (ifindex %d): gone before it was attached", name, ifindex);
		return;
	}
	if (r < 0) {
		log_warn("link %s (ifindex %d) %s: %s", name, ifindex, up ? "added" : "removed",
			 strerror(-r));
		return;
	}
	if (!up) {
		log_info("link %s (ifindex %d) went away", name, ifindex);
		return;
	}
	if (r == 1)
		return; /* already attached (the link's flags or master changed) */
	uint64_t done = now_usec();

	observe(&lw->attach, done - lw->wake_usec);
	log_info("link %s (ifindex %d) appeared: entry and hooks in %.2f ms, %.2f ms after the "
		 "watcher woke (it waited %.2f ms for a CPU; %.2f ms for the datapath lock; links "
		 "created and pinned in %.2f ms)",
		 name, ifindex, (double)(done - t0) / 1e3, (double)(done - lw->wake_usec) / 1e3,
		 (double)lw->wake_delay_ns / 1e6, (double)t.lock_wait_usec / 1e3,
		 (double)t.hooks_usec / 1e3);
}

static int link_cb(struct nl_msg *msg, void *arg)
{
	int type = nlmsg_hdr(msg)->nlmsg_type;

	if (type == RTM_NEWLINK || type == RTM_DELLINK)
		nl_msg_parse(msg, link_obj, arg);
	return NL_OK;
}

/*
 * Low SCHED_FIFO priority: the thread's work per wake-up is bounded (one socket's worth of
 * messages, each a few map writes and at most two link creations, or one resync of the
 * image's interfaces) and the kernel's RT throttling (sched_rt_runtime_us) leaves the other
 * tasks their share even if it were not. Without CAP_SYS_NICE it stays at SCHED_OTHER.
 */
static void set_priority(struct linkwatch *lw)
{
	struct sched_param sp = {.sched_priority = lw->rt_priority};
	int r;

	if (!lw->rt_priority)
		return;
	/* pid 0: this thread only */
	r = sched_setscheduler(0, SCHED_FIFO | SCHED_RESET_ON_FORK, &sp) ? errno : 0;
	if (r)
		log_warn("link watcher: SCHED_FIFO priority %d: %s (running at normal priority: "
			 "other processes' load delays link enforcement)",
			 lw->rt_priority, strerror(r));
	else
		log_debug("link watcher: SCHED_FIFO priority %d", lw->rt_priority);
}

/* Every interface of the image looked up again, after events were lost. */
static void resync(struct linkwatch *lw)
{
	struct dp_resync res;
	int r = dp_links_resync(lw->dp, &res);

	atomic_fetch_add(&lw->resyncs, 1);
	if (r)
		log_warn("link events lost: resync of %u interfaces: %s", res.interfaces,
			 strerror(-r));
	else
		log_warn("link events lost (netlink receive buffer full): resynced %u interfaces "
			 "of the image in %.2f ms: %u attached, %u gone",
			 res.interfaces, (double)res.usec / 1e3, res.attached, res.gone);
	call_hook(lw, NULL); /* the modules look at every interface too */
	lw->handled = true;
}

/*
 * Reads what the socket holds (at most a bounded number of reads: poll() says when more is
 * left). The kernel reports ENOBUFS before the messages still queued, which are older than
 * the lost ones: they are handled first and the resync, which reads the current state, comes
 * once the socket is empty.
 */
static void drain(struct linkwatch *lw)
{
	for (int i = 0; i < 1024; i++) {
		int r = nl_recvmsgs_report(lw->nl, lw->cb);

		if (r == 0 || r == -NLE_AGAIN) { /* empty */
			if (lw->lost) {
				lw->lost = false;
				resync(lw);
			}
			return;
		}
		if (r < 0) {
			if (!lw->lost) /* libnl reports ENOBUFS as NLE_NOMEM */
				log_warn("netlink: %s (link events may have been missed)",
					 r == -NLE_NOMEM ? "receive buffer full, events dropped"
							 : nl_geterror(r));
			lw->lost = true;
		}
	}
}

static void *linkwatch_main(void *arg)
{
	struct linkwatch *lw = arg;
	struct pollfd fds[2] = {{.fd = lw->stopfd, .events = POLLIN},
				{.fd = nl_socket_get_fd(lw->nl), .events = POLLIN}};

	set_priority(lw);
	lw->schedstat_fd = open("/proc/thread-self/schedstat", O_RDONLY | O_CLOEXEC);
	lw->run_delay_ns = run_delay_total(lw);
	for (;;) {
		int n = poll(fds, 2, -1);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			log_error("link watcher: poll: %s", strerror(errno));
			break;
		}
		if (fds[0].revents)
			break;
		lw->wake_usec = now_usec();
		uint64_t total = run_delay_total(lw);

		/* asleep in poll the thread is on no run queue: what accrued is this wake-up's */
		lw->wake_delay_ns = total > lw->run_delay_ns ? total - lw->run_delay_ns : 0;
		lw->handled = false;
		drain(lw);
		if (lw->handled) {
			observe(&lw->delay, lw->wake_delay_ns / 1000);
			guard_refresh(engine_guard(lw->engine)); /* GetStatus: enforced now */
		}
		lw->run_delay_ns = run_delay_total(lw);
	}
	if (lw->schedstat_fd >= 0)
		close(lw->schedstat_fd);
	return NULL;
}

struct linkwatch *linkwatch_new(struct engine *e, const struct linkwatch_options *opts, char *err,
			       size_t err_len)
{
	struct linkwatch *lw = calloc(1, sizeof(*lw));
	int r;

	if (!lw) {
		snprintf(err, err_len, "link watcher: out of memory");
		return NULL;
	}
	lw->engine = e;
	lw->rt_priority = opts->rt_priority;
	lw->schedstat_fd = -1;
	pthread_mutex_init(&lw->hook_lock, NULL);
	lw->stopfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	lw->nl = nl_socket_alloc();
	if (lw->stopfd < 0 || !lw->nl) {
		snprintf(err, err_len, "link watcher: %s", strerror(lw->nl ? errno : ENOMEM));
		goto err;
	}
	nl_socket_disable_seq_check(lw->nl);
	nl_socket_modify_cb(lw->nl, NL_CB_VALID, NL_CB_CUSTOM, link_cb, lw);
	r = nl_connect(lw->nl, NETLINK_ROUTE);
	if (!r)
		r = nl_socket_add_memberships(lw->nl, RTNLGRP_LINK, 0);
	if (!r)
		r = nl_socket_set_nonblocking(lw->nl);
	if (r) {
		snprintf(err, err_len, "netlink: %s", nl_geterror(r));
		goto err;
	}
	/* SO_RCVBUF: capped by net.core.rmem_max; a burst beyond it is what resync() is for */
	nl_socket_set_buffer_size(lw->nl, opts->rcvbuf ? opts->rcvbuf : 1 << 20, 0);
	lw->cb = nl_socket_get_cb(lw->nl);
	if (!lw->cb) {
		snprintf(err, err_len, "link watcher: %s", strerror(ENOMEM));
		goto err;
	}
	return lw;
err:
	linkwatch_free(lw);
	return NULL;
}

int linkwatch_run(struct linkwatch *lw, char *err, size_t err_len)
{
	int r;

	lw->dp = engine_datapath(lw->engine);
	if (!lw->dp)
		return 0; /* --datapath none: nothing to attach */
	r = -pthread_create(&lw->thread, NULL, linkwatch_main, lw);
	if (r) {
		snprintf(err, err_len, "link watcher: %s", strerror(-r));
		return r;
	}
	lw->running = true;
	return 0;
}

void linkwatch_free(struct linkwatch *lw)
{
	uint64_t one = 1;

	if (!lw)
		return;
	if (lw->running) {
		if (write(lw->stopfd, &one, sizeof(one)) < 0)
			log_error("link watcher: cannot stop: %s", strerror(errno));
		pthread_join(lw->thread, NULL);
	}
	if (lw->cb)
		nl_cb_put(lw->cb);
	if (lw->nl)
		nl_socket_free(lw->nl);
	if (lw->stopfd >= 0)
		close(lw->stopfd);
	pthread_mutex_destroy(&lw->hook_lock);
	free(lw);
}

static void write_histogram(FILE *f, const char *name, const char *help,
			    const struct lw_histogram *h)
{
	uint64_t cum = 0;

	fprintf(f, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
	for (size_t i = 0; i < LW_BUCKETS; i++) {
		cum += atomic_load(&h->bucket[i]);
		fprintf(f, "%s_bucket{le=\"%g\"} %llu\n", name, lw_bucket_le[i],
			(unsigned long long)cum);
	}
	cum += atomic_load(&h->bucket[LW_BUCKETS]);
	fprintf(f, "%s_bucket{le=\"+Inf\"} %llu\n%s_sum %.6f\n%s_count %llu\n", name,
		(unsigned long long)cum, name, (double)atomic_load(&h->usec_sum) / 1e6, name,
		(unsigned long long)atomic_load(&h->count));
}

void linkwatch_write_metrics(struct linkwatch *lw, FILE *f)
{
	if (!lw)
		return;
	write_histogram(f, "iofence_link_attach_seconds",
			"From the link watcher's wake-up to an appeared endpoint interface's "
			"entry and hooks in place.",
			&lw->attach);
	write_histogram(f, "iofence_link_run_delay_seconds",
			"How long the link watcher waited for a CPU after a link event woke it.",
			&lw->delay);
	fprintf(f,
		"# HELP iofence_link_resyncs_total Link events lost (netlink receive buffer "
		"full) and every interface of the image looked up again.\n"
		"# TYPE iofence_link_resyncs_total counter\niofence_link_resyncs_total %llu\n",
		(unsigned long long)atomic_load(&lw->resyncs));
}
