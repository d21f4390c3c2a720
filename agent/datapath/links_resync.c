// SPDX-License-Identifier: Apache-2.0
/*
 * After link events were lost (the link watcher's netlink socket overflowed: ENOBUFS), look
 * up every interface the enforced image names and give it what the missed events would have:
 * an interface present is attached (dp_link_changed up, a no-op when its hooks are alive),
 * one absent is forgotten. The names are copied under the lock and handled one by one, so a
 * link event or an apply never waits for the whole walk.
 */
#include <errno.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dp_internal.h"

/* The image's interface names (endpoints and prefilter uplinks), duplicates included. */
static char **copy_names(struct datapath *dp, size_t *ret_n)
{
	char **names;
	size_t n = 0;

	pthread_mutex_lock(&dp->lock);
	names = calloc(dp->n_eps + dp->n_pfs + 1, sizeof(*names));
	for (size_t i = 0; names && i < dp->n_eps; i++)
		if (dp->eps[i].interface && !(names[n++] = strdup(dp->eps[i].interface)))
			goto oom;
	for (size_t i = 0; names && i < dp->n_pfs; i++)
		if (dp->pfs[i].interface && !(names[n++] = strdup(dp->pfs[i].interface)))
			goto oom;
	pthread_mutex_unlock(&dp->lock);
	*ret_n = n;
	return names;
oom:
	pthread_mutex_unlock(&dp->lock);
	while (n)
		free(names[--n]);
	free(names);
	return NULL;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int dp_links_resync(struct datapath *dp, struct dp_resync *ret)
{
	struct dp_resync res = {0};
	struct timespec t0, t1;
	size_t n = 0;
	char **names;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	names = copy_names(dp, &n);
	if (!names)
		return -ENOMEM;
	qsort(names, n, sizeof(*names), by_name);
	for (size_t i = 0; i < n; i++) {
		if (i && !strcmp(names[i], names[i - 1]))
			continue; /* an interface named by several endpoints: one event */
		int ifindex = (int)if_nametoindex(names[i]);
		int r = dp_link_changed(dp, names[i], ifindex, ifindex > 0, NULL);

		res.interfaces++;
		if (r == 2)
			res.attached++;
		else if (r == 1 && !ifindex)
			res.gone++;
		else if (r < 0 && r != -ENODEV && !res.error) /* ENODEV: gone meanwhile */
			res.error = r;
	}
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	res.usec = (uint64_t)((int64_t)(t1.tv_sec - t0.tv_sec) * 1000000 +
			      (int64_t)(t1.tv_nsec - t0.tv_nsec) / 1000);
	if (ret)
		*ret = res;
	return res.error;
}
