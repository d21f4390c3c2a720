// SPDX-License-Identifier: Apache-2.0
/*
 * e2e_net: traffic endpoints for the end-to-end tests, with exact counts (netcat cannot say
 * how many datagrams arrived):
 *   udp-send ADDR PORT N PPS [SRC]        N sequence-numbered datagrams at PPS
 *   udp-sink ADDR PORT IDLE_MS MAX_S      prints "received=R distinct=D" when idle or at MAX_S
 *   tcp-server ADDR PORT                  echo server (one child per connection)
 *   tcp-connect ADDR PORT TIMEOUT_MS [SRC] exit 0 connected, 3 timeout, 4 EPERM, 5 refused
 *   tcp-hold ADDR PORT MAX_S              echo a counter every 20 ms; exit 3 ("cut") once an
 *                                         echo is 1 s late, 0 after MAX_S
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int make_addr(const char *ip, int port, struct sockaddr_storage *ss, socklen_t *len)
{
	struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, ip, &a4->sin_addr) == 1) {
		a4->sin_family = AF_INET;
		a4->sin_port = htons((uint16_t)port);
		*len = sizeof(*a4);
		return AF_INET;
	}
	if (inet_pton(AF_INET6, ip, &a6->sin6_addr) == 1) {
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons((uint16_t)port);
		*len = sizeof(*a6);
		return AF_INET6;
	}
	fprintf(stderr, "bad address %s\n", ip);
	exit(2);
}

static int sock_for(const char *ip, int port, int type, const char *src,
		    struct sockaddr_storage *ss, socklen_t *len)
{
	int fam = make_addr(ip, port, ss, len);
	int fd = socket(fam, type | SOCK_CLOEXEC, 0);

	if (fd < 0) {
		perror("socket");
		exit(2);
	}
	if (src) {
		struct sockaddr_storage sa;
		socklen_t sl;

		make_addr(src, 0, &sa, &sl);
		if (bind(fd, (struct sockaddr *)&sa, sl)) {
			perror("bind src");
			exit(2);
		}
	}
	return fd;
}

static double now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int udp_send(char **av, int ac)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd = sock_for(av[0], atoi(av[1]), SOCK_DGRAM, ac > 4 ? av[4] : NULL, &ss, &len);
	long n = atol(av[2]), pps = atol(av[3]), sent = 0;
	double t0 = now_s();

	for (long i = 0; i < n; i++) {
		uint32_t seq = htonl((uint32_t)i);
		double due = t0 + (double)i / (double)pps;

		while (now_s() < due)
			usleep(50);
		if (sendto(fd, &seq, sizeof(seq), 0, (struct sockaddr *)&ss, len) == sizeof(seq))
			sent++;
	}
	printf("sent=%ld\n", sent);
	return 0;
}

static int udp_sink(char **av)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd = sock_for(av[0], atoi(av[1]), SOCK_DGRAM, NULL, &ss, &len);
	int idle_ms = atoi(av[2]), buf = 8 << 20, one = 1;
	double end = now_s() + atof(av[3]);
	size_t cap = 1 << 20;
	unsigned char *seen = calloc(cap, 1);
	long received = 0, distinct = 0;

	setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &buf, sizeof(buf));
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, len)) {
		perror("bind");
		return 2;
	}
	printf("listening\n");
	fflush(stdout);
	while (now_s() < end) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		uint32_t seq;

		/* idle only counts once traffic has started */
		if (poll(&p, 1, received ? idle_ms : 100) == 0) {
			if (received)
				break;
			continue;
		}
		if (recv(fd, &seq, sizeof(seq), 0) != sizeof(seq))
			continue;
		received++;
		seq = ntohl(seq);
		if (seq < cap && !seen[seq]) {
			seen[seq] = 1;
			distinct++;
		}
	}
	printf("received=%ld distinct=%ld\n", received, distinct);
	return 0;
}

static void echo(int c)
{
	char b[4096];
	ssize_t n;

	while ((n = read(c, b, sizeof(b))) > 0)
		if (write(c, b, (size_t)n) != n)
			break;
	_exit(0);
}

static int tcp_server(char **av)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd = sock_for(av[0], atoi(av[1]), SOCK_STREAM, NULL, &ss, &len), one = 1;

	signal(SIGCHLD, SIG_IGN);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, len) || listen(fd, 64)) {
		perror("bind/listen");
		return 2;
	}
	for (;;) {
		int c = accept(fd, NULL, NULL);

		if (c < 0)
			continue;
		if (fork() == 0) {
			/* dies with the server, even if its connection was cut without a FIN */
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			close(fd);
			echo(c);
		}
		close(c);
	}
}

static int connect_timeout(int fd, struct sockaddr_storage *ss, socklen_t len, int ms)
{
	struct pollfd p = {.fd = fd, .events = POLLOUT};
	int e = 0;
	socklen_t el = sizeof(e);

	fcntl(fd, F_SETFL, O_NONBLOCK);
	if (connect(fd, (struct sockaddr *)ss, len) == 0)
		return 0;
	if (errno != EINPROGRESS)
		return errno;
	if (poll(&p, 1, ms) == 0)
		return ETIMEDOUT;
	getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &el);
	return e;
}

static int exit_of(int e)
{
	printf("%s\n", e == 0 ? "connected" : strerror(e));
	switch (e) {
	case 0:
		return 0;
	case ETIMEDOUT:
		return 3;
	case EPERM:
		return 4;
	case ECONNREFUSED:
		return 5;
	default:
		return 6;
	}
}

static int tcp_connect(char **av, int ac)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd = sock_for(av[0], atoi(av[1]), SOCK_STREAM, ac > 3 ? av[3] : NULL, &ss, &len);

	return exit_of(connect_timeout(fd, &ss, len, atoi(av[2])));
}

static int tcp_hold(char **av)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd = sock_for(av[0], atoi(av[1]), SOCK_STREAM, NULL, &ss, &len);
	double end = now_s() + atof(av[2]);
	int e = connect_timeout(fd, &ss, len, 2000);
	long n = 0;

	if (e)
		return exit_of(e);
	printf("connected\n");
	fflush(stdout);
	while (now_s() < end) {
		uint32_t seq = htonl((uint32_t)n), back;
		struct pollfd p = {.fd = fd, .events = POLLIN};
		size_t got = 0;

		if (send(fd, &seq, sizeof(seq), MSG_NOSIGNAL) < 0)
			break;
		while (got < sizeof(back)) {
			ssize_t r;

			if (poll(&p, 1, 1000) <= 0) {
				printf("cut after %ld echoes\n", n);
				return 3;
			}
			r = recv(fd, (char *)&back + got, sizeof(back) - got, 0);
			if (r <= 0) {
				printf("closed after %ld echoes\n", n);
				return 3;
			}
			got += (size_t)r;
		}
		n++;
		usleep(20000);
	}
	printf("held %ld echoes\n", n);
	return 0;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc >= 6 && !strcmp(argv[1], "udp-send"))
		return udp_send(argv + 2, argc - 2);
	if (argc == 6 && !strcmp(argv[1], "udp-sink"))
		return udp_sink(argv + 2);
	if (argc == 4 && !strcmp(argv[1], "tcp-server"))
		return tcp_server(argv + 2);
	if (argc >= 5 && !strcmp(argv[1], "tcp-connect"))
		return tcp_connect(argv + 2, argc - 2);
	if (argc == 5 && !strcmp(argv[1], "tcp-hold"))
		return tcp_hold(argv + 2);
	fprintf(stderr, "usage: see the top of e2e_net.c\n");
	return 2;
}
