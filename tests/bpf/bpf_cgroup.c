// SPDX-License-Identifier: Apache-2.0
/*
 * cgroup endpoints in a real cgroup v2: the socket hooks refuse denied destinations with
 * EPERM at connect()/sendto(), fail closed until the loader has written the cgroup's id into
 * iof_cg_ids, and the cgroup_skb hooks pass an allowed TCP connection both ways (the SYN-ACK
 * as a conntrack reply against an ingress default of deny). A child process joins the test
 * cgroup; the server listens outside it, on 10.9.0.1 (loopback of the test's namespace).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "harness.h"
#include "policy/parse.h"

static const char *policy =
    "defaults: {ingress: deny, egress: deny}\n"
    "securityGroups:\n"
    "  - name: client\n"
    "    rules:\n"
    "      - {direction: egress, protocol: tcp, ports: [8081], cidr: 10.9.0.0/24}\n"
    "endpoints:\n"
    "  - {name: c-1, node: node-a, cgroup: /iofence-test, addresses: [10.0.0.5],"
    " groups: [client]}\n";

#define CG_ID 7

static int cgroup2_root(char *buf, size_t len)
{
	FILE *f = fopen("/proc/self/mountinfo", "r");
	char line[1024];
	int found = -1;

	while (f && fgets(line, sizeof(line), f)) {
		char *sep = strstr(line, " - cgroup2 "), mnt[512];

		if (sep && sscanf(line, "%*s %*s %*s %*s %511s", mnt) == 1) {
			snprintf(buf, len, "%s", mnt);
			found = 0;
			break;
		}
	}
	if (f)
		fclose(f);
	return found;
}

static int listener(uint16_t port)
{
	struct sockaddr_in a = {
	    .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(0x0a090001)};
	int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;

	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) || listen(fd, 8))
		return -1;
	return fd;
}

/* In the child: 0 if connect() succeeds, else errno. */
static int try_connect(uint16_t port)
{
	struct sockaddr_in a = {
	    .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(0x0a090001)};
	int fd = socket(AF_INET, SOCK_STREAM, 0), r;

	r = connect(fd, (struct sockaddr *)&a, sizeof(a)) ? errno : 0;
	close(fd);
	return r;
}

/* Through a dual-stack IPv6 socket to ::ffff:10.9.0.1. */
static int try_connect_mapped(uint16_t port)
{
	struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_port = htons(port)};
	int fd = socket(AF_INET6, SOCK_STREAM, 0), r;

	inet_pton(AF_INET6, "::ffff:10.9.0.1", &a.sin6_addr);
	r = connect(fd, (struct sockaddr *)&a, sizeof(a)) ? errno : 0;
	close(fd);
	return r;
}

static int try_sendto(uint16_t port)
{
	struct sockaddr_in a = {
	    .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(0x0a090001)};
	int fd = socket(AF_INET, SOCK_DGRAM, 0), r;

	r = sendto(fd, "x", 1, 0, (struct sockaddr *)&a, sizeof(a)) < 0 ? errno : 0;
	close(fd);
	return r;
}

