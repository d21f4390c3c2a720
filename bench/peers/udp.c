// SPDX-License-Identifier: Apache-2.0
/*
 * bench/peers: small-packet UDP rate with new 5-tuples, and the prefilter's flood.
 *   peers_udp send --dst IP --port P (--src IP --src-count N | --src-file F) [--duration 2]
 *                  [--batch 16] [--tuple-every 16] [--size 64]
 *     A raw IPv4 socket (the headers are ours) and sendmmsg(): every --tuple-every packets
 *     get a new 5-tuple (the source port counts up, the source address rotates), so each
 *     batch opens new flows in every stateful filter. Prints "sent=N pps=R".
 *   peers_udp recv --port P [--idle 0.5] [--max 30]
 *     Counts datagrams until --idle seconds pass without one (or --max seconds). Prints
 *     "pps=R received=N seconds=S" with the rate between the first and the last datagram.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/ip.h>
#include <netinet/udp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH_MAX 64
#define FRAME_OVERHEAD 14 /* Ethernet header: --size is the frame size without FCS */

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static size_t read_sources(const char *path, uint32_t **ret)
{
	FILE *f = fopen(path, "r");
	size_t n = 0, cap = 1024;
	uint32_t *v = malloc(cap * sizeof(*v));
	char line[64];

	if (!f || !v) {
		perror(path);
		exit(1);
	}
	while (fgets(line, sizeof(line), f)) {
		struct in_addr a;

		line[strcspn(line, "/\n")] = 0;
		if (inet_pton(AF_INET, line, &a) != 1)
			continue;
		if (n == cap && !(v = realloc(v, (cap *= 2) * sizeof(*v)))) {
			perror("realloc");
			exit(1);
		}
		v[n++] = ntohl(a.s_addr);
	}
	fclose(f);
	*ret = v;
	return n;
}

static int do_send(int argc, char **argv)
{
	struct sockaddr_in dst = {.sin_family = AF_INET};
	unsigned batch = 16, tuple_every = 16, size = 64, port = 7001;
	uint32_t *srcs = NULL, src = 0;
	size_t n_srcs = 1;
	double duration = 2;
	const char *src_file = NULL;

	for (int i = 2; i + 1 < argc; i += 2) {
		const char *k = argv[i], *v = argv[i + 1];
		struct in_addr a;

		if (!strcmp(k, "--dst") && inet_pton(AF_INET, v, &dst.sin_addr) == 1)
			continue;
		if (!strcmp(k, "--src") && inet_pton(AF_INET, v, &a) == 1)
			src = ntohl(a.s_addr);
		else if (!strcmp(k, "--src-count"))
			n_srcs = strtoul(v, NULL, 10);
		else if (!strcmp(k, "--src-file"))
			src_file = v;
		else if (!strcmp(k, "--port"))
			port = (unsigned)atoi(v);
		else if (!strcmp(k, "--duration"))
			duration = atof(v);
		else if (!strcmp(k, "--batch"))
			batch = (unsigned)atoi(v);
		else if (!strcmp(k, "--tuple-every"))
			tuple_every = (unsigned)atoi(v);
		else if (!strcmp(k, "--size"))
			size = (unsigned)atoi(v);
		else
			return -1;
	}
	if (src_file) {
		n_srcs = read_sources(src_file, &srcs);
	} else {
		srcs = calloc(n_srcs ? n_srcs : 1, sizeof(*srcs));
		for (size_t i = 0; srcs && i < n_srcs; i++)
			srcs[i] = src + (uint32_t)i;
	}
	if (!dst.sin_addr.s_addr || !srcs || !n_srcs || !srcs[0] || !batch || batch > BATCH_MAX ||
	    !tuple_every || size < FRAME_OVERHEAD + 28 || size > 1500 || duration <= 0)
		return -1;

	int fd = socket(AF_INET, SOCK_RAW, IPPROTO_RAW); /* implies IP_HDRINCL */
	size_t len = size - FRAME_OVERHEAD;
	static char pkts[BATCH_MAX][1500];
	struct iovec iov[BATCH_MAX];
	struct mmsghdr msgs[BATCH_MAX];
	unsigned long sent = 0, seq = 0;

	if (fd < 0) {
		perror("socket(SOCK_RAW)");
		return 1;
	}
	memset(msgs, 0, sizeof(msgs));
	for (unsigned i = 0; i < batch; i++) {
		struct iphdr *ip = (struct iphdr *)pkts[i];
		struct udphdr *udp = (struct udphdr *)(ip + 1);

		ip->version = 4;
		ip->ihl = 5;
		ip->ttl = 64;
		ip->protocol = IPPROTO_UDP;
		ip->tot_len = htons((uint16_t)len);
		ip->daddr = dst.sin_addr.s_addr;
		udp->dest = htons((uint16_t)port);
		udp->len = htons((uint16_t)(len - sizeof(*ip)));
		iov[i] = (struct iovec){pkts[i], len};
		msgs[i].msg_hdr = (struct msghdr){.msg_name = &dst, .msg_namelen = sizeof(dst),
						  .msg_iov = &iov[i], .msg_iovlen = 1};
	}
	double start = now_s(), end = start + duration;

	while (now_s() < end) {
		for (int round = 0; round < 64; round++) {
			for (unsigned i = 0; i < batch; i++, seq++) {
				struct iphdr *ip = (struct iphdr *)pkts[i];
				struct udphdr *udp = (struct udphdr *)(ip + 1);
				unsigned long tuple = seq / tuple_every;

				ip->saddr = htonl(srcs[tuple % n_srcs]);
				udp->source = htons((uint16_t)(1024 + (tuple / n_srcs) % 64000));
			}
			int r = sendmmsg(fd, msgs, batch, 0);

			if (r < 0 && errno != ENOBUFS && errno != EAGAIN) {
				perror("sendmmsg");
				return 1;
			}
			sent += r > 0 ? (unsigned long)r : 0;
		}
	}
	double secs = now_s() - start;

	printf("sent=%lu pps=%.0f seconds=%.3f\n", sent, sent / secs, secs);
	return 0;
}

