// SPDX-License-Identifier: Apache-2.0
/*
 * iofencectl's hidden outputs for the build (commands.h): the iofencectl(8) man page, the
 * bash and zsh completions, and the list of commands with their options (for tests). All of
 * them come from the tables in commands.c, so they list exactly what the parser accepts.
 */
#include <stdio.h>
#include <string.h>

#include "agent/version/version.h"
#include "client.h"
#include "commands.h"
#include "ctl.h"

/* The words of a command's first level: "module" for "module enable". */
static size_t first_word(const char *name, char *buf, size_t len)
{
	size_t n = strcspn(name, " ");

	snprintf(buf, len, "%.*s", (int)n, name);
	return n;
}

/* Whether entry i is the first with its first word (commands with verbs appear once). */
static bool first_of_group(size_t i)
{
	char a[32], b[32];

	first_word(ctl_commands[i].name, a, sizeof(a));
	for (size_t k = 0; k < i; k++)
		if (first_word(ctl_commands[k].name, b, sizeof(b)) && !strcmp(a, b))
			return false;
	return true;
}

static void man_command(FILE *f, const struct ctl_command *c)
{
	struct optdoc_option opts[CTL_MAX_OPTIONS + 2];
	size_t n = ctl_command_options(c, opts);

	fputs(".SS \"", f);
	optdoc_roff(f, c->name);
	if (c->operand) {
		fputc(' ', f);
		optdoc_roff(f, c->operand);
	}
	fputs("\"\n", f);
	optdoc_roff(f, c->summary);
	fputs(".\n", f);
	optdoc_man(f, opts, n - 2); /* --config and --help: under OPTIONS OF EVERY COMMAND */
}

static void man_page(FILE *f)
{
	fprintf(f, ".TH IOFENCECTL 8 \"\" \"iofence %s\" \"System Administration\"\n",
		iofence_version());
	fputs(".SH NAME\niofencectl \\- operate iofence agents and the cluster datastore\n"
	      ".SH SYNOPSIS\n.B iofencectl\n.I COMMAND\n.RI [ OPTIONS ]\n.br\n"
	      ".B iofencectl\n.I COMMAND\n.B \\-\\-help\n.br\n.B iofencectl \\-\\-version\n"
	      ".SH DESCRIPTION\n"
	      "iofencectl checks and compiles policy documents (see \\fBiofence-policy\\fR(5)) "
	      "offline, pushes them to \\fBiofenced\\fR(8) agents over gRPC, or, in cluster "
	      "mode, to an etcd datastore that the agents follow; and shows what the agents "
	      "enforce: status, endpoints, counters, flows, traces, history.\n"
	      ".SH COMMANDS\n", f);
	for (size_t i = 0; i < ctl_n_commands; i++)
		man_command(f, &ctl_commands[i]);
	fputs(".SH OPTIONS OF EVERY COMMAND\n", f);
	optdoc_man(f, optdoc_find(ctl_options, ctl_n_options, O_CONFIG), 1);
	optdoc_man(f, optdoc_find(ctl_options, ctl_n_options, O_HELP), 1);
	fputs(".SH ADDRESSES\n"
	      "An agent address \\fIADDR\\fR is \\fBunix:\\fR\\fIPATH\\fR (the agent's local "
	      "socket, default \\fB" CTL_DEFAULT_AGENT "\\fR) or \\fIHOST\\fB:\\fIPORT\\fR, "
	      "which is mutual TLS: the client needs \\fB\\-\\-ca\\fR, \\fB\\-\\-cert\\fR and "
	      "\\fB\\-\\-key\\fR. Before connecting, iofencectl checks that the key matches the "
	      "certificate, that the certificate allows client authentication and that the CA "
	      "file parses; a refused handshake is reported with its cause (no client "
	      "certificate, unknown CA, wrong key usage, a plaintext port).\n"
	      ".SH CONFIGURATION FILE\n"
	      "Settings an operator would repeat on every call live in "
	      "\\fB~/.config/iofence/config\\fR (\\fB$XDG_CONFIG_HOME/iofence/config\\fR when that "
	      "variable is set), or in the file named by \\fB\\-\\-config\\fR or "
	      "\\fBIOFENCE_CONFIG\\fR. One \\fIkey\\fR \\fB=\\fR \\fIvalue\\fR per line; \\fB#\\fR "
	      "starts a comment line; values may be quoted. The keys are the long names of the "
	      "options that have an environment variable (below); \\fBagent\\fR may be given on "
	      "several lines. Relative file names are taken from the file's folder. An unknown "
	      "key is an error naming the file and line.\n"
	      ".PP\nEach setting is taken from the first of: the command-line flag, the "
	      "environment variable, the configuration file, the built-in default. A setting "
	      "applies only to the commands that have the option; \\fBoutput\\fR applies where "
	      "the command has that format. Commands that ask one agent use the first "
	      "configured agent.\n"
	      ".PP\n.nf\n# ~/.config/iofence/config\nagent = node-a.example:7443\n"
	      "agent = node-b.example:7443\nca = certs/ca.pem\ncert = certs/operator.pem\n"
	      "key = certs/operator.key\noutput = json\n.fi\n"
	      ".SH ENVIRONMENT\n", f);
	for (size_t i = 0; i < ctl_n_options; i++) {
		const struct optdoc_option *o = &ctl_options[i];

		if (!o->env)
			continue;
		fprintf(f, ".TP\n.B %s\n", o->env);
		if (o->id == O_CONFIG)
			fputs("the configuration file to read", f);
		else
			fprintf(f, "as \\fB\\-\\-%s\\fR", o->name);
		fputs(o->id == O_AGENT ? " (several addresses separated by commas)\n" : "\n", f);
	}
	fputs(".SH EXIT STATUS\n.TP\n.B 0\nsuccess\n.TP\n.B 1\n"
	      "a user error: bad input, a refused policy, a usage error (a one-line reason on "
	      "standard error)\n.TP\n.B 2\na system error: an agent or the datastore "
	      "unreachable, a TLS failure, permission\n"
	      ".PP\n\\fB\\-o json\\fR output is stable for scripts.\n"
	      ".SH FILES\n.TP\n.B ~/.config/iofence/config\nthe client configuration\n"
	      ".TP\n.B " CTL_DEFAULT_AGENT "\nthe local agent's API socket\n"
	      ".SH SEE ALSO\n\\fBiofenced\\fR(8), \\fBiofence-policy\\fR(5)\n", f);
}

