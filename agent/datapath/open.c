// SPDX-License-Identifier: Apache-2.0
/*
 * Opening the datapath: load the BPF object with every map pinned by name under
 * <pin>/maps (pinned maps are reused, so a restart keeps policy, conntrack and the active
 * slot), adopt the pinned links, and replace the programs of a different build in every link
 * at once (bpf_link_update: no packet unjudged). Also close (leave everything enforcing) and
 * cleanup (detach everything, remove the pins).
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "dp_internal.h"

#include "iofence.skel.h"

const char *const dp_prog_names[DP_PROG_MAX] = {
    "iof_tc_from_ep",  "iof_tc_to_ep",	     "iof_xdp_prefilter",
    "iof_cg_connect4", "iof_cg_connect6",    "iof_cg_sendmsg4",
    "iof_cg_sendmsg6", "iof_cg_skb_ingress", "iof_cg_skb_egress",
};

/* The whole of a file, in a buffer the caller frees. */
static int read_file(const char *path, void **ret, size_t *ret_len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	long n = 0;
	int r = 0;

	if (!f)
		return -errno;
	if (fseek(f, 0, SEEK_END) || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET))
		r = -errno;
	else if (!(buf = malloc((size_t)n + 1)))
		r = -ENOMEM;
	else if (fread(buf, 1, (size_t)n, f) != (size_t)n)
		r = -EIO;
	fclose(f);
	if (r) {
		free(buf);
		return r;
	}
	*ret = buf;
	*ret_len = (size_t)n;
	return 0;
}

/*
 * The skeleton, opened from the object embedded in the build or, when a path is given (option
 * or IOFENCE_BPF_OBJECT), from that file: it must hold the same maps and programs, which the
 * skeleton names (map fds come from it, dp_map_fds_from_skel).
 */
static struct iofence *open_skel(struct datapath *dp, const char *path, char *err, size_t len)
{
	DECLARE_LIBBPF_OPTS(bpf_object_open_opts, o, .object_name = "iofence");
	const char *env = getenv("IOFENCE_BPF_OBJECT");
	struct iofence *skel = calloc(1, sizeof(*skel));
	int r = skel ? iofence__create_skeleton(skel) : -ENOMEM;

	if (!path && env && *env)
		path = env;
	if (!r && path) {
		r = read_file(path, &dp->obj_bytes, &skel->skeleton->data_sz);
		if (r) {
			dp_err(err, len, r, "read BPF object %s: %s", path, strerror(-r));
			goto fail;
		}
		skel->skeleton->data = dp->obj_bytes;
	}
	if (!r)
		r = bpf_object__open_skeleton(skel->skeleton, &o);
	if (!r)
		return skel;
	dp_err(err, len, r, "open BPF object %s: %s", path ? path : "(embedded)", strerror(-r));
fail:
	if (skel)
		iofence__destroy(skel);
	errno = -r;
	return NULL;
}

static int prog_tag(int fd, unsigned char tag[BPF_TAG_SIZE])
{
	struct bpf_prog_info info;
	__u32 len = sizeof(info);

	memset(&info, 0, sizeof(info));
	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return -errno;
	memcpy(tag, info.tag, BPF_TAG_SIZE);
	return 0;
}

static int load_object(struct datapath *dp, const struct dp_options *opts, char *err, size_t len)
{
	struct bpf_map *m;
	char path[PATH_MAX];
	int r;

	dp->skel = open_skel(dp, opts->bpf_object, err, len);
	if (!dp->skel)
		return -errno ?: -EINVAL;
	dp->obj = dp->skel->obj;
	bpf_object__for_each_map(m, dp->obj)
	{
		if (bpf_map__is_internal(m))
			continue;
		snprintf(path, sizeof(path), "%s/maps/%s", dp->pin_dir, bpf_map__name(m));
		r = bpf_map__set_pin_path(m, path);
		if (r)
			return dp_err(err, len, r, "%s: set pin path: %s", bpf_map__name(m),
				      strerror(-r));
	}
	r = iofence__load(dp->skel);
	if (r)
		return dp_err(err, len, r,
			      "load BPF object: %s (a pinned map of an incompatible layout needs "
			      "a cleanup of %s)",
			      strerror(-r), dp->pin_dir);
	dp_map_fds_from_skel(dp->skel, &dp->fds);
	dp->cg_ids_fd = dp->fds.cg_ids;
	r = dp_ledger_open(&dp->ledger, dp->fds.rule_owner, dp->fds.ep_owner, dp->fds.count_base,
			   dp->fds.rule_counters, dp->fds.ep_counters);
	dp->ledger_open = true;
	if (r)
		return dp_err(err, len, r, "read counter identities: %s", strerror(-r));
	return 0;
}

