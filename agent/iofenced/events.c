// SPDX-License-Identifier: Apache-2.0
/*
 * The agent's event loop thread: verdict records from the datapath's ring buffer (to the
 * flow watchers), link events from a NETLINK_ROUTE socket (libnl-route), so an endpoint
 * is enforced the moment its interface appears, and cgroup folders appearing or going
 * (cgwatch.c, inotify). All are waited for with epoll: no polling. A timer also has the
 * conntrack entries counted now and then, so a metrics scrape never walks them.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <pthread.h>
#include <unistd.h>

#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/route/link.h>
#include <linux/rtnetlink.h>

#include "agent/datapath/datapath.h"
#include "cgwatch.h"
#include "engine.h"
#include "events.h"
#include "flows.h"
#include "log.h"

/* Seconds between two counts of the conntrack entries (each reads every entry). */
#define CT_COUNT_PERIOD_S 10

struct events {
	struct engine *engine;
	struct flows *flows;
	struct datapath *dp; /* NULL with --datapath=none */
	pthread_t thread;
	bool running;
	int epfd, stopfd, rescanfd, ctfd;
	struct nl_sock *nl;
	struct cgwatch cg;
};

/* True if the applied revision names this interface (endpoint or prefilter uplink). */
static bool interface_wanted(struct engine *e, const char *ifname)
{
	struct snapshot *s = engine_current(e);
	const struct policy_document *doc = s ? snapshot_doc(s) : NULL;
	const struct policy_image *img = s ? snapshot_image(s) : NULL;
	bool wanted = false;

	for (size_t i = 0; doc && !wanted && i < doc->n_endpoints; i++)
		wanted =
		    doc->endpoints[i].interface && !strcmp(doc->endpoints[i].interface, ifname);
	for (size_t i = 0; img && !wanted && i < img->n_prefilter; i++)
		wanted = !strcmp(img->prefilter[i].interface, ifname);
	snapshot_unref(s);
	return wanted;
}

struct link_msg {
	struct engine *engine;
	bool up;
};

static void link_obj(struct nl_object *obj, void *arg)
{
	struct link_msg *m = arg;
	struct rtnl_link *link = (struct rtnl_link *)obj;
	const char *name = rtnl_link_get_name(link);
	struct job *job;

	if (!name || !interface_wanted(m->engine, name))
		return;
	job = calloc(1, sizeof(*job));
	if (!job)
		return;
	job->kind = JOB_LINK;
	snprintf(job->ifname, sizeof(job->ifname), "%s", name);
	job->ifindex = rtnl_link_get_ifindex(link);
	job->up = m->up;
	log_debug("netlink: %s %s (ifindex %d)", m->up ? "new link" : "deleted link", name,
		  job->ifindex);
	engine_submit(m->engine, job);
}

static int link_cb(struct nl_msg *msg, void *arg)
{
	struct nlmsghdr *h = nlmsg_hdr(msg);
	struct link_msg m = {.engine = arg, .up = h->nlmsg_type == RTM_NEWLINK};

	if (h->nlmsg_type != RTM_NEWLINK && h->nlmsg_type != RTM_DELLINK)
		return NL_OK;
	nl_msg_parse(msg, link_obj, &m);
	return NL_OK;
}

static void on_event(const struct iof_event *ev, uint64_t seq, void *ctx)
{
	flows_dispatch(ctx, ev, seq);
}

static void *events_main(void *arg)
{
	struct events *e = arg;
	struct epoll_event evs[4];

	for (;;) {
		int n = epoll_wait(e->epfd, evs, 4, -1);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			log_error("event loop: epoll_wait: %s", strerror(errno));
			break;
		}
		for (int i = 0; i < n; i++) {
			int fd = evs[i].data.fd;

			if (fd == e->stopfd)
				return NULL;
			if (fd == e->rescanfd || fd == e->cg.fd) {
				uint64_t v;

				if (fd == e->rescanfd && read(e->rescanfd, &v, sizeof(v)) < 0)
					continue;
				cgwatch_rescan(e->engine, &e->cg);
			} else if (fd == e->ctfd) {
				uint64_t expirations;

				if (read(e->ctfd, &expirations, sizeof(expirations)) > 0 && e->dp)
					dp_count_conntrack(e->dp);
			} else if (e->nl && fd == nl_socket_get_fd(e->nl)) {
				int r = nl_recvmsgs_default(e->nl);

				if (r < 0 && r != -NLE_AGAIN)
					log_warn("netlink: %s (link events may have been missed)",
						 nl_geterror(r));
			} else if (e->dp) {
				dp_events_consume(e->dp, on_event, e->flows);
			}
		}
	}
	return NULL;
}