/* The option words a completion offers for an entry: "-f --file --agent ...". */
static void option_words(FILE *f, const struct optdoc_option *opts, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (opts[i].short_name)
			fprintf(f, "-%c ", opts[i].short_name);
		fprintf(f, "--%s%s", opts[i].name, i + 1 < n ? " " : "");
	}
}

/* bash: the values of the option in $prev, then the options and operand words. */
static void bash_entry(FILE *f, const struct ctl_command *c)
{
	struct optdoc_option opts[CTL_MAX_OPTIONS + 2];
	size_t n = ctl_command_options(c, opts);

	fprintf(f, "\t\"%s\")\n\t\tcase $prev in\n", c->name);
	for (size_t i = 0; i < n; i++) {
		const struct optdoc_option *o = &opts[i];

		if (o->value == OPTDOC_FLAG)
			continue;
		fprintf(f, "\t\t--%s", o->name);
		if (o->short_name)
			fprintf(f, " | -%c", o->short_name);
		if (o->value == OPTDOC_FILE || o->value == OPTDOC_DIR)
			fprintf(f, ") _iofencectl_files %s; return ;;\n",
				o->value == OPTDOC_DIR ? "-d" : "-f");
		else if (o->value == OPTDOC_WORDS)
			fprintf(f, ") COMPREPLY=($(compgen -W \"%s\" -- \"$cur\")); return ;;\n",
				o->words);
		else if (o->id == O_AGENT)
			fprintf(f, ") COMPREPLY=($(compgen -W \"%s\" -- \"$cur\")); return ;;\n",
				CTL_DEFAULT_AGENT);
		else
			fputs(") return ;;\n", f);
	}
	fprintf(f, "\t\tesac\n\t\tCOMPREPLY=($(compgen -W \"");
	option_words(f, opts, n);
	if (c->operand_words)
		fprintf(f, " %s", c->operand_words);
	fputs("\" -- \"$cur\")) ;;\n", f);
}

