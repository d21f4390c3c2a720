// SPDX-License-Identifier: Apache-2.0
/*
 * Whether an interface is administratively up: one that is may have carried traffic no hook
 * judged, so its flows start provisional (the settle window, attach.c and early.c).
 */
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "dp_internal.h"

bool dp_interface_up(const char *ifname)
{
	struct ifreq ifr;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	bool up;

	if (fd < 0)
		return true; /* unknown: assume the worst */
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	up = ioctl(fd, SIOCGIFFLAGS, &ifr) || (ifr.ifr_flags & IFF_UP);
	close(fd);
	return up;
}
