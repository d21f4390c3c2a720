// SPDX-License-Identifier: Apache-2.0
/*
 * bench_switch_floor: the CPU one thread switch costs on this machine, the floor under the
 * agent's cost per change (each change wakes the follower's threads, the apply worker and
 * gRPC's pollers: docs/BENCHMARKS.md, "Cluster mode"). Two threads hand a token back and forth
 * through a mutex and condition variable, as the follower and the engine do, ROUNDS times;
 * prints the process's CPU time per switch and the wall time per round trip.
 *   bench_switch_floor [ROUNDS]
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static long turn, rounds;

/* Thread `me` (0 or 1) waits for its turn and passes it on, rounds times. */
static void *player(void *arg)
{
	long me = (long)arg;

	pthread_mutex_lock(&lock);
	for (long i = 0; i < rounds; i++) {
		while (turn % 2 != me)
			pthread_cond_wait(&cond, &lock);
		turn++;
		pthread_cond_signal(&cond);
	}
	pthread_mutex_unlock(&lock);
	return NULL;
}

static double seconds(struct timeval tv)
{
	return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

int main(int argc, char **argv)
{
	struct timespec t0, t1;
	struct rusage ru;
	pthread_t a, b;
	double wall, cpu;
	long switches;

	rounds = argc > 1 ? atol(argv[1]) : 20000;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	pthread_create(&a, NULL, player, (void *)0);
	pthread_create(&b, NULL, player, (void *)1);
	pthread_join(a, NULL);
	pthread_join(b, NULL);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	getrusage(RUSAGE_SELF, &ru);
	wall = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	cpu = seconds(ru.ru_utime) + seconds(ru.ru_stime);
	switches = ru.ru_nvcsw + ru.ru_nivcsw;
	printf("RESULT mode=switch-floor rounds=%ld switches=%ld cpu_us_per_switch=%.1f "
	       "wall_us_per_round_trip=%.1f\n",
	       rounds, switches, switches ? cpu / (double)switches * 1e6 : 0.0,
	       wall / (double)rounds * 1e6);
	return 0;
}
