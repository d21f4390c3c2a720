// SPDX-License-Identifier: Apache-2.0
/*
 * What the datapath says about itself to status readers: whether a hook holds a pinned link
 * (and which program runs behind it), and the names of its drop reasons. Callers name hooks;
 * the pin layout (attach.c) stays inside the datapath.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "dp_internal.h"

bool dp_hook_pinned(struct datapath *dp, const char *hook, uint32_t *ret_prog_id)
{
	char path[PATH_MAX];
	struct stat st;

	*ret_prog_id = 0;
	snprintf(path, sizeof(path), "%s/links/%s", dp->pin_dir, hook);
	if (stat(path, &st))
		return false;
	if (!S_ISDIR(st.st_mode)) { /* a legacy tc attachment has a folder, no link */
		struct bpf_link_info info;
		__u32 len = sizeof(info);
		int fd = bpf_obj_get(path);

		memset(&info, 0, sizeof(info));
		if (fd >= 0) {
			if (!bpf_obj_get_info_by_fd(fd, &info, &len))
				*ret_prog_id = info.prog_id;
			close(fd);
		}
	}
	return true;
}

const char *dp_drop_reason_name(unsigned reason)
{
	static const char *const names[IOF_DROP_MAX] = {
	    [IOF_DROP_NONE] = "none",
	    [IOF_DROP_POLICY] = "policy",
	    [IOF_DROP_DEFAULT] = "default",
	    [IOF_DROP_PREFILTER] = "prefilter",
	    [IOF_DROP_REVOKED] = "revoked",
	    [IOF_DROP_MALFORMED] = "malformed",
	    [IOF_DROP_FRAGMENT] = "fragment",
	    [IOF_DROP_UNKNOWN_EP] = "unknown-endpoint",
	    [IOF_DROP_AUDIT] = "audit-would-drop",
	};

	return reason < IOF_DROP_MAX ? names[reason] : "unknown";
}
