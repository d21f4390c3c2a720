// SPDX-License-Identifier: Apache-2.0
/* iofencectl: the operator's CLI (CONTRACT.md). This file dispatches to the commands. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/version/version.h"
#include "client.h"
#include "ctl.h"
#include "commands.h"
#include "policy/parse.h"

static void usage(FILE *out)
{
	fprintf(out, "usage: iofencectl COMMAND [OPTIONS] | --version | COMMAND --help\n\n"
		     "commands:\n");
	for (size_t i = 0; i < ctl_n_commands; i++) {
		const struct ctl_command *c = &ctl_commands[i];
		char head[48];

		snprintf(head, sizeof(head), "%s%s%s", c->name, c->operand ? " " : "",
			 c->operand ? c->operand : "");
		fprintf(out, "  %-26s %s\n", head, c->summary);
	}
	fprintf(out,
		"\nADDR: unix:PATH or HOST:PORT (mTLS with --ca --cert --key); default %s\n"
		"settings: flag > environment > config file (~/.config/iofence/config or --config)"
		" > default\n"
		"exit: 0 ok, 1 user error (bad input, refused policy), 2 system error\n"
		"man iofencectl(8), iofence-policy(5)\n",
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

/* The entry argv[1] names, or the first of a command with verbs ("module"). */
static const struct ctl_command *dispatch(const char *word)
{
	size_t len = strlen(word);

	for (size_t i = 0; i < ctl_n_commands; i++) {
		const char *name = ctl_commands[i].name;

		if (!strncmp(name, word, len) && (!name[len] || name[len] == ' '))
			return &ctl_commands[i];
	}
	return NULL;
}

int main(int argc, char **argv)
{
	const struct ctl_command *cmd;
	int r;

	if (argc >= 2 && (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version"))) {
		printf("iofencectl %s\n", iofence_version());
		return CTL_OK;
	}
	if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? CTL_USER_ERROR : CTL_OK;
	}
	if (!strncmp(argv[1], "--help-", 7)) /* hidden: man page, completions (docgen.c) */
		return ctl_docgen(argv[1] + 7);
	cmd = dispatch(argv[1]);
	if (!cmd) {
		fprintf(stderr, "iofencectl: unknown command \"%s\"\n", argv[1]);
		usage(stderr);
		return CTL_USER_ERROR;
	}
	/* `module --help`: every verb's options */
	if (argc == 3 && (!strcmp(argv[2], "--help") || !strcmp(argv[2], "-h")) &&
	    ctl_group_help(stdout, argv[1]))
		return CTL_OK;
	r = cmd->run(argc - 1, argv + 1);
	if (ctl_grpc_used)
		grpc_shutdown_blocking();
	return r;
}