/*
 * Chooses the programs hooks run: the pinned ones when the build is the same (tags equal),
 * otherwise the new ones, moved into every adopted link before their pins are replaced.
 */
static int settle_programs(struct datapath *dp, bool force_upgrade, char *err, size_t len)
{
	int old_fd[DP_PROG_MAX], new_fd[DP_PROG_MAX];
	bool upgrade = force_upgrade;
	char path[PATH_MAX];
	int r = 0;

	for (int i = 0; i < DP_PROG_MAX; i++) {
		struct bpf_program *p = bpf_object__find_program_by_name(dp->obj, dp_prog_names[i]);
		unsigned char t_old[BPF_TAG_SIZE], t_new[BPF_TAG_SIZE];

		new_fd[i] = p ? bpf_program__fd(p) : -1;
		snprintf(path, sizeof(path), "%s/progs/%s", dp->pin_dir, dp_prog_names[i]);
		old_fd[i] = bpf_obj_get(path);
		if (old_fd[i] < 0) {
			old_fd[i] = -1;
			continue;
		}
		if (new_fd[i] < 0 || prog_tag(old_fd[i], t_old) || prog_tag(new_fd[i], t_new) ||
		    memcmp(t_old, t_new, BPF_TAG_SIZE))
			upgrade = true;
	}
	for (int i = 0; i < DP_PROG_MAX; i++)
		dp->prog_fd[i] = (!upgrade && old_fd[i] >= 0) ? old_fd[i] : new_fd[i];
	if (upgrade)
		r = dp_upgrade_links(dp, old_fd, err, len);
	for (int i = 0; i < DP_PROG_MAX; i++) {
		bool repin = !r && new_fd[i] >= 0 && (upgrade || old_fd[i] < 0);

		snprintf(path, sizeof(path), "%s/progs/%s", dp->pin_dir, dp_prog_names[i]);
		if (repin) {
			unlink(path);
			if (bpf_obj_pin(new_fd[i], path) && !r)
				r = dp_err(err, len, -errno, "pin %s: %s", path, strerror(errno));
		}
		if (old_fd[i] >= 0 && dp->prog_fd[i] != old_fd[i])
			close(old_fd[i]);
	}
	return r;
}

/* The IOF_CFG_FAILSAFE_* bits of a failsafe table. */
static __u32 failsafe_bits(const struct iof_failsafe *fs, size_t n)
{
	__u32 bits = 0;

	for (size_t i = 0; i < n; i++)
		bits |= iof_failsafe_bit(fs[i].family, fs[i].proto);
	return bits;
}

static int write_config(int fd, const struct iof_config *cfg, char *err, size_t len)
{
	__u32 key = 0;

	if (fd >= 0 && bpf_map_update_elem(fd, &key, cfg, BPF_ANY))
		return dp_err(err, len, -errno, "iof_config: %s", strerror(errno));
	return 0;
}

/*
 * Timeouts and flags into iof_config, the failsafe set into iof_failsafe. While the table is
 * rewritten the config's failsafe bits cover both the old and the new entries, so the XDP
 * prefilter never skips the ports of a packet that either could let through.
 */
