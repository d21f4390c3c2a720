// SPDX-License-Identifier: Apache-2.0
/*
 * bench/peers: the echo server of the connection-rate test. One thread, epoll, non-blocking
 * accept; every byte read is written back; a connection is closed when the client closes it.
 *   peers_echo --port 7000 [--addr 0.0.0.0]
 * Runs until killed (run.sh starts it in the server namespace and kills it by PID).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(7000)};
	struct epoll_event evs[256];
	int one = 1, lfd, ep;

	for (int i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--port")) {
			sa.sin_port = htons((uint16_t)atoi(argv[i + 1]));
		} else if (!strcmp(argv[i], "--addr")) {
			if (inet_pton(AF_INET, argv[i + 1], &sa.sin_addr) != 1)
				goto usage;
		} else {
			goto usage;
		}
	}
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	ep = epoll_create1(0);
	if (lfd < 0 || ep < 0 || setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) || listen(lfd, 4096)) {
		perror("peers_echo: listen");
		return 1;
	}
	epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &(struct epoll_event){.events = EPOLLIN, .data.fd = lfd});
	for (;;) {
		int n = epoll_wait(ep, evs, 256, -1);

		if (n < 0 && errno != EINTR) {
			perror("peers_echo: epoll_wait");
			return 1;
		}
		for (int i = 0; i < n; i++) {
			int fd = evs[i].data.fd;
			char buf[512];

			if (fd == lfd) {
				int c;

				while ((c = accept4(lfd, NULL, NULL, SOCK_NONBLOCK)) >= 0)
					epoll_ctl(ep, EPOLL_CTL_ADD, c,
						  &(struct epoll_event){.events = EPOLLIN, .data.fd = c});
				continue;
			}
			ssize_t r = read(fd, buf, sizeof(buf));

			if (r > 0 && write(fd, buf, (size_t)r) == r)
				continue;
			if (r < 0 && errno == EAGAIN)
				continue;
			close(fd); /* EOF, error, or short write: the client is gone */
		}
	}
usage:
	fprintf(stderr, "usage: %s [--port 7000] [--addr 0.0.0.0]\n", argv[0]);
	return 2;
}