/* Runs fn(port) in a child inside the cgroup; returns its result (an errno or 0). */
static int in_cgroup(const char *cg, int (*fn)(uint16_t), uint16_t port)
{
	pid_t pid = fork();
	int status;

	if (pid == 0) {
		char procs[600], buf[32];
		int fd;

		snprintf(procs, sizeof(procs), "%s/cgroup.procs", cg);
		fd = open(procs, O_WRONLY);
		snprintf(buf, sizeof(buf), "%d", getpid());
		if (fd < 0 || write(fd, buf, strlen(buf)) < 0)
			_exit(255);
		_exit(fn(port));
	}
	if (pid < 0 || waitpid(pid, &status, 0) < 0 || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

int main(void)
{
	struct harness h;
	struct policy_document *doc = NULL;
	struct policy_image *img = NULL;
	struct policy_errors errs = {0};
	struct bpf_link *links[6] = {0};
	char root[512], cg[600], msg[200];
	uint32_t attach = IOF_EP_CGROUP_BIT | CG_ID, id = CG_ID;
	struct stat st;
	int cg_fd = -1, srv, n = 0;
	bool ok = true;

	harness_open(&h);
	if (system("ip addr add 10.9.0.1/32 dev lo")) {
		printf("SKIP: cannot add an address to lo\n");
		return SKIP_CODE;
	}
	if (cgroup2_root(root, sizeof(root))) {
		printf("SKIP: no cgroup2 mount\n");
		return SKIP_CODE;
	}
	snprintf(cg, sizeof(cg), "%s/iofence-bpf-test-%d", root, getpid());
	if (mkdir(cg, 0755) || (cg_fd = open(cg, O_RDONLY | O_DIRECTORY)) < 0 || stat(cg, &st)) {
		printf("SKIP: cannot create a cgroup under %s\n", root);
		return SKIP_CODE;
	}
	msg[0] = 0;
	if (policy_parse_buffer(policy, strlen(policy), "cg.yaml", &doc, &errs)) {
		policy_errors_print(&errs, stderr);
		ok = false;
		goto out;
	}
	if (policy_compile(doc, "node-a", &img, msg, sizeof(msg)) ||
	    dp_image_write(&h.fds, img, 1, &attach, NULL, msg, sizeof(msg)) ||
	    dp_slot_activate(h.fds.state, 1, 1)) {
		fprintf(stderr, "policy: %s\n", msg);
		ok = false;
		goto out;
	}
	struct bpf_program *progs[] = {h.skel->progs.iof_cg_connect4, h.skel->progs.iof_cg_sendmsg4,
				       h.skel->progs.iof_cg_connect6,
				       h.skel->progs.iof_cg_skb_ingress,
				       h.skel->progs.iof_cg_skb_egress};

	for (n = 0; n < 5; n++) {
		links[n] = bpf_program__attach_cgroup(progs[n], cg_fd);
		if (!links[n]) {
			fprintf(stderr, "attach %s: %s\n", bpf_program__name(progs[n]),
				strerror(errno));
			ok = false;
			goto out;
		}
	}
	srv = listener(8081);
	ok &= ASSERT_TRUE(srv >= 0, "listen on 10.9.0.1:8081");
	ok &= ASSERT_EQ(in_cgroup(cg, try_connect, 8081), EPERM,
			"fail closed before the loader writes the cgroup id");
	/* key: the cgroup id (its inode on cgroup2), shared by every attach type */
	uint64_t cgid = st.st_ino;

	ok &= ASSERT_EQ(
	    bpf_map_update_elem(bpf_map__fd(h.skel->maps.iof_cg_ids), &cgid, &id, BPF_ANY), 0,
	    "write the cgroup id");
	ok &= ASSERT_EQ(in_cgroup(cg, try_connect, 8081), 0,
			"allowed connect; SYN-ACK passes cgroup_skb ingress as a reply");
	ok &= ASSERT_EQ(in_cgroup(cg, try_connect, 8082), EPERM, "denied port: EPERM at connect");
	ok &= ASSERT_EQ(in_cgroup(cg, try_sendto, 9999), EPERM, "denied UDP: EPERM at sendto");
	ok &= ASSERT_EQ(in_cgroup(cg, try_connect_mapped, 8081), 0,
			"v4-mapped IPv6 connect judged as IPv4: allowed");
	ok &= ASSERT_EQ(in_cgroup(cg, try_connect_mapped, 8082), EPERM,
			"v4-mapped IPv6 connect judged as IPv4: denied port");
	ok &= ASSERT_EQ(try_connect(8082), ECONNREFUSED, "outside the cgroup: not enforced");
	ok &= ASSERT_TRUE(harness_ct_count(&h) >= 1, "the allowed connection is tracked");
	close(srv);
out:
	for (int i = 0; i < n; i++)
		bpf_link__destroy(links[i]);
	if (cg_fd >= 0)
		close(cg_fd);
	rmdir(cg);
	policy_errors_free(&errs);
	policy_image_free(img);
	policy_document_free(doc);
	printf("bpf_cgroup: %s\n", ok ? "ok" : "FAILED");
	harness_close(&h);
	return ok ? 0 : 1;
}