static int write_settings(struct datapath *dp, const struct dp_options *opts, char *err, size_t len)
{
	struct iof_config cfg = opts->config, old;
	__u32 key = 0, bits, old_bits = 0;
	int fd = dp->fds.failsafe, r;

	/* unset timeouts take the one set of defaults, the BPF side's (IOF_CT_DEFAULT_*) */
	if (!cfg.ct_timeout_tcp_ns)
		cfg.ct_timeout_tcp_ns = IOF_CT_DEFAULT_TCP_NS;
	if (!cfg.ct_timeout_tcp_syn_ns)
		cfg.ct_timeout_tcp_syn_ns = IOF_CT_DEFAULT_TCP_SYN_NS;
	if (!cfg.ct_timeout_tcp_closing_ns)
		cfg.ct_timeout_tcp_closing_ns = IOF_CT_DEFAULT_TCP_CLOSING_NS;
	if (!cfg.ct_timeout_udp_ns)
		cfg.ct_timeout_udp_ns = IOF_CT_DEFAULT_UDP_NS;
	if (!cfg.ct_timeout_other_ns)
		cfg.ct_timeout_other_ns = IOF_CT_DEFAULT_OTHER_NS;
	if (opts->n_failsafe > IOF_FAILSAFE_MAX)
		return dp_err(err, len, -E2BIG,
			      "iof_failsafe: %zu entries exceed the capacity of %d",
			      opts->n_failsafe, IOF_FAILSAFE_MAX);
	bits = failsafe_bits(opts->failsafe, opts->n_failsafe);
	if (dp->fds.config >= 0 && !bpf_map_lookup_elem(dp->fds.config, &key, &old))
		old_bits = old.flags & IOF_CFG_FAILSAFE_ALL;
	cfg.flags = (cfg.flags & ~(__u32)IOF_CFG_FAILSAFE_ALL) | bits | old_bits;
	r = write_config(dp->fds.config, &cfg, err, len);
	for (key = 0; !r && fd >= 0 && key < IOF_FAILSAFE_MAX; key++) {
		struct iof_failsafe fs = {0};

		if (key < opts->n_failsafe) {
			fs = opts->failsafe[key];
			fs.used = 1;
		}
		if (bpf_map_update_elem(fd, &key, &fs, BPF_ANY))
			r = dp_err(err, len, -errno, "iof_failsafe: %s", strerror(errno));
		dp->failsafe_written[key] = fs;
	}
	if (!r && (old_bits & ~bits)) {
		cfg.flags &= ~old_bits | bits;
		r = write_config(dp->fds.config, &cfg, err, len);
	}
	dp->config_written = cfg;
	dp->settings_written = !r && dp->fds.config >= 0 && fd >= 0;
	return r;
}

static void read_revision(struct datapath *dp)
{
	struct iof_state st;
	__u32 key = 0;

	if (bpf_map_lookup_elem(dp->fds.state, &key, &st) == 0)
		dp->revision = st.revision[st.active_slot & 1];
}

static bool env_flag(const char *name)
{
	const char *e = getenv(name);

	return e && *e && strcmp(e, "0");
}

int dp_open(const struct dp_options *opts, struct datapath **ret, char *err, size_t err_len)
{
	struct datapath *dp = calloc(1, sizeof(*dp));
	char path[PATH_MAX];
	struct stat st;
	int r;

	*ret = NULL;
	if (!dp)
		return dp_err(err, err_len, -ENOMEM, "out of memory");
	for (int i = 0; i < DP_PROG_MAX; i++)
		dp->prog_fd[i] = -1;
	pthread_mutex_init(&dp->fill_lock, NULL);
	{
		/*
		 * Priority inheritance: the link watcher may run at SCHED_FIFO; an apply holding
		 * the lock runs at its priority until it lets go, so other processes' load cannot
		 * stretch the watcher's wait (priority inversion).
		 */
		pthread_mutexattr_t ma;

		pthread_mutexattr_init(&ma);
		pthread_mutexattr_setprotocol(&ma, PTHREAD_PRIO_INHERIT);
		pthread_mutex_init(&dp->lock, &ma);
		pthread_mutexattr_destroy(&ma);
	}
	pthread_mutex_init(&dp->write_lock, NULL);
	dp_delta_init(&dp->delta);
	dp_retire_start(&dp->retire);
	dp->retire_open = true;
	dp->slot_verified = true; /* nothing known to differ yet */
	dp->pin_dir = strdup(opts->pin_dir ? opts->pin_dir : DP_DEFAULT_PIN_DIR);
	dp->xdp_generic = opts->xdp_generic;
	if (!dp->pin_dir) {
		r = dp_err(err, err_len, -ENOMEM, "out of memory");
		goto fail;
	}
	r = dp_bpffs_prepare(dp->pin_dir, err, err_len);
	if (r)
		goto fail;
	for (int i = 0; i < 3; i++) {
		static const char *const sub[] = {"maps", "progs", "links"};

		snprintf(path, sizeof(path), "%s/%s", dp->pin_dir, sub[i]);
		r = dp_mkdir_p(path, 0700);
		if (r) {
			dp_err(err, err_len, r, "create %s: %s", path, strerror(-r));
			goto fail;
		}
	}
	snprintf(path, sizeof(path), "%s/maps/iof_state", dp->pin_dir);
	dp->adopted = stat(path, &st) == 0;
	r = load_object(dp, opts, err, err_len);
	if (r)
		goto fail;
	r = dp_adopt_links(dp, err, err_len);
	if (r)
		goto fail;
	r = settle_programs(dp, opts->force_upgrade || env_flag("IOFENCE_DP_FORCE_UPGRADE"), err,
			    err_len);
	if (r)
		goto fail;
	r = write_settings(dp, opts, err, err_len);
	if (r)
		goto fail;
	read_revision(dp);
	*ret = dp;
	return 0;
fail:
	dp_close(dp);
	return r;
}

