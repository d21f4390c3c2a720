/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The work the engine does for others (job.c): an apply (from the API or the datastore
 * follower), a cgroup that came or went; and how an apply's answer is set.
 */
#ifndef IOFENCE_IOFENCED_JOB_H
#define IOFENCE_IOFENCED_JOB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <iofence/v1/agent.pb-c.h>

#include "policy/errors.h"
#include "policy/model.h"

/*
 * JOB_APPLY: a whole document (req), read by the reader first. JOB_DELTA: endpoint and group
 * changes on top of the enforced revision (cluster mode), without reading or rebuilding a
 * whole document.
 */
enum job_kind { JOB_APPLY, JOB_CGROUP, JOB_DELTA };

struct job {
	struct job *next;      /* the engine's queue */
	struct job *read_next; /* the reader's queue (JOB_APPLY) */
	enum job_kind kind;
	/* JOB_APPLY */
	Iofence__V1__ApplyRequest *req;	   /* owned by the job; NULL until the reader decodes */
	uint8_t *request;		   /* the undecoded message of an API call (malloc'ed) */
	void (*complete)(struct job *job); /* called once with the answer; frees the job */
	void *ctx;
	int status;    /* grpc_status_code */
	char *details; /* malloc'ed */
	void *errors;  /* packed ValidationErrors or NULL */
	size_t errors_len;
	Iofence__V1__ApplyResponse resp;
	char **warnings; /* malloc'ed lines resp.warnings points to */
	size_t n_warnings;
	uint64_t deadline_usec;	      /* the client's, CLOCK_MONOTONIC microseconds; 0: none */
	uint64_t read_by_usec;	      /* the wall-clock read budget ends (API calls); 0: none */
	unsigned read_wall_ms;	      /* that budget (--apply-read-wall-ms) */
	size_t request_bytes;	      /* the request message's size (0: not a call) */
	bool (*abandoned)(void *ctx); /* the client has cancelled (NULL: cannot tell) */
	bool dry_run;		      /* ApplyDryRun: validate, decide, warn; change nothing */
	/* JOB_APPLY, the read stage (reader.h): set before read_done */
	struct policy_document *doc; /* read and validated; NULL when status says why not */
	uint64_t read_start_usec, read_end_usec; /* start 0: not started (client gone, stopping) */
	uint64_t read_cpu_usec;			 /* CPU time the read took */
	bool read_done; /* under the engine's queue lock */
	/*
	 * Cluster mode (owned): the revision's changed objects since delta->base_revision. With
	 * JOB_APPLY optional, the store then keeps it instead of the whole document (journal.h);
	 * with JOB_DELTA the changes themselves (endpoints, groups), making revision delta_revision.
	 */
	Iofence__V1__PolicyDelta *delta;
	uint64_t delta_revision;
	/* JOB_CGROUP */
	bool up;      /* the cgroup exists */
	char *cgroup; /* malloc'ed path */
};

/*
 * What reading one apply may cost (docs/AGENT.md, "Bounds"), chosen with the message limit
 * (RPC_MAX_REQUEST, agent/rpc/rpc.h) so that any request up to it is answered within a
 * second. Reading (parse and validate on a reader thread, then the revision check and pack
 * on the worker) stops at whichever comes first:
 * - APPLY_READ_BUDGET_MS of the reading thread's CPU time: what a text may cost, whatever the
 *   machine's load. The largest realistic document (a 100k-rule policy, ~25 ns of CPU a byte)
 *   reads in well under it; the densest texts (~50 ns a byte) at the message limit do not.
 * - APPLY_READ_WALL_MS (--apply-read-wall-ms) after the call started, its message's arrival
 *   included (API calls; the datastore's revisions have no client waiting): a message that
 *   has not arrived by then ends the call (server.c, arrival.h); on a node short of CPU a
 *   read takes longer than it costs, and the client is answered (RESOURCE_EXHAUSTED, saying
 *   how far the read got) rather than kept waiting.
 * - the client's deadline (DEADLINE_EXCEEDED).
 * Compile and the datapath write are bounded by the maps' capacity. An apply whose client
 * has cancelled, or whose deadline has passed, is not started.
 */
#define APPLY_READ_BUDGET_MS 700 /* APPLY_READ_WALL_MS: config.h */

/*
 * The wall-clock budget stops only a read that has also had this much CPU time: on a node
 * short of CPU a cheap read (the largest valid message, 100k rules as iofencectl sends them,
 * takes ~130 ms of CPU to decode and read) is read to its end, where the wall clock alone
 * would refuse it; an expensive one is still stopped (docs/AGENT.md, "Bounds").
 */
#define APPLY_READ_WALL_MIN_CPU_MS 200

static inline uint64_t clock_usec(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static inline uint64_t monotonic_usec(void)
{
	return clock_usec(CLOCK_MONOTONIC);
}

/* CPU time of the calling thread. */
static inline uint64_t thread_cpu_usec(void)
{
	return clock_usec(CLOCK_THREAD_CPUTIME_ID);
}

void job_free(struct job *job);

/* The client has cancelled the call, or its deadline has passed: nobody waits for the answer. */
bool job_gone(const struct job *job, uint64_t now_usec);

void job_set_status(struct job *job, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* CANCELLED or DEADLINE_EXCEEDED for an apply not started (logged). */
void job_refuse_unstarted(struct job *job);

/*
 * The document was not read in time: the client's deadline passed (DEADLINE_EXCEEDED) or the
 * CPU read budget was spent (RESOURCE_EXHAUSTED), after spent_usec; the parser's last error
 * (errs may be NULL) names the line reached (logged).
 */
void job_refuse_late(struct job *job, const struct policy_errors *errs, uint64_t spent_usec);

/*
 * The document was not read within job->read_wall_ms of the call's start (RESOURCE_EXHAUSTED),
 * having had cpu_usec of CPU time (0: not started, no reader was free); errs as above.
 */
void job_refuse_slow(struct job *job, const struct policy_errors *errs, uint64_t cpu_usec);

/* INVALID_ARGUMENT with every error: lines in the details (capped), the rest in the trailer. */
void job_set_validation_errors(struct job *job, const struct policy_errors *errs);

#endif /* IOFENCE_IOFENCED_JOB_H */
