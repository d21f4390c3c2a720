// SPDX-License-Identifier: Apache-2.0
/*
 * The agent's event loop thread: verdict records from the datapath's ring buffer (to the
 * flow watchers) and cgroup folders appearing or going (cgwatch.c, inotify). All are waited
 * for with epoll: no polling. Link events have a thread of their own (linkwatch.c). A timer also has the
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
	struct cgwatch cg;
};

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
	r = 0;
	if (e->dp && dp_events_fd(e->dp) >= 0) {
		uint64_t seq;

		r = watch_fd(e, dp_events_fd(e->dp));
		if (!r && !dp_events_next_seq(e->dp, &seq)) /* numbering goes on from the last run */
			flows_set_next_seq(flows, seq);
	}
	/* without a datapath no cgroup is attached: an apply needs no rescan (one wake-up less) */
	if (!r && e->dp)
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
