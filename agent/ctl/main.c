// SPDX-License-Identifier: Apache-2.0
/* iofencectl: the operator's CLI (CONTRACT.md). This file dispatches to the commands. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "ctl.h"
#include "ctl_extra.h"
#include "policy/parse.h"

static const struct {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *help;
} commands[] = {
    {"validate", cmd_validate, "validate -f FILE          check a policy offline"},
    {"apply", cmd_apply,
     "apply -f FILE [--agent ADDR]... [--dry-run]  push a policy to agents (result table)"},
    {"status", cmd_status,
     "status [--agent ADDR]...       node, revision, endpoints, modules, uptime"},
    {"get", cmd_get, "get policy|endpoints [--agent ADDR] [-o yaml|json|table]"},
    {"counters", cmd_counters, "counters [--agent ADDR] [--endpoint NAME] [-o table|json]"},
    {"flows", cmd_flows,
     "flows [--agent ADDR] [--follow | --duration SEC] [--last N] [--since-seq N] "
     "[--verdict deny] [-o table|json]"},
    {"diff", cmd_diff,
     "diff -f FILE [--agent ADDR]... | --etcd-endpoints URL  objects that differ from the enforced"},
    {"history", cmd_history, "history [--agent ADDR]...       stored revisions: time, size, source"},
    {"rollback", cmd_rollback, "rollback --to N [--agent ADDR]...  enforce revision N again"},
    {"trace", cmd_trace, "trace --from A --to B --proto P --port N  why a flow gets its verdict"},
    {"dashboard", cmd_dashboard,
     "dashboard [--listen HOST:PORT] [--agent ADDR]... | --etcd-endpoints URL  cluster health page"},
    {"compile", cmd_compile,
     "compile -f FILE --node NAME [-o json|stats]   print the node's map image"},
    {"endpoint", cmd_endpoint,
     "endpoint put -f FILE | delete NODE/NAME --etcd-endpoints URL | wait NAME --enforced"},
    {"rollout", cmd_rollout,
     "rollout status [--wait] [--timeout S] [-o table|json] --etcd-endpoints URL"},
    {"module", cmd_module,
     "module enable|disable|list [vxlan-trace --interface IF [--port N]] [--agent ADDR]..."},
    {"tunnels", cmd_tunnels,
     "tunnels [--agent ADDR]... [--interval SEC] [--top N] [-o table|json]   VXLAN tunnels"},
};

static void usage(FILE *out)
{
	fprintf(out, "usage: iofencectl COMMAND [OPTIONS] | --version | COMMAND --help\n\ncommands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(out, "  %s\n", commands[i].help);
	fprintf(out,
		"\nADDR: unix:PATH or HOST:PORT (mTLS with --ca --cert --key); default %s\n"
		"cluster mode: --etcd-endpoints URL[,URL] (or IOFENCE_ETCD_ENDPOINTS), --etcd-prefix,\n"
		"  --etcd-ca --etcd-cert --etcd-key: apply, diff, get policy work on the datastore\n"
		"exit: 0 ok, 1 user error (bad input, refused policy), 2 system error\n",
		CTL_DEFAULT_AGENT);
}

char *ctl_read_input(const char *file)
{
	static char *stdin_text; /* standard input can be read once: kept for every reader */
	static size_t stdin_len;

	if (strcmp(file, "-"))
		return rpc_read_file(file, NULL);
	if (!stdin_text) {
		FILE *mem = open_memstream(&stdin_text, &stdin_len);
		char buf[65536];
		size_t n;

		if (!mem)
			return NULL;
		while ((n = fread(buf, 1, sizeof(buf), stdin)) > 0)
			fwrite(buf, 1, n, mem);
		if (fclose(mem) || ferror(stdin)) {
			free(stdin_text);
			stdin_text = NULL;
			errno = EIO;
			return NULL;
		}
	}
	return strdup(stdin_text);
}

int ctl_load_policy(const char *file, struct policy_document **ret)
{
	struct policy_errors errs = {0};
	char *text = strcmp(file, "-") ? NULL : ctl_read_input(file);
	int r = !strcmp(file, "-") ? (text ? policy_parse_buffer(text, strlen(text), "<stdin>", ret,
								 &errs)
					   : -errno)
				   : policy_parse_file(file, ret, &errs);

	if (r) {
		policy_errors_print(&errs, stderr);
		if (r == -EINVAL)
			fprintf(stderr, "%s: %zu error%s\n", file, errs.n + errs.dropped,
				errs.n + errs.dropped == 1 ? "" : "s");
	}
	if (r && r != -EINVAL && !strcmp(file, "-"))
		fprintf(stderr, "iofencectl: standard input: %s\n", strerror(-r));
	free(text);
	policy_errors_free(&errs);
	if (!r)
		return CTL_OK;
	return r == -EINVAL || r == -ENOENT || r == -EISDIR ? CTL_USER_ERROR : CTL_SYSTEM_ERROR;
}

int main(int argc, char **argv)
{
	if (argc >= 2 && (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version"))) {
		printf("iofencectl %s\n", IOFENCE_VERSION);
		return CTL_OK;
	}
	if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? CTL_USER_ERROR : CTL_OK;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(argv[1], commands[i].name)) {
			int r = commands[i].run(argc - 1, argv + 1);

			if (ctl_grpc_used)
				grpc_shutdown_blocking();
			return r;
		}
	fprintf(stderr, "iofencectl: unknown command \"%s\"\n", argv[1]);
	usage(stderr);
	return CTL_USER_ERROR;
}