static void bash_completion(FILE *f)
{
	char word[32];

	fputs("# bash completion for iofencectl, generated from its option table "
	      "(iofencectl --help-bash).\n"
	      "_iofencectl_files() {\n"
	      "\tCOMPREPLY=($(compgen \"$1\" -- \"$cur\"))\n"
	      "\tcompopt -o filenames 2>/dev/null\n}\n"
	      "_iofencectl() {\n"
	      "\tlocal cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD - 1]}\n"
	      "\tlocal entry=${COMP_WORDS[1]:-}\n"
	      "\tif [ \"$COMP_CWORD\" -eq 1 ]; then\n"
	      "\t\tCOMPREPLY=($(compgen -W \"",
	      f);
	for (size_t i = 0; i < ctl_n_commands; i++)
		if (first_of_group(i)) {
			first_word(ctl_commands[i].name, word, sizeof(word));
			fprintf(f, "%s ", word);
		}
	fputs("--help --version\" -- \"$cur\"))\n\t\treturn\n\tfi\n\tcase $entry in\n", f);
	for (size_t i = 0; i < ctl_n_commands; i++) {
		size_t len;

		if (!strchr(ctl_commands[i].name, ' ') || !first_of_group(i))
			continue;
		len = first_word(ctl_commands[i].name, word, sizeof(word));
		fprintf(f, "\t%s)\n\t\tif [ \"$COMP_CWORD\" -eq 2 ]; then\n"
			   "\t\t\tCOMPREPLY=($(compgen -W \"",
			word);
		for (size_t k = i; k < ctl_n_commands; k++)
			if (!strncmp(ctl_commands[k].name, word, len) &&
			    ctl_commands[k].name[len] == ' ')
				fprintf(f, "%s ", ctl_commands[k].name + len + 1);
		fputs("--help\" -- \"$cur\"))\n\t\t\treturn\n\t\tfi\n"
		      "\t\tentry=\"$entry ${COMP_WORDS[2]}\" ;;\n",
		      f);
	}
	fputs("\tesac\n\tcase $entry in\n", f);
	for (size_t i = 0; i < ctl_n_commands; i++)
		bash_entry(f, &ctl_commands[i]);
	fputs("\tesac\n}\ncomplete -F _iofencectl iofencectl\n", f);
}

/* Text inside a zsh _arguments spec: inside single quotes, and [ ] : escaped. */
static void zsh_text(FILE *f, const char *s)
{
	for (; *s; s++) {
		if (*s == '\'')
			fputs("'\\''", f);
		else if (*s == '[' || *s == ']' || *s == ':' || *s == '\\')
			fprintf(f, "\\%c", *s);
		else
			fputc(*s, f);
	}
}

static void zsh_action(FILE *f, const struct optdoc_option *o)
{
	if (o->value == OPTDOC_FLAG)
		return;
	fputc(':', f);
	for (const char *m = o->arg ? o->arg : "value"; *m; m++) /* the message: no colons */
		fputc(*m == ':' ? ' ' : *m, f);
	if (o->value == OPTDOC_FILE)
		fputs(":_files", f);
	else if (o->value == OPTDOC_DIR)
		fputs(":_files -/", f);
	else if (o->value == OPTDOC_WORDS)
		fprintf(f, ":(%s)", o->words);
	else if (o->id == O_AGENT)
		fputs(":(" CTL_DEFAULT_AGENT ")", f);
	else
		fputs(": ", f);
}

static void zsh_spec(FILE *f, const struct optdoc_option *o, bool is_short)
{
	fputs("\t\t\t'", f);
	if (o->flags & OPTDOC_REPEAT)
		fputc('*', f);
	if (is_short)
		fprintf(f, "-%c%s", o->short_name, o->value == OPTDOC_FLAG ? "" : "+");
	else
		fprintf(f, "--%s%s", o->name, o->value == OPTDOC_FLAG ? "" : "=");
	fputc('[', f);
	zsh_text(f, o->help);
	fputc(']', f);
	zsh_action(f, o);
	fputs("' \\\n", f);
}

static void zsh_entry(FILE *f, const struct ctl_command *c)
{
	struct optdoc_option opts[CTL_MAX_OPTIONS + 2];
	size_t n = ctl_command_options(c, opts);

	fprintf(f, "\t\t('%s')\n\t\t_arguments -s \\\n", c->name);
	for (size_t i = 0; i < n; i++) {
		if (opts[i].short_name)
			zsh_spec(f, &opts[i], true);
		zsh_spec(f, &opts[i], false);
	}
	if (c->operand) {
		fputs("\t\t\t'1:", f);
		zsh_text(f, c->operand);
		if (c->operand_words)
			fprintf(f, ":(%s)' ;;\n", c->operand_words);
		else
			fputs(": ' ;;\n", f);
	} else {
		fputs("\t\t\t;;\n", f);
	}
}

