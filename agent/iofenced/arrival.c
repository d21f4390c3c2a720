// SPDX-License-Identifier: Apache-2.0
/*
 * The arrival watch (arrival.h): one thread sleeps until the earliest deadline of the
 * messages still arriving and expires those that are due. A handful of calls are watched at
 * a time, so a list scanned whole is enough.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "arrival.h"

struct arrival_watch {
	pthread_mutex_t lock;
	pthread_cond_t cond; /* on CLOCK_MONOTONIC */
	struct arrival *head;
	bool stop;
	pthread_t thread;
};

static uint64_t now_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void unlink_arrival(struct arrival_watch *w, struct arrival *arr)
{
	if (arr->prev)
		arr->prev->next = arr->next;
	else
		w->head = arr->next;
	if (arr->next)
		arr->next->prev = arr->prev;
	arr->prev = arr->next = NULL;
	arr->watched = false;
}

/* The first arrival due by now (unlinked), or NULL and the earliest deadline in *next_due. */
static struct arrival *take_due(struct arrival_watch *w, uint64_t now, uint64_t *next_due)
{
	*next_due = 0;
	for (struct arrival *arr = w->head; arr; arr = arr->next) {
		if (w->stop || arr->due_usec <= now) {
			unlink_arrival(w, arr);
			return arr;
		}
		if (!*next_due || arr->due_usec < *next_due)
			*next_due = arr->due_usec;
	}
	return NULL;
}

static void *watch_main(void *arg)
{
	struct arrival_watch *w = arg;
	struct arrival *arr;
	uint64_t next_due;

	pthread_mutex_lock(&w->lock);
	for (;;) {
		arr = take_due(w, now_usec(), &next_due);
		if (arr) {
			/* expire outside the lock: it may cancel a call, which takes gRPC's locks */
			pthread_mutex_unlock(&w->lock);
			arr->expire(arr);
			pthread_mutex_lock(&w->lock);
			continue;
		}
		if (w->stop)
			break;
		if (!next_due) {
			pthread_cond_wait(&w->cond, &w->lock);
		} else {
			struct timespec ts = {.tv_sec = (time_t)(next_due / 1000000u),
					      .tv_nsec = (long)(next_due % 1000000u) * 1000};

			pthread_cond_timedwait(&w->cond, &w->lock, &ts);
		}
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

struct arrival_watch *arrival_watch_start(void)
{
	struct arrival_watch *w = calloc(1, sizeof(*w));
	pthread_condattr_t attr;
	int err;

	if (!w)
		return NULL;
	pthread_mutex_init(&w->lock, NULL);
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&w->cond, &attr);
	pthread_condattr_destroy(&attr);
	err = pthread_create(&w->thread, NULL, watch_main, w);
	if (err) {
		pthread_cond_destroy(&w->cond);
		pthread_mutex_destroy(&w->lock);
		free(w);
		errno = err;
		return NULL;
	}
	return w;
}

void arrival_watch_add(struct arrival_watch *w, struct arrival *arr)
{
	pthread_mutex_lock(&w->lock);
	arr->prev = NULL;
	arr->next = w->head;
	if (w->head)
		w->head->prev = arr;
	w->head = arr;
	arr->watched = true;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
}

bool arrival_watch_cancel(struct arrival_watch *w, struct arrival *arr)
{
	bool watched;

	pthread_mutex_lock(&w->lock);
	watched = arr->watched;
	if (watched)
		unlink_arrival(w, arr);
	pthread_mutex_unlock(&w->lock);
	return watched;
}

void arrival_watch_stop(struct arrival_watch *w)
{
	if (!w)
		return;
	pthread_mutex_lock(&w->lock);
	w->stop = true;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
	pthread_join(w->thread, NULL);
	pthread_cond_destroy(&w->cond);
	pthread_mutex_destroy(&w->lock);
	free(w);
}
