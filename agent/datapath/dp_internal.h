/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Internals of the datapath library shared by its files: the loaded object, the attachments
 * (pinned links) and the copy of the current image's endpoints that dp_link_changed() needs.
 */
#ifndef IOFENCE_AGENT_DATAPATH_INTERNAL_H
#define IOFENCE_AGENT_DATAPATH_INTERNAL_H

#include <stdarg.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "counter_ledger.h"
#include "datapath.h"
#include "image_delta.h"
#include "image_write.h"
#include "slot_retire.h"

struct bpf_object;
struct iofence;
struct ring_buffer;

enum dp_prog_id {
	DP_PROG_TC_FROM_EP = 0, /* tcx ingress of the host-side veth: leaving the workload */
	DP_PROG_TC_TO_EP,	/* tcx egress of the host-side veth: entering the workload */
	DP_PROG_XDP_PREFILTER,
	DP_PROG_CG_CONNECT4,
	DP_PROG_CG_CONNECT6,
	DP_PROG_CG_SENDMSG4,
	DP_PROG_CG_SENDMSG6,
	DP_PROG_CG_SKB_INGRESS,
	DP_PROG_CG_SKB_EGRESS,
	DP_PROG_MAX,
};

extern const char *const dp_prog_names[DP_PROG_MAX];

/* Hooks of one attachment; the index is the link's pin name under its folder. */
enum dp_att_kind {
	DP_ATT_TC = 0,	/* hooks: 0 = ingress (from_ep), 1 = egress (to_ep) */
	DP_ATT_XDP = 1, /* hook 0 */
	DP_ATT_CG = 2,	/* hooks: connect4, connect6, sendmsg4, sendmsg6, skb_ingress, skb_egress */
};

#define DP_CG_HOOKS 6
#define DP_MAX_HOOKS DP_CG_HOOKS

struct dp_attachment {
	enum dp_att_kind kind;
	char *name;		   /* interface name, or the decimal cgroup endpoint id */
	uint32_t ifindex;	   /* TC, XDP */
	uint64_t cgroup_id;	   /* CG: kernel cgroup id */
	uint32_t cg_id;		   /* CG: our id (attach id without IOF_EP_CGROUP_BIT) */
	int link_fd[DP_MAX_HOOKS]; /* -1: none */
	bool tc_legacy; /* TC attached with bpf_tc_attach (no links), kernel without tcx */
	bool keep;	/* mark while reconciling */
};

/* What dp_link_changed() needs of the current image. */
struct dp_endpoint {
	char *name;
	char *interface; /* NULL if none */
	char *cgroup;	 /* NULL if none */
	uint32_t profile;
	uint16_t index;
	uint16_t any_ports; /* iof_endpoint_val.any_ports */
	uint32_t ifindex;   /* 0: interface absent */
	uint32_t cg_id;	    /* 0: cgroup absent or none */
};

struct dp_prefilter {
	char *interface;
	struct policy_prefix prefix;
	uint32_t ifindex;
};

struct datapath {
	char *pin_dir;
	bool adopted;
	bool xdp_generic;
	struct iofence *skel;	 /* the loaded object: maps and programs by name */
	struct bpf_object *obj;	 /* skel->obj */
	void *obj_bytes;	 /* the object file given at run time, if any */
	int prog_fd[DP_PROG_MAX]; /* the programs hooks run (pinned ones unless upgraded) */
	struct dp_map_fds fds;
	int cg_ids_fd; /* iof_cg_ids */
	struct ring_buffer *events;
	dp_event_fn event_cb;
	void *event_ctx;
	uint64_t event_seq;	   /* of the record being read */
	void *events_consumer;	   /* the ring's consumer page, mapped read-only */
	size_t events_consumer_len;

	/*
	 * The slots' writer: dp_apply() holds it from start to end. The guard's verification
	 * (verify.c) takes it only to copy what the slots should hold and, after reading the
	 * maps without it, to act on what it found if no apply ran meanwhile (the counts below
	 * say): an apply never waits for the maps being read. Taken before lock, never after.
	 */
	pthread_mutex_t write_lock;
	_Atomic uint64_t writes;      /* applies started: the inactive slot may have changed */
	_Atomic uint64_t activations; /* slots activated: the active slot is another one */

	/*
	 * The attachments, the image copy (eps, pfs), the flip of the active slot and that
	 * slot's endpoint and prefilter entries: the link watcher's thread (dp_link_changed) and
	 * the apply thread change them under this lock. A slot is written outside it and only
	 * its activation takes it, so a link event never waits for a slot being written.
	 */
	pthread_mutex_t lock;
	uint64_t link_events; /* dp_link_changed() calls handled (under lock) */
	struct dp_attachment *atts;
	size_t n_atts, cap_atts;