bool dp_adopted(const struct datapath *dp)
{
	return dp->adopted;
}

uint64_t dp_active_revision(const struct datapath *dp)
{
	return dp->revision;
}

uint32_t dp_active_slot(const struct datapath *dp)
{
	struct iof_state st;
	__u32 key = 0;

	if (bpf_map_lookup_elem(dp->fds.state, &key, &st))
		return 0;
	return st.active_slot & 1;
}

static void free_image_copy(struct datapath *dp)
{
	for (size_t i = 0; i < dp->n_eps; i++) {
		free(dp->eps[i].name);
		free(dp->eps[i].interface);
		free(dp->eps[i].cgroup);
	}
	free(dp->eps);
	for (size_t i = 0; i < dp->n_pfs; i++)
		free(dp->pfs[i].interface);
	free(dp->pfs);
	free(dp->any_groups);
	dp->eps = NULL;
	dp->pfs = NULL;
	dp->any_groups = NULL;
	dp->n_eps = dp->n_pfs = dp->n_any_groups = 0;
}

void dp_close(struct datapath *dp)
{
	if (!dp)
		return;
	ring_buffer__free(dp->events);
	if (dp->events_consumer)
		munmap(dp->events_consumer, dp->events_consumer_len);
	dp_atts_free(dp);
	for (int i = 0; i < DP_PROG_MAX; i++) {
		struct bpf_program *p =
		    dp->obj ? bpf_object__find_program_by_name(dp->obj, dp_prog_names[i]) : NULL;

		if (dp->prog_fd[i] >= 0 && (!p || bpf_program__fd(p) != dp->prog_fd[i]))
			close(dp->prog_fd[i]);
	}
	if (dp->skel)
		iofence__destroy(dp->skel);
	free(dp->obj_bytes);
	free_image_copy(dp);
	pthread_mutex_destroy(&dp->fill_lock);
	if (dp->retire_open)
		dp_retire_stop(&dp->retire);
	if (dp->ledger_open)
		dp_ledger_close(&dp->ledger);
	pthread_mutex_destroy(&dp->lock);
	pthread_mutex_destroy(&dp->write_lock);
	dp_delta_free(&dp->delta);
	free(dp->pin_dir);
	free(dp);
}

void dp_read_slot_retire(struct datapath *dp, struct dp_retire_figures *ret)
{
	dp_retire_read(&dp->retire, ret);
}

void dp_image_copy_free(struct datapath *dp)
{
	free_image_copy(dp);
}

int dp_cleanup(const char *pin_dir, char *err, size_t err_len)
{
	struct stat st;
	int r;

	if (!pin_dir)
		pin_dir = DP_DEFAULT_PIN_DIR;
	if (stat(pin_dir, &st) && errno == ENOENT)
		return 0;
	dp_tc_legacy_cleanup(pin_dir);
	dp_cleanup_links(pin_dir);
	r = dp_rm_rf(pin_dir);
	if (r)
		return dp_err(err, err_len, r, "remove %s: %s", pin_dir, strerror(-r));
	return 0;
}
