// SPDX-License-Identifier: Apache-2.0
/*
 * bench_apply's probe (probe.h). BPF_PROG_TEST_RUN resolves the context's ifindex in the
 * caller's network namespace, so the test runs come from a thread that joined the agent's.
 */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/pkt_cls.h>
#include <linux/tcp.h>

#include <bpf/bpf.h>

#include "probe.h"
#include "tests/lib/bench_util.h"

struct probe {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int ns_fd, prog_fd, ifindex;
	char ifname[IF_NAMESIZE];
	bool started, stop, armed, first_done, first_dropped;
	uint16_t port, sport;
	double passed_at;
	int err;
};

/* Ethernet + IPv4 + TCP SYN from 10.0.0.5:sport to 10.255.0.1:port. */
static size_t build_syn(uint8_t *buf, uint16_t port, uint16_t sport)
{
	struct ethhdr *eth = (struct ethhdr *)buf;
	struct iphdr *ip = (struct iphdr *)(eth + 1);
	struct tcphdr *tcp = (struct tcphdr *)(ip + 1);

	memset(buf, 0, sizeof(*eth) + sizeof(*ip) + sizeof(*tcp));
	eth->h_proto = htons(ETH_P_IP);
	ip->version = 4;
	ip->ihl = 5;
	ip->ttl = 64;
	ip->protocol = IPPROTO_TCP;
	ip->tot_len = htons(sizeof(*ip) + sizeof(*tcp));
	ip->saddr = htonl(0x0a000005);
	ip->daddr = htonl(0x0aff0001);
	tcp->source = htons(sport);
	tcp->dest = htons(port);
	tcp->doff = 5;
	tcp->syn = 1;
	tcp->window = htons(64240);
	return sizeof(*eth) + sizeof(*ip) + sizeof(*tcp);
}

/* 1 if the program drops the probe, 0 if it passes it, -errno if the test run fails. */
static int dropped(struct probe *p, uint16_t port, uint16_t sport)
{
	uint8_t pkt[128];
	size_t len = build_syn(pkt, port, sport);
	struct __sk_buff ctx = {.ifindex = (uint32_t)p->ifindex};
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = pkt, .data_size_in = (uint32_t)len,
		    .ctx_in = &ctx, .ctx_size_in = sizeof(ctx), .repeat = 1);

	if (bpf_prog_test_run_opts(p->prog_fd, &opts))
		return -errno;
	return opts.retval == TC_ACT_SHOT;
}

