// SPDX-License-Identifier: Apache-2.0
/*
 * bench/peers: new TCP connections per second. Keeps --concurrency connections in flight, each
 * a non-blocking connect from one of --src-count consecutive source addresses, a 1-byte write,
 * the 1-byte echo read, and a close; counts those completed in --duration seconds.
 *   peers_cps --dst 10.201.2.2 --port 7000 --src 10.201.1.2 --src-count 16
 *             [--concurrency 128] [--duration 2]
 * Prints one line: "cps=R completed=N failed=F seconds=S".
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

struct load {
	struct sockaddr_in dst;
	uint32_t src; /* host order */
	unsigned src_count, next_src;
	int ep;
	unsigned long completed, failed;
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Starts one connection; 0 or -errno (the caller counts a failure and tries again later). */
static int start_connection(struct load *l)
{
	struct sockaddr_in src = {.sin_family = AF_INET};
	int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);

	if (fd < 0)
		return -errno;
	src.sin_addr.s_addr = htonl(l->src + l->next_src++ % l->src_count);
	setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&src, sizeof(src)) ||
	    (connect(fd, (struct sockaddr *)&l->dst, sizeof(l->dst)) && errno != EINPROGRESS)) {
		int err = -errno;

		close(fd);
		return err;
	}
	epoll_ctl(l->ep, EPOLL_CTL_ADD, fd, &(struct epoll_event){.events = EPOLLOUT, .data.fd = fd});
	return 0;
}

/*
 * One event of a connection: writable (connected: send the byte) or readable (echo: done).
 * Returns 1 while the connection stays in flight.
 */
static int on_event(struct load *l, const struct epoll_event *ev)
{
	int fd = ev->data.fd, soerr = 0;
	socklen_t len = sizeof(soerr);
	char c = 'x';

	if (ev->events & EPOLLOUT) {
		getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len);
		if (!soerr && !(ev->events & (EPOLLERR | EPOLLHUP)) && write(fd, &c, 1) == 1) {
			epoll_ctl(l->ep, EPOLL_CTL_MOD, fd,
				  &(struct epoll_event){.events = EPOLLIN, .data.fd = fd});
			return 1;
		}
		l->failed++;
	} else if (read(fd, &c, 1) == 1) {
		l->completed++;
	} else {
		l->failed++;
	}
	close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	struct load l = {.dst = {.sin_family = AF_INET, .sin_port = htons(7000)}, .src_count = 1};
	unsigned concurrency = 128, in_flight = 0;
	double duration = 2, start, end;
	struct epoll_event evs[512];
	struct in_addr a;

	for (int i = 1; i + 1 < argc; i += 2) {
		const char *k = argv[i], *v = argv[i + 1];

		if (!strcmp(k, "--dst") && inet_pton(AF_INET, v, &l.dst.sin_addr) == 1)
			continue;
		if (!strcmp(k, "--src") && inet_pton(AF_INET, v, &a) == 1)
			l.src = ntohl(a.s_addr);
		else if (!strcmp(k, "--port"))
			l.dst.sin_port = htons((uint16_t)atoi(v));
		else if (!strcmp(k, "--src-count"))
			l.src_count = (unsigned)atoi(v);
		else if (!strcmp(k, "--concurrency"))
			concurrency = (unsigned)atoi(v);
		else if (!strcmp(k, "--duration"))
			duration = atof(v);
		else
			goto usage;
	}
	if (!l.dst.sin_addr.s_addr || !l.src || !l.src_count || !concurrency || duration <= 0)
		goto usage;
	l.ep = epoll_create1(0);
	if (l.ep < 0) {
		perror("epoll_create1");
		return 1;
	}
	start = now_s();
	end = start + duration;
	for (;;) {
		double t = now_s();

		if (t >= end)
			break;
		while (in_flight < concurrency) {
			if (start_connection(&l)) {
				l.failed++;
				break;
			}
			in_flight++;
		}
		int n = epoll_wait(l.ep, evs, 512, (int)((end - t) * 1000) + 1);

		for (int i = 0; i < n; i++)
			in_flight -= !on_event(&l, &evs[i]);
	}
	double secs = now_s() - start;

	printf("cps=%.0f completed=%lu failed=%lu seconds=%.3f\n", l.completed / secs,
	       l.completed, l.failed, secs);
	return 0;
usage:
	fprintf(stderr, "usage: %s --dst IP --src IP [--src-count N] [--port 7000] "
			"[--concurrency 128] [--duration 2]\n", argv[0]);
	return 2;
}
