// SPDX-License-Identifier: Apache-2.0
/*
 * iofenced: the per-node agent (CONTRACT.md). Starts the parts in order — store and datapath
 * with the restored revision, flows and the event loop's fds, apply worker, gRPC server, event
 * loop thread, metrics — so each part exists before another can call it; signals readiness,
 * and on SIGTERM stops serving while the pinned datapath keeps enforcing.
 */
#include <errno.h>
#include <malloc.h>
#include <stdarg.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <bpf/libbpf.h>
#include <grpc/grpc.h>
#include <grpc/support/log.h>
#include <systemd/sd-daemon.h>

#include "agent.h"
#include "modules.h"
#include "agent/datapath/datapath.h"
#include "engine.h"
#include "events.h"
#include "linkwatch.h"
#include "flows.h"
#include "follower.h"
#include "log.h"
#include "metrics.h"
#include "server.h"

static void grpc_log(gpr_log_func_args *args)
{
	int level = args->severity == GPR_LOG_SEVERITY_ERROR ? LOG_WARN : LOG_DEBUG;

	log_msg(level, "grpc: %s", args->message);
}

/* libbpf's own messages (probes that are expected to fail, verifier logs) at debug level. */
static int libbpf_log(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	char buf[1024];

	vsnprintf(buf, sizeof(buf), fmt, ap);
	log_msg(level == LIBBPF_WARN ? LOG_DEBUG : LOG_DEBUG, "libbpf: %s", buf);
	return 0;
}

static int run(struct agent *a)
{
	char err[512] = "";
	sigset_t set;
	int sig, r;

	a->engine = engine_new(&a->cfg);
	if (!a->engine) {
		log_error("start: %s", strerror(ENOMEM));
		return 2;
	}
	/* The store first: two agents must never share one. */
	r = engine_lock_store(a->engine, err, sizeof(err));
	if (!r)
		r = server_lock(a, err, sizeof(err));
	if (r) {
		log_error("%s", err[0] ? err : strerror(-r));
		return 2;
	}
	/* Subscribed before the restore: a link that appears meanwhile waits on the socket. */
	struct linkwatch_options lw_opts = {.rt_priority = (int)a->cfg.attach_rt_priority};

	a->linkwatch = linkwatch_new(a->engine, &lw_opts, err, sizeof(err));
	if (!a->linkwatch) {
		log_error("%s", err);
		return 2;
	}
	r = engine_start(a->engine);
	if (r)
		return r;
	r = linkwatch_run(a->linkwatch, err, sizeof(err));
	if (r) {
		log_error("%s", err);
		return 2;
	}
	modules_start(a); /* after the datapath: its pins live under the same pin dir */
	modules_follow_links(a);
	a->flows = flows_new(a->engine, a->cfg.flow_history);
	if (!a->flows) {
		log_error("start: %s", strerror(ENOMEM));
		return 2;
	}
	/* Before the apply worker runs: its publishes wake the event loop through an eventfd. */
	a->events = events_new(a->engine, a->flows, err, sizeof(err));
	if (!a->events) {
		log_error("%s", err);
		return 2;
	}
	r = engine_run(a->engine);
	if (r) {
		log_error("start: %s", strerror(-r));
		return 2;
	}
	r = server_start(a, err, sizeof(err));
	if (!r)
		r = events_run(a->events, err, sizeof(err));
	if (!r)
		r = metrics_start(a, err, sizeof(err));
	if (!r)
		r = follower_start(a, err, sizeof(err));
	if (r) {
		log_error("%s", err[0] ? err : strerror(-r));
		return 2;
	}
	{
		struct snapshot *s = engine_current(a->engine);
		unsigned long long rev = s ? snapshot_revision(s) : 0;

		sd_notifyf(0, "READY=1\nSTATUS=enforcing revision %llu", rev);
		log_info("iofenced %s ready: node %s, revision %llu", AGENT_VERSION, a->cfg.node,
			 rev);
		snapshot_unref(s);
	}
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	for (;;) {
		if (sigwait(&set, &sig))
			continue;
		if (sig != SIGHUP)
			break;
		sd_notify(0, "RELOADING=1");
		r = config_reload(&a->cfg, err, sizeof(err));
		if (r)
			log_error("reload: %s (keeping the previous settings)", err);
		else
			log_info("reloaded %s: log level %d",
				 a->cfg.config_path ? a->cfg.config_path : "(no config file)",
				 a->cfg.log_level);
		log_set_level(a->cfg.log_level);
		sd_notify(0, "READY=1");
	}
	log_info("signal %d: stopping (the datapath keeps enforcing)", sig);
	sd_notify(0, "STOPPING=1");
	return 0;
}

int main(int argc, char **argv)
{
	struct agent a = {0};
	char err[512] = "";
	sigset_t set;
	int r;

	/*
	 * An apply allocates and frees a document's worth of heap on two threads. glibc would
	 * give the pages back after every free (trim threshold, per-thread arenas, mmapped large
	 * blocks) and fault them in again on the next apply, which on a large document costs more
	 * than the apply's work (page faults are dear on VMs). Keep them while applies run; the engine trims once they pause. One arena, because malloc_trim() cannot shrink
	 * the top of a thread's arena, which would keep a large document's pages resident.
	 */
	mallopt(M_ARENA_MAX, 1);
	mallopt(M_TRIM_THRESHOLD, 512 << 20);
	mallopt(M_MMAP_THRESHOLD, 32 << 20);
	r = config_load(argc, argv, &a.cfg, err, sizeof(err));
	if (r) {
		if (r < 0)
			fprintf(stderr, "iofenced: %s\n", err);
		config_free(&a.cfg);
		return r < 0 ? 1 : 0;
	}
	log_set_level(a.cfg.log_level);
	libbpf_set_print(libbpf_log);
	if (a.cfg.cleanup) {
		r = dp_cleanup(a.cfg.pin_dir, err, sizeof(err));
		if (r)
			log_error("cleanup of %s: %s", a.cfg.pin_dir, err[0] ? err : strerror(-r));
		else
			log_info("cleanup: detached everything and removed %s", a.cfg.pin_dir);
		config_free(&a.cfg);
		return r ? 2 : 0;
	}
	/* Before grpc_init(): its threads inherit the mask, main takes signals with sigwait. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	gpr_set_log_function(grpc_log);
	gpr_set_log_verbosity(GPR_LOG_SEVERITY_ERROR);
	/*
	 * Cluster mode: gRPC's default poller (epoll1) makes every thread waiting on any
	 * completion queue take turns at reading every socket, so the API server's queue threads
	 * woke for each etcd message and handed it to the follower: ~3x the thread switches (each
	 * ~0.1 ms of CPU on this kind of VM) under churn (docs/BENCHMARKS.md, "Cluster mode").
	 * With "poll" the follower's own waits read the etcd sockets. The environment wins.
	 */
	if (a.cfg.etcd_endpoints)
		setenv("GRPC_POLL_STRATEGY", "poll", 0);
	grpc_init();
	a.started_unix = time(NULL);
	r = run(&a);
	server_shutdown_begin(&a);
	follower_stop(&a); /* before the engine: its last job completes there */
	engine_stop(a.engine);
	linkwatch_free(a.linkwatch); /* before the datapath closes */
	events_free(a.events);
	metrics_stop(&a);
	server_shutdown_finish(&a);
	flows_free(a.flows);
	modules_stop(&a);
	engine_free(a.engine);
	grpc_shutdown_blocking();
	log_info("stopped");
	config_free(&a.cfg);
	return r;
}