static int do_recv(int argc, char **argv)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(7001)};
	double idle = 0.5, max = 30, first = 0, last = 0, start;
	int buf = 64 << 20, fd;
	unsigned long received = 0;
	static char data[BATCH_MAX][2048];
	struct iovec iov[BATCH_MAX];
	struct mmsghdr msgs[BATCH_MAX];

	for (int i = 2; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--port"))
			sa.sin_port = htons((uint16_t)atoi(argv[i + 1]));
		else if (!strcmp(argv[i], "--idle"))
			idle = atof(argv[i + 1]);
		else if (!strcmp(argv[i], "--max"))
			max = atof(argv[i + 1]);
		else
			return -1;
	}
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		perror("peers_udp recv: bind");
		return 1;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &buf, sizeof(buf));
	memset(msgs, 0, sizeof(msgs));
	for (int i = 0; i < BATCH_MAX; i++) {
		iov[i] = (struct iovec){data[i], sizeof(data[i])};
		msgs[i].msg_hdr = (struct msghdr){.msg_iov = &iov[i], .msg_iovlen = 1};
	}
	printf("ready\n");
	fflush(stdout);
	start = now_s();
	for (;;) {
		double t = now_s();
		struct pollfd p = {.fd = fd, .events = POLLIN};

		if (t - start > max || (received && t - last > idle))
			break;
		if (poll(&p, 1, 50) <= 0)
			continue;
		int r = recvmmsg(fd, msgs, BATCH_MAX, MSG_DONTWAIT, NULL);

		if (r <= 0)
			continue;
		t = now_s();
		if (!received)
			first = t;
		last = t;
		received += (unsigned long)r;
	}
	double secs = last - first;

	printf("pps=%.0f received=%lu seconds=%.3f\n", secs > 0 ? received / secs : 0.0, received,
	       secs);
	return 0;
}

int main(int argc, char **argv)
{
	int r = -1;

	if (argc > 1 && !strcmp(argv[1], "send"))
		r = do_send(argc, argv);
	else if (argc > 1 && !strcmp(argv[1], "recv"))
		r = do_recv(argc, argv);
	if (r >= 0)
		return r;
	fprintf(stderr, "usage: %s send --dst IP --port P (--src IP [--src-count N] | --src-file F)"
			" [--duration 2] [--batch 16] [--tuple-every 16] [--size 64]\n"
			"       %s recv --port P [--idle 0.5] [--max 30]\n", argv[0], argv[0]);
	return 2;
}
