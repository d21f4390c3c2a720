/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The vxlan-trace module's loader and reader (bpf/vxlan_trace.bpf.c): loads its own object
 * beside the policy programs (it shares no map with them, so enabling or disabling it never
 * touches enforcement), attaches its program pair with tcx links to underlay interfaces and
 * pins everything under <pin-dir>/modules/vxlan-trace:
 *   maps/{tunnels,inner,stats,ports}   progs/{ingress,egress}   links/<ifname>/{ingress,egress}
 * A links/<ifname> folder records a configured interface, also while the interface does not
 * exist (then it holds no link): the module follows its interfaces (vxt_sync on link events),
 * attaching when one appears and dropping the links of one that is gone.
 * A later process adopts the pins (vxt_open with no config) and keeps counting without a gap.
 * Functions return 0 or -errno with a one-line reason in err.
 */
#ifndef IOFENCE_AGENT_DATAPATH_MODULE_VXLAN_H
#define IOFENCE_AGENT_DATAPATH_MODULE_VXLAN_H

#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bpf/vxlan_trace.h"

#define VXT_MODULE_NAME "vxlan-trace"
#define VXT_IFACES_MAX 16

struct vxt_config {
	char ifaces[VXT_IFACES_MAX][IF_NAMESIZE];
	size_t n_ifaces;
	uint16_t ports[VXT_PORTS_MAX]; /* 0 = unused */
	size_t n_ports;		       /* 0: VXT_DEFAULT_PORT */
	uint32_t tunnel_capacity;      /* 0: VXT_TUNNELS_DEFAULT */
	uint32_t inner_capacity;       /* 0: VXT_INNER_DEFAULT */
};

/* One attached hook, for status. */
struct vxt_hook {
	char iface[IF_NAMESIZE];
	const char *hook; /* "ingress" | "egress" */
	uint32_t prog_id;
	bool attached; /* a live link (false: the interface is gone, or was never there) */
};

/* One configured interface: the module waits for it, is attached to it, or failed to attach. */
enum vxt_attach_state { VXT_ATTACHED, VXT_WAITING, VXT_FAILED };
struct vxt_attachment {
	char iface[IF_NAMESIZE];
	enum vxt_attach_state state;
	unsigned ifindex; /* when attached */
	char reason[160]; /* failed: why; waiting: for what */
};

struct vxt_module;

/* True if pin_dir holds an enabled vxlan-trace module. */
bool vxt_pinned(const char *pin_dir);

/*
 * vxt_open() - with cfg: enable (load and pin, or adopt the pinned module and reconcile it to
 * cfg: ports rewritten, interfaces attached and detached; a change of capacity reloads the
 * maps, which starts the counts over). With cfg NULL: adopt the pinned module as it is
 * (-ENOENT if none) and attach it where its interfaces are now. An interface that does not
 * exist is waited for (VXT_WAITING), not an error; one that exists but refuses the attach is
 * an error when enabling with cfg, and VXT_FAILED with its reason when adopting.
 */
int vxt_open(const char *pin_dir, const struct vxt_config *cfg, struct vxt_module **ret,
	     char *err, size_t err_len);
/* Closes file descriptors; the pinned module keeps counting. */
void vxt_close(struct vxt_module *m);
/* Detaches and unpins everything of the module (with or without an open handle). */
int vxt_disable(const char *pin_dir, char *err, size_t err_len);

/* The effective configuration (defaults filled in, capacities from the maps). */
void vxt_get_config(const struct vxt_module *m, struct vxt_config *ret);
/* Hooks of the module: up to max, returns how many. */
size_t vxt_hooks(const struct vxt_module *m, struct vxt_hook *ret, size_t max);
/*
 * vxt_sync() - brings every configured interface to its state after links changed: attaches
 * both hooks where the interface exists without a live link to it (created, or deleted and
 * re-created), drops the pinned links of an interface that is gone. Cheap when nothing
 * changed (a name lookup and two pin reads per interface).
 */
void vxt_sync(struct vxt_module *m);
/* The configured interfaces' states (live: a vanished interface shows as waiting at once). */
size_t vxt_attachments(const struct vxt_module *m, struct vxt_attachment *ret, size_t max);

/* What the reader got from the maps. Times are CLOCK_MONOTONIC (bpf_ktime_get_coarse_ns()). */
struct vxt_tunnel_row {
	struct vxt_tunnel_key key;
	struct vxt_count count;
};
struct vxt_inner_row {
	struct vxt_inner_key key;
	struct vxt_count count;
};
struct vxt_snapshot {
	struct vxt_tunnel_row *tunnels;
	size_t n_tunnels;
	struct vxt_inner_row *inner; /* sorted by bytes, largest first */
	size_t n_inner;
	uint64_t stats[VXT_STAT_MAX];		     /* summed over CPUs */
	uint64_t tunnel_evictions, inner_evictions; /* inserts - entries */
	int64_t mono_to_unix_ns;		     /* add to a monotonic time to get unix time */
};

/* Reads both tables and the counters (inner rows kept: all). Free with vxt_snapshot_free. */
int vxt_read(struct vxt_module *m, struct vxt_snapshot *ret, char *err, size_t err_len);
void vxt_snapshot_free(struct vxt_snapshot *s);
/* The tunnel table and counters only (metrics scrapes: bounded by the tunnel capacity). */
int vxt_read_tunnels(struct vxt_module *m, struct vxt_snapshot *ret, char *err, size_t err_len);

/* Table fill for status: entries counted (keys only) and evictions. */
struct vxt_counts {
	uint64_t tunnel_entries, inner_entries, tunnel_evictions, inner_evictions;
};
int vxt_count(struct vxt_module *m, struct vxt_counts *ret);
int vxt_count_fds(int tunnels_fd, int inner_fd, int stats_fd, struct vxt_counts *ret);

/* Same reader over raw map fds (tests with the skeleton); inner_fd < 0: skip that table. */
int vxt_read_fds(int tunnels_fd, int inner_fd, int stats_fd, struct vxt_snapshot *ret, char *err,
		 size_t err_len);

#endif /* IOFENCE_AGENT_DATAPATH_MODULE_VXLAN_H */
