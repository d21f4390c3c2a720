// SPDX-License-Identifier: Apache-2.0
/*
 * `iofenced`, the command: enforces the endpoints whose interfaces appeared while no agent ran
 * (dp_early_enforce: their entries and hooks from the pinned programs and maps), then execs
 * the agent proper, iofenced-agent (libexec/iofence/), with the same arguments. The agent
 * links gRPC, protobuf-c, sqlite, libmicrohttpd and ~80 shared objects in all: the dynamic
 * linker spends ~40 ms of CPU before its main() runs, several times that on a loaded machine.
 * This program links libc and libbpf only, so the attach runs a few milliseconds after the
 * exec. The agent attaches again whatever this could not (same function, idempotent).
 */
#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agent/datapath/datapath.h"
#include "config.h"
#include "log.h"
#include "proc_start.h"

#define AGENT_NAME "iofenced-agent"

/*
 * The agent: beside this program in a build tree, in ../libexec/iofence/ when installed (the
 * path of this program from /proc/self/exe).
 */
static int agent_path(char *path, size_t len)
{
	static const char *const where[] = {"/" AGENT_NAME, "/../libexec/iofence/" AGENT_NAME};
	ssize_t n = readlink("/proc/self/exe", path, len - 1);
	char *slash;

	if (n <= 0)
		return -errno;
	path[n] = 0;
	slash = strrchr(path, '/');
	if (!slash)
		return -ENOENT;
	for (size_t i = 0; i < sizeof(where) / sizeof(where[0]); i++) {
		if ((size_t)(slash - path) + strlen(where[i]) + 1 > len)
			return -ENAMETOOLONG;
		strcpy(slash, where[i]);
		if (!access(path, X_OK))
			return 0;
	}
	return -ENOENT;
}

/* Help, version and cleanup runs attach nothing: the agent answers them. */
static bool attaches(int argc, char **argv)
{
	static const char *const quick[] = {"-h", "--help", "--help-man", "--version", "--cleanup"};

	for (int i = 1; i < argc; i++)
		for (size_t q = 0; q < sizeof(quick) / sizeof(quick[0]); q++)
			if (!strcmp(argv[i], quick[q]))
				return false;
	return true;
}

/*
 * The agent runs at normal priority (only its link watcher thread raises itself): whatever
 * real-time policy this process ran at, raised here or given by its parent (systemd's
 * CPUSchedulingPolicy=fifo), it drops before the exec, which would keep it.
 */
static bool real_time(void)
{
	int policy = sched_getscheduler(0);

	return policy >= 0 && ((policy & ~SCHED_RESET_ON_FORK) == SCHED_FIFO ||
			       (policy & ~SCHED_RESET_ON_FORK) == SCHED_RR);
}

static void normal_priority(void)
{
	struct sched_param normal = {0};

	if (real_time())
		sched_setscheduler(0, SCHED_OTHER, &normal);
}

/*
 * At SCHED_FIFO (--attach-rt-priority) for its bounded work, a few map writes and two link
 * creations per interface. A parent that started it at SCHED_FIFO already (no wait behind
 * other processes for the exec and the dynamic linking) keeps that priority for the attach.
 */
static void early_attach(int argc, char **argv)
{
	struct sched_param rt = {0};
	struct agent_config cfg;
	char err[512] = "", **args = calloc((size_t)argc + 1, sizeof(*args));
	struct timespec t0, t1;
	int r;

	if (!args)
		return;
	memcpy(args, argv, (size_t)argc * sizeof(*args)); /* getopt permutes its copy */
	r = config_load(argc, args, &cfg, err, sizeof(err));
	free(args);
	if (r || cfg.datapath_none) /* a bad option: the agent reports it */
		goto out;
	log_set_level(cfg.log_level);
	rt.sched_priority = (int)cfg.attach_rt_priority;
	if (rt.sched_priority && !real_time() && sched_setscheduler(0, SCHED_FIFO, &rt))
		log_debug("early enforcement: SCHED_FIFO %d: %s", rt.sched_priority,
			  strerror(errno));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	r = dp_early_enforce(cfg.pin_dir, err, sizeof(err));
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (r < 0)
		log_warn("early enforcement: %s", err);
	else if (r > 0)
		log_info("early enforcement: %d interface%s attached from the pinned programs in "
			 "%.1f ms (%ld ms after process start)",
			 r, r == 1 ? "" : "s",
			 (double)(t1.tv_sec - t0.tv_sec) * 1e3 +
			     (double)(t1.tv_nsec - t0.tv_nsec) / 1e6,
			 proc_ms_since_start());
out:
	config_free(&cfg);
}

int main(int argc, char **argv)
{
	char agent[PATH_MAX];
	int r = agent_path(agent, sizeof(agent));

	if (r) {
		fprintf(stderr, "iofenced: cannot find %s beside it or in ../libexec/iofence: %s\n",
			AGENT_NAME, strerror(-r));
		return 2;
	}
	if (attaches(argc, argv))
		early_attach(argc, argv);
	normal_priority();
	execv(agent, argv);
	fprintf(stderr, "iofenced: cannot run %s: %s\n", agent, strerror(errno));
	return 2;
}