static int watch_fd(struct events *e, int fd)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};

	return epoll_ctl(e->epfd, EPOLL_CTL_ADD, fd, &ev) ? -errno : 0;
}

/* The engine published a revision: look at the endpoints' cgroups again (apply thread). */
static void rescan_cgroups(void *ctx)
{
	struct events *e = ctx;
	uint64_t one = 1;

	if (write(e->rescanfd, &one, sizeof(one)) < 0)
		log_warn("cgroup watch: cannot wake the event loop: %s", strerror(errno));
}

struct events *events_new(struct engine *engine, struct flows *flows, char *err, size_t err_len)
{
	struct events *e = calloc(1, sizeof(*e));
	int r;

	if (!e) {
		snprintf(err, err_len, "event loop: out of memory");
		return NULL;
	}
	e->engine = engine;
	e->flows = flows;
	e->dp = engine_datapath(engine);
	e->epfd = epoll_create1(EPOLL_CLOEXEC);
	e->stopfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	e->rescanfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	e->ctfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	e->cg.fd = -1;
	if (e->epfd < 0 || e->stopfd < 0 || e->rescanfd < 0 || e->ctfd < 0 ||
	    watch_fd(e, e->stopfd) || watch_fd(e, e->rescanfd) || watch_fd(e, e->ctfd) ||
	    cgwatch_open(&e->cg) || watch_fd(e, e->cg.fd)) {
		snprintf(err, err_len, "event loop: %s", strerror(errno));
		goto err;
	}
	e->nl = nl_socket_alloc();
	if (!e->nl) {
		snprintf(err, err_len, "netlink: out of memory");
		goto err;
	}
	nl_socket_disable_seq_check(e->nl);
	nl_socket_modify_cb(e->nl, NL_CB_VALID, NL_CB_CUSTOM, link_cb, engine);
	r = nl_connect(e->nl, NETLINK_ROUTE);
	if (!r)
		r = nl_socket_add_memberships(e->nl, RTNLGRP_LINK, 0);
	if (!r)
		r = nl_socket_set_nonblocking(e->nl);
	if (r) {
		snprintf(err, err_len, "netlink: %s", nl_geterror(r));
		goto err;
	}
	nl_socket_set_buffer_size(e->nl, 1 << 20, 0);
	r = watch_fd(e, nl_socket_get_fd(e->nl));
	if (!r && e->dp && dp_events_fd(e->dp) >= 0) {
		uint64_t seq;

		r = watch_fd(e, dp_events_fd(e->dp));
		if (!dp_events_next_seq(e->dp, &seq)) /* numbering goes on from the last run's */
			flows_set_next_seq(flows, seq);
	}
	if (!r)
		r = engine_on_publish(engine, rescan_cgroups, e);
	if (r) {
		snprintf(err, err_len, "event loop: %s", strerror(-r));
		goto err;
	}
	return e;
err:
	events_free(e);
	return NULL;
}

int events_run(struct events *e, char *err, size_t err_len)
{
	struct itimerspec period = {.it_interval.tv_sec = CT_COUNT_PERIOD_S,
				    .it_value.tv_nsec = 1}; /* the first count right away */
	int r;

	cgwatch_rescan(e->engine, &e->cg); /* the restored revision's cgroups */
	if (e->dp && timerfd_settime(e->ctfd, 0, &period, NULL)) {
		snprintf(err, err_len, "event loop: timer: %s", strerror(errno));
		return -errno;
	}
	r = -pthread_create(&e->thread, NULL, events_main, e);
	if (r) {
		snprintf(err, err_len, "event loop: %s", strerror(-r));
		return r;
	}
	e->running = true;
	return 0;
}

void events_free(struct events *e)
{
	uint64_t one = 1;

	if (!e)
		return;
	if (e->running) {
		if (write(e->stopfd, &one, sizeof(one)) < 0)
			log_error("event loop: cannot stop: %s", strerror(errno));
		pthread_join(e->thread, NULL);
	}
	if (e->nl)
		nl_socket_free(e->nl);
	if (e->epfd >= 0)
		close(e->epfd);
	if (e->stopfd >= 0)
		close(e->stopfd);
	if (e->rescanfd >= 0)
		close(e->rescanfd);
	if (e->ctfd >= 0)
		close(e->ctfd);
	cgwatch_close(&e->cg);
	free(e);
}
