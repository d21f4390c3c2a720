/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Command-line options described once: the same table drives getopt, --help, the man pages
 * (roff, through a hidden --help-man) and the shell completions, so none of them can drift
 * from what the parser accepts.
 */
#ifndef IOFENCE_OPTDOC_H
#define IOFENCE_OPTDOC_H

#include <getopt.h>
#include <stdio.h>

/* What an option's value is, for completion and the metavariable. */
enum optdoc_value {
	OPTDOC_FLAG,  /* no value */
	OPTDOC_TEXT,  /* free text (an address, a name, a number) */
	OPTDOC_FILE,  /* a file name */
	OPTDOC_DIR,   /* a directory name */
	OPTDOC_WORDS, /* one of the words in .words */
};

enum {
	OPTDOC_REPEAT = 1 << 0,	      /* may be given several times */
	OPTDOC_OPTIONAL_ARG = 1 << 1, /* --flag or --flag=VALUE */
	OPTDOC_NO_FILE = 1 << 2,      /* command line only, not a config file key */
};

struct optdoc_option {
	int id; /* getopt's return value */
	const char *name;
	char short_name;
	enum optdoc_value value;
	const char *arg;   /* metavariable ("FILE"); NULL for flags */
	const char *words; /* OPTDOC_WORDS: the choices, space separated */
	const char *def;   /* the default as shown, NULL when there is none */
	const char *env;   /* environment variable that sets it, or NULL */
	const char *help;  /* one sentence */
	unsigned flags;
};

/*
 * optdoc_getopt() - getopt_long's tables for @n options
 * @longs: room for n + 1 entries (ends with a zero entry)
 * @shorts: room for 2 * n + 2 characters ("hf:o:")
 */
void optdoc_getopt(const struct optdoc_option *opts, size_t n, struct option *longs,
		   char *shorts);

/* The option with getopt value @id, or NULL. */
const struct optdoc_option *optdoc_find(const struct optdoc_option *opts, size_t n, int id);

/* "-f, --file FILE" into buf. */
void optdoc_spec(const struct optdoc_option *o, char *buf, size_t len);

/* The help lines of @n options: spec, help, then "(default X, env Y)". */
void optdoc_help(FILE *f, const struct optdoc_option *opts, size_t n);

/* Text with roff's special characters escaped (backslash, leading dot or quote, hyphens). */
void optdoc_roff(FILE *f, const char *text);

/* A roff .TP entry per option (for the OPTIONS section of a man page). */
void optdoc_man(FILE *f, const struct optdoc_option *opts, size_t n);

#endif /* IOFENCE_OPTDOC_H */