static void *probe_main(void *arg)
{
	struct probe *p = arg;
	int r = setns(p->ns_fd, CLONE_NEWNET) ? -errno : 0;

	if (!r) {
		p->ifindex = (int)if_nametoindex(p->ifname);
		r = p->ifindex ? 0 : -ENODEV;
	}
	pthread_mutex_lock(&p->lock);
	p->started = true;
	p->err = r;
	pthread_cond_broadcast(&p->cond);
	while (!r && !p->stop) {
		if (!p->armed) {
			pthread_cond_wait(&p->cond, &p->lock);
			continue;
		}
		uint16_t port = p->port, sport = p->sport;

		pthread_mutex_unlock(&p->lock);
		int d = dropped(p, port, sport);
		double t = bench_now_s();

		pthread_mutex_lock(&p->lock);
		if (d < 0) {
			p->err = d;
			p->armed = false;
		} else if (!p->first_done) {
			p->first_done = true;
			p->first_dropped = d;
			p->armed = d;
		} else if (!d && p->armed) {
			p->passed_at = t;
			p->armed = false;
		}
		pthread_cond_broadcast(&p->cond);
		if (p->armed) {
			struct timespec wait = {0, PROBE_PERIOD_US * 1000L};

			pthread_mutex_unlock(&p->lock);
			nanosleep(&wait, NULL);
			pthread_mutex_lock(&p->lock);
		}
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

static int prog_of_link(const char *path, char *err, size_t err_len)
{
	struct bpf_link_info info;
	__u32 len = sizeof(info);
	int link = bpf_obj_get(path), prog;

	memset(&info, 0, sizeof(info));
	if (link < 0 || bpf_obj_get_info_by_fd(link, &info, &len)) {
		snprintf(err, err_len, "%s: %s", path, strerror(errno));
		if (link >= 0)
			close(link);
		return -1;
	}
	close(link);
	prog = bpf_prog_get_fd_by_id(info.prog_id);
	if (prog < 0)
		snprintf(err, err_len, "program %u of %s: %s", info.prog_id, path, strerror(errno));
	return prog;
}

int probe_open(const char *netns_path, const char *pin_dir, const char *ifname, struct probe **ret,
	       char *err, size_t err_len)
{
	struct probe *p = calloc(1, sizeof(*p));
	char path[512];
	int r;

	if (!p)
		return -ENOMEM;
	snprintf(path, sizeof(path), "%s/links/tc/%s/egress", pin_dir, ifname);
	snprintf(p->ifname, sizeof(p->ifname), "%s", ifname);
	p->prog_fd = prog_of_link(path, err, err_len);
	p->ns_fd = open(netns_path, O_RDONLY | O_CLOEXEC);
	if (p->prog_fd < 0 || p->ns_fd < 0) {
		r = -errno;
		if (p->ns_fd < 0)
			snprintf(err, err_len, "%s: %s", netns_path, strerror(errno));
		goto fail;
	}
	pthread_mutex_init(&p->lock, NULL);
	{
		pthread_condattr_t ca; /* probe_wait's deadline is on the monotonic clock */

		pthread_condattr_init(&ca);
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		pthread_cond_init(&p->cond, &ca);
		pthread_condattr_destroy(&ca);
	}
	r = -pthread_create(&p->thread, NULL, probe_main, p);
	if (r) {
		snprintf(err, err_len, "probe thread: %s", strerror(-r));
		goto fail;
	}
	pthread_mutex_lock(&p->lock);
	while (!p->started)
		pthread_cond_wait(&p->cond, &p->lock);
	r = p->err;
	pthread_mutex_unlock(&p->lock);
	if (r) {
		snprintf(err, err_len, "joining %s, finding %s: %s", netns_path, ifname,
			 strerror(-r));
		probe_close(p);
		return r;
	}
	*ret = p;
	return 0;
fail:
	if (p->prog_fd >= 0)
		close(p->prog_fd);
	if (p->ns_fd >= 0)
		close(p->ns_fd);
	free(p);
	return r ? r : -EIO;
}

bool probe_arm(struct probe *p, uint16_t port, uint16_t sport)
{
	bool ok;

	pthread_mutex_lock(&p->lock);
	p->port = port;
	p->sport = sport;
	p->passed_at = 0;
	p->first_done = false;
	p->armed = true;
	pthread_cond_broadcast(&p->cond);
	while (!p->first_done && p->armed)
		pthread_cond_wait(&p->cond, &p->lock);
	ok = p->first_done && p->first_dropped;
	pthread_mutex_unlock(&p->lock);
	return ok;
}

double probe_wait(struct probe *p, double timeout_s)
{
	struct timespec deadline;
	double at;

	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += (time_t)timeout_s;
	deadline.tv_nsec += (long)((timeout_s - (double)(time_t)timeout_s) * 1e9);
	deadline.tv_sec += deadline.tv_nsec / 1000000000L;
	deadline.tv_nsec %= 1000000000L;
	pthread_mutex_lock(&p->lock);
	while (p->armed && pthread_cond_timedwait(&p->cond, &p->lock, &deadline) != ETIMEDOUT)
		; /* the probe thread signals after every test run */
	p->armed = false;
	at = p->passed_at;
	pthread_mutex_unlock(&p->lock);
	return at;
}

void probe_close(struct probe *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	p->stop = true;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
	pthread_join(p->thread, NULL);
	close(p->prog_fd);
	close(p->ns_fd);
	free(p);
}