static void zsh_describe(FILE *f, const char *name, const char *summary)
{
	size_t len = strcspn(summary, ";(");

	while (len && summary[len - 1] == ' ')
		len--;
	fputs("\t\t'", f);
	zsh_text(f, name);
	fputc(':', f);
	for (size_t i = 0; i < len; i++)
		fputs(summary[i] == '\'' ? "'\\''" : (char[2]){summary[i], 0}, f);
	fputs("'\n", f);
}

/* "put, delete, wait" for a command with verbs. */
static void verb_list(const char *word, char *buf, size_t len)
{
	size_t n = strlen(word), at = 0;

	buf[0] = 0;
	for (size_t k = 0; k < ctl_n_commands; k++) {
		const char *name = ctl_commands[k].name;
		int w;

		if (strncmp(name, word, n) || name[n] != ' ')
			continue;
		w = snprintf(buf + at, len - at, "%s%s", at ? ", " : "", name + n + 1);
		if (w > 0 && at + (size_t)w < len)
			at += (size_t)w;
	}
}

static void zsh_completion(FILE *f)
{
	char word[32];

	fputs("#compdef iofencectl\n"
	      "# zsh completion for iofencectl, generated from its option table "
	      "(iofencectl --help-zsh).\n"
	      "_iofencectl() {\n\tlocal entry\n\tlocal -a commands verbs\n"
	      "\tif (( CURRENT == 2 )); then\n\t\tcommands=(\n",
	      f);
	for (size_t i = 0; i < ctl_n_commands; i++)
		if (first_of_group(i)) {
			char verbs[128];

			first_word(ctl_commands[i].name, word, sizeof(word));
			verb_list(word, verbs, sizeof(verbs));
			zsh_describe(f, word, verbs[0] ? verbs : ctl_commands[i].summary);
		}
	fputs("\t\t)\n\t\t_describe -t commands 'iofencectl command' commands\n\t\treturn\n"
	      "\tfi\n\tentry=${words[2]}\n\tshift words\n\t(( CURRENT-- ))\n"
	      "\tcase $entry in\n",
	      f);
	for (size_t i = 0; i < ctl_n_commands; i++) {
		size_t len;

		if (!strchr(ctl_commands[i].name, ' ') || !first_of_group(i))
			continue;
		len = first_word(ctl_commands[i].name, word, sizeof(word));
		fprintf(f, "\t(%s)\n\t\tif (( CURRENT == 2 )); then\n\t\t\tverbs=(\n", word);
		for (size_t k = i; k < ctl_n_commands; k++)
			if (!strncmp(ctl_commands[k].name, word, len) &&
			    ctl_commands[k].name[len] == ' ')
				zsh_describe(f, ctl_commands[k].name + len + 1,
					     ctl_commands[k].summary);
		fputs("\t\t\t)\n\t\t\t_describe -t verbs verb verbs\n\t\t\treturn\n\t\tfi\n"
		      "\t\tentry=\"$entry ${words[2]}\"\n\t\tshift words\n\t\t(( CURRENT-- ))\n"
		      "\t\t;;\n",
		      f);
	}
	fputs("\tesac\n\tcase $entry in\n", f);
	for (size_t i = 0; i < ctl_n_commands; i++)
		zsh_entry(f, &ctl_commands[i]);
	fputs("\tesac\n}\n_iofencectl \"$@\"\n", f);
}

/* "NAME|OPERAND_WORDS|-f --file ..." per entry, for tests. */
static void command_list(FILE *f)
{
	for (size_t i = 0; i < ctl_n_commands; i++) {
		struct optdoc_option opts[CTL_MAX_OPTIONS + 2];
		size_t n = ctl_command_options(&ctl_commands[i], opts);

		fprintf(f, "%s|%s|", ctl_commands[i].name,
			ctl_commands[i].operand_words ? ctl_commands[i].operand_words : "");
		option_words(f, opts, n);
		fputc('\n', f);
	}
}

int ctl_docgen(const char *what)
{
	if (!strcmp(what, "man"))
		man_page(stdout);
	else if (!strcmp(what, "bash"))
		bash_completion(stdout);
	else if (!strcmp(what, "zsh"))
		zsh_completion(stdout);
	else if (!strcmp(what, "commands"))
		command_list(stdout);
	else {
		fprintf(stderr, "iofencectl: unknown option \"--help-%s\"\n", what);
		return CTL_USER_ERROR;
	}
	return fflush(stdout) ? CTL_SYSTEM_ERROR : CTL_OK;
}
