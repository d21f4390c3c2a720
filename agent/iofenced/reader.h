/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The read stage of an apply (reader.c): threads parse and validate the documents of queued
 * applies, each within the read budget, and hand them back to the engine, whose one worker
 * then applies them as their reads end. A large or hostile document thus holds one reader
 * thread, not the applies that came after it.
 */
#ifndef IOFENCE_IOFENCED_READER_H
#define IOFENCE_IOFENCED_READER_H

#include "job.h"

/*
 * max(READER_THREADS_MIN, CPUs) threads wait for documents; while all are busy, each new
 * document gets a thread of its own, up to READER_THREADS_MAX, so that it is read beside the
 * ones in progress (sharing the CPU with them) instead of after them. The most reads at once,
 * READER_THREADS_MAX, bounds their memory: a read holds up to ~15 times its text.
 */
#define READER_THREADS_MIN 4
#define READER_THREADS_MAX 16

/*
 * The memory the reads in progress may hold together (read_memory.h): a read reserves
 * READ_MEMORY_PER_BYTE times its request before it starts (at most the whole budget), and
 * waits while the others hold the rest. 16 reads of 24 MiB requests would otherwise hold
 * gigabytes; within 1 GiB, two such reads run at once, or sixteen of 4 MB.
 */
#define READ_MEMORY_BUDGET ((size_t)1 << 30)

struct reader;

/*
 * Starts max(READER_THREADS_MIN, online CPUs) threads (more join later, see above).
 * done(ctx, job) is called once per submitted job, on a reader thread (or in reader_stop), when its read is over: job->doc is
 * set, or job's status and details say why not. NULL with errno set on failure.
 */
struct reader *reader_start(void (*done)(void *ctx, struct job *job), void *ctx);

/* Queues an apply job for reading (never blocks on a read). */
void reader_submit(struct reader *r, struct job *job);

/*
 * Lets the reads in progress finish, answers the queued ones UNAVAILABLE (through done),
 * joins the threads and frees r. NULL is ignored.
 */
void reader_stop(struct reader *r);

#endif /* IOFENCE_IOFENCED_READER_H */
