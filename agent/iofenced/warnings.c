// SPDX-License-Identifier: Apache-2.0
/*
 * Warnings of a document on this node (warnings.h): each a thing the document asks for that
 * this node does not do, so that it is said instead of silently skipped.
 */
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "warnings.h"

const char *warnings_endpoint_reason(const struct policy_endpoint *ep, bool datapath, char *buf,
				     size_t len)
{
	struct stat st;
	bool has_if = ep->interface && if_nametoindex(ep->interface);
	bool has_cg = ep->cgroup && !stat(ep->cgroup, &st) && S_ISDIR(st.st_mode);

	if (!datapath)
		return "no datapath (--datapath none): nothing is enforced";
	if (has_if || has_cg)
		return NULL;
	if (ep->interface && ep->cgroup)
		snprintf(buf, len, "interface %s and cgroup %s do not exist (enforced when one "
			 "appears)", ep->interface, ep->cgroup);
	else if (ep->interface)
		snprintf(buf, len, "interface %s does not exist (enforced when it appears)",
			 ep->interface);
	else
		snprintf(buf, len, "cgroup %s does not exist (enforced when it appears)",
			 ep->cgroup ? ep->cgroup : "");
	return buf;
}

size_t warnings_of(const struct policy_document *doc, const char *node, bool had_revision,
		   bool datapath, void (*add)(void *ctx, const char *line), void *ctx)
{
	size_t n = 0, local = 0;
	char line[512], why[400];

	for (size_t i = 0; i < doc->n_endpoints; i++) {
		const struct policy_endpoint *ep = &doc->endpoints[i];
		const char *reason;

		if (strcmp(ep->node, node))
			continue;
		local++;
		reason = datapath ? warnings_endpoint_reason(ep, true, why, sizeof(why)) : NULL;
		if (reason) {
			snprintf(line, sizeof(line), "endpoint %s: %s", ep->name, reason);
			add(ctx, line);
			n++;
		}
	}
	for (size_t i = 0; i < doc->n_prefilters; i++)
		local += !strcmp(doc->prefilters[i].node, node);
	if (!local) {
		snprintf(line, sizeof(line),
			 "node %s: no endpoint and no prefilter of the document is on this node "
			 "(node names: check `node:` against this agent's --node)",
			 node);
		add(ctx, line);
		n++;
	}
	if (!had_revision) {
		add(ctx, "the document has no revision: the agent numbers it after its latest");
		n++;
	}
	return n;
}
