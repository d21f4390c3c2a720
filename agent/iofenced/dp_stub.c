// SPDX-License-Identifier: Apache-2.0
/*
 * Built only while the datapath library (agent/datapath) is absent from the tree: every
 * datapath call fails with ENOSYS, so the agent runs with --datapath none only.
 */
#include <errno.h>
#include <stdio.h>

#include "agent/datapath/datapath.h"

int dp_open(const struct dp_options *opts, struct datapath **ret, char *err, size_t err_len)
{
	snprintf(err, err_len, "this build has no datapath library (use --datapath none)");
	return -ENOSYS;
}

bool dp_adopted(const struct datapath *dp)
{
	return false;
}
uint64_t dp_active_revision(const struct datapath *dp)
{
	return 0;
}
uint32_t dp_active_slot(const struct datapath *dp)
{
	return 0;
}
int dp_apply(struct datapath *dp, const struct policy_image *img, char *err, size_t len)
{
	return -ENOSYS;
}
int dp_link_changed(struct datapath *dp, const char *ifname, int ifindex, bool up)
{
	return -ENOSYS;
}
int dp_cgroup_changed(struct datapath *dp, const char *path, bool exists)
{
	return -ENOSYS;
}
int dp_read_rule_counter(struct datapath *dp, uint32_t id, struct iof_counter *ret)
{
	return -ENOSYS;
}
int dp_read_endpoint_counter(struct datapath *dp, uint32_t i, enum iof_ep_counter_kind k,
			     struct iof_counter *ret)
{
	return -ENOSYS;
}
int dp_read_drops(struct datapath *dp, enum iof_drop_reason r, struct iof_counter *ret)
{
	return -ENOSYS;
}
int dp_read_fill(struct datapath *dp, struct dp_fill *ret)
{
	return -ENOSYS;
}
int dp_events_fd(struct datapath *dp)
{
	return -ENOSYS;
}
int dp_events_consume(struct datapath *dp, void (*cb)(const struct iof_event *, void *), void *c)
{
	return -ENOSYS;
}
void dp_close(struct datapath *dp)
{
}
int dp_cleanup(const char *pin_dir, char *err, size_t err_len)
{
	snprintf(err, err_len, "this build has no datapath library");
	return -ENOSYS;
}
int dp_read_ct_stats(struct datapath *dp, struct dp_ct_stats ret[2])
{
	return -ENOSYS;
}
int dp_check_links(struct datapath *dp, dp_report_fn report, void *ctx)
{
	return 0;
}
int dp_check_pins(struct datapath *dp, dp_report_fn report, void *ctx)
{
	return 0;
}
int dp_check_endpoint_entries(struct datapath *dp, dp_report_fn report, void *ctx)
{
	return 0;
}
int dp_verify_slots(struct datapath *dp, dp_report_fn report, void *ctx)
{
	return 0;
}
void dp_distrust_slots(struct datapath *dp)
{
}
bool dp_endpoint_enforced(struct datapath *dp, const char *name, uint32_t *ret_ifindex,
			  char *reason, size_t len)
{
	return false;
}
