/* SPDX-License-Identifier: Apache-2.0 */
/*
 * iofencectl's commands and options, described once (commands.c): the parser (options.c),
 * --help, the man page and the shell completions (docgen.c) all read this table.
 */
#ifndef IOFENCE_CTL_COMMANDS_H
#define IOFENCE_CTL_COMMANDS_H

#include <stdbool.h>
#include <stddef.h>

#include "agent/optdoc/optdoc.h"

/* Option ids; an option with a short name has that character as its id (getopt's value). */
enum ctl_option_id {
	O_AGENT = 'a',
	O_FILE = 'f',
	O_FOLLOW = 'F',
	O_HELP = 'h',
	O_OUTPUT = 'o',
	O_CONFIG = 256,
	O_CA,
	O_CERT,
	O_KEY,
	O_TIMEOUT,
	O_ENDPOINT,
	O_VERDICT,
	O_REVISION,
	O_DURATION,
	O_TO_REVISION, /* rollback --to N */
	O_TO_ADDR,     /* trace --to ADDR|ENDPOINT */
	O_DRY_RUN,
	O_STRICT,
	O_ETCD_ENDPOINTS,
	O_ETCD_PREFIX,
	O_ETCD_CA,
	O_ETCD_CERT,
	O_ETCD_KEY,
	O_WAIT,
	O_LISTEN,
	O_FROM,
	O_PROTO,
	O_PORT, /* trace --port N */
	O_NODE,
	O_INTERFACE,
	O_MODULE_PORT, /* module enable --port N (repeatable) */
	O_TUNNEL_CAPACITY,
	O_INNER_CAPACITY,
	O_TOP,
	O_INTERVAL,
	O_ENFORCED,
	O_LAST,	     /* flows --last N */
	O_SINCE_SEQ, /* flows --since-seq N */
};

/* One option as a command uses it: NULL fields take the global table's text. */
struct ctl_option_use {
	int id;
	const char *def;
	const char *words;
	const char *help;
	bool flag_only; /* a meaning of its own here: environment and config file do not set it */
};

#define CTL_MAX_OPTIONS 24

struct ctl_command {
	const char *name;	/* "apply", or "module enable" for a verb of a command */
	const char *operand;	/* positional argument as shown ("policy|endpoints"), or NULL */
	const char *operand_words; /* its completions, space separated, or NULL */
	const char *summary;
	int (*run)(int argc, char **argv); /* called with argv[0] = the first word */
	bool multi_agent;		   /* --agent repeatable */
	struct ctl_option_use options[CTL_MAX_OPTIONS]; /* ends at id 0 */
};

extern const struct ctl_command ctl_commands[];
extern const size_t ctl_n_commands;

/* Every option iofencectl knows (--config and --help are accepted by every command). */
extern const struct optdoc_option ctl_options[];
extern const size_t ctl_n_options;

/* The entry named @name ("endpoint wait"), or NULL. */
const struct ctl_command *ctl_command_find(const char *name);

/*
 * The options @cmd accepts, resolved (its overrides applied, --config and --help appended),
 * into @out (room for CTL_MAX_OPTIONS + 2); returns how many.
 */
size_t ctl_command_options(const struct ctl_command *cmd, struct optdoc_option *out);

/* Prints `iofencectl NAME --help`: synopsis, summary and every option with its default. */
void ctl_command_help(FILE *f, const struct ctl_command *cmd);

/* The first word of an entry's name has several entries ("module"): prints them all. */
bool ctl_group_help(FILE *f, const char *word);

/* Hidden outputs for the build: the man page, completions, the command list (docgen.c). */
int ctl_docgen(const char *what);

#endif /* IOFENCE_CTL_COMMANDS_H */
