// SPDX-License-Identifier: Apache-2.0
/* iofencectl validate -f FILE: exit 0 when valid, 1 with every error otherwise. */
#include <stdio.h>

#include "client.h"
#include "ctl.h"

int cmd_validate(int argc, char **argv)
{
	struct policy_document *doc = NULL;
	struct ctl_opts o;
	int r;

	r = ctl_parse(argc, argv, "validate", &o);
	if (r >= 0)
		return r;
	if (!o.file) {
		fprintf(stderr, "iofencectl validate: -f FILE is required\n");
		ctl_opts_free(&o);
		return CTL_USER_ERROR;
	}
	r = ctl_load_policy(o.file, &doc);
	if (r == CTL_OK)
		printf("%s: valid (%zu security group%s, %zu endpoint%s)\n", o.file,
		       doc->n_groups, doc->n_groups == 1 ? "" : "s", doc->n_endpoints,
		       doc->n_endpoints == 1 ? "" : "s");
	policy_document_free(doc);
	ctl_opts_free(&o);
	return r;
}