	struct dp_endpoint *eps;
	size_t n_eps;
	struct dp_prefilter *pfs;
	size_t n_pfs;
	struct layout_any_group *any_groups; /* the active slot's iof_any_group entries */
	size_t n_any_groups;
	uint32_t slot; /* the slot this process activated last (verify_maps.c) */
	bool slot_known;
	/* what write_settings() wrote into iof_config and iof_failsafe (verify_maps.c) */
	struct iof_config config_written;
	struct iof_failsafe failsafe_written[IOF_FAILSAFE_MAX];
	bool settings_written;
	uint64_t revision;
	struct dp_fill fill; /* the apply thread's count (ct4, ct6 unused) ... */
	bool fill_valid;
	/* ... published for readers by dp_fill_publish() at the end of each change, and the
	 * conntrack counts dp_count_conntrack() samples, both under fill_lock */
	pthread_mutex_t fill_lock;
	struct dp_fill fill_shown;
	bool fill_shown_valid;
	struct dp_delta delta; /* what the slots hold, for delta writes (image_delta.h) */
	bool slot_verified; /* the active slot's tries matched what was written (verify.c);
			     * written under lock */
	_Atomic uint64_t ct_evicted[2]; /* conntrack evictions derived so far (ct_stats.c) */
	struct dp_ledger ledger;	/* counter identities (counter_ledger.h) */
	bool ledger_open;
	struct dp_retire retire; /* slots flipped away from, until no program reads them */
	bool retire_open;
};

/* ep's iof_endpoints value (the same for its interface and its cgroup entry). */
static inline struct iof_endpoint_val dp_endpoint_val(const struct dp_endpoint *ep)
{
	return (struct iof_endpoint_val){
	    .profile = ep->profile, .endpoint_index = ep->index, .any_ports = ep->any_ports};
}

/* Makes dp->fill what dp_read_fill() reports (apply thread, after a change). */
void dp_fill_publish(struct datapath *dp);

/* err helper: writes "fmt" into err, returns r. */
int dp_err(char *err, size_t len, int r, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* open.c */
void dp_image_copy_free(struct datapath *dp);

/* bpffs.c */
int dp_bpffs_prepare(const char *pin_dir, char *err, size_t len);
int dp_mkdir_p(const char *path, mode_t mode);
int dp_rm_rf(const char *path);
int dp_cgroup_kernel_id(const char *path, uint64_t *ret);
/*
 * An endpoint's cgroup path: 0 if it is a cgroup v2 folder or does not exist (yet),
 * -EMEDIUMTYPE if it exists as anything else (a plain folder, a file, a cgroup v1 folder: the
 * kernel would refuse the hooks), another -errno if it cannot be looked at.
 */
int dp_cgroup_check(const char *path);

/* attach.c */
struct hook {
	const char *pin; /* link pin name (XDP: unused, the pin is links/xdp/<ifname>) */
	enum dp_prog_id prog;
	int attach_type;
};
#define DP_TC_HANDLE 0x10fe /* legacy tc filter identity (kernels without tcx) */
#define DP_TC_PRIORITY 1
extern const char *const dp_kind_dir[];
const struct hook *dp_hooks_of(enum dp_att_kind kind, size_t *n);
void dp_att_path(const struct datapath *dp, enum dp_att_kind kind, const char *name, char *buf,
		 size_t len);
void dp_hook_path(const struct datapath *dp, const struct dp_attachment *att, size_t h, char *buf,
		  size_t len);
struct dp_attachment *dp_att_new(struct datapath *dp, enum dp_att_kind kind, const char *name);
int dp_write_cg_ids(struct datapath *dp, const struct dp_attachment *att, char *err, size_t len);
int dp_attach_tc_legacy(struct datapath *dp, struct dp_attachment *att, char *err, size_t len);
int dp_attach_tc(struct datapath *dp, const char *ifname, uint32_t ifindex, char *err, size_t len);
int dp_attach_xdp(struct datapath *dp, const char *ifname, uint32_t ifindex, char *err, size_t len);
int dp_attach_cgroup(struct datapath *dp, const char *path, uint64_t cgroup_id, uint32_t cg_id,
		     char *err, size_t len);
void dp_detach(struct datapath *dp, struct dp_attachment *att);
void dp_att_remove(struct datapath *dp, size_t i);
bool dp_interface_up(const char *ifname);
struct dp_attachment *dp_att_find(struct datapath *dp, enum dp_att_kind kind, const char *name);
struct dp_attachment *dp_att_find_cgroup(struct datapath *dp, uint64_t cgroup_id);
/* adopt.c */
int dp_adopt_links(struct datapath *dp, char *err, size_t len);
int dp_upgrade_links(struct datapath *dp, const int *old_prog_fd, char *err, size_t len);
int dp_cleanup_links(const char *pin_dir);
int dp_tc_legacy_cleanup(const char *pin_dir);
int dp_adopt_tc_legacy(struct datapath *dp);
bool dp_link_alive(int link_fd);
/* Whether every link of att is alive (TC and XDP hooks, a cgroup's present ones); *dead names
 * the first that is not. A legacy tc attachment counts as alive. */
bool dp_att_alive(const struct dp_attachment *att, const char **dead);
void dp_atts_free(struct datapath *dp);

#endif /* IOFENCE_AGENT_DATAPATH_INTERNAL_H */
