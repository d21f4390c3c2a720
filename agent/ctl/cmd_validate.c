// SPDX-License-Identifier: Apache-2.0
/* iofencectl validate -f FILE: exit 0 when valid, 1 with every error otherwise. */
#include <getopt.h>
#include <stdio.h>

#include "ctl.h"

int cmd_validate(int argc, char **argv)
{
	static const struct option opts[] = {{"file", required_argument, NULL, 'f'},
					     {"help", no_argument, NULL, 'h'},
					     {0}};
	const char *file = NULL;
	struct policy_document *doc = NULL;
	int c, r;

	optind = 1;
	while ((c = getopt_long(argc, argv, "f:h", opts, NULL)) != -1) {
		switch (c) {
		case 'f':
			file = optarg;
			break;
		case 'h':
			printf("usage: iofencectl validate -f FILE\n");
			return CTL_OK;
		default:
			return CTL_USER_ERROR;
		}
	}
	if (!file) {
		fprintf(stderr, "iofencectl validate: -f FILE is required\n");
		return CTL_USER_ERROR;
	}
	r = ctl_load_policy(file, &doc);
	if (r == CTL_OK)
		printf("%s: valid (%zu security groups, %zu endpoints)\n", file, doc->n_groups,
		       doc->n_endpoints);
	policy_document_free(doc);
	return r;
}
