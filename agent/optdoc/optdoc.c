// SPDX-License-Identifier: Apache-2.0
/* Options described once (optdoc.h): getopt tables, help text and roff from one table. */
#include <stdbool.h>
#include <string.h>

#include "optdoc.h"

void optdoc_getopt(const struct optdoc_option *opts, size_t n, struct option *longs,
		   char *shorts)
{
	size_t s = 0;

	for (size_t i = 0; i < n; i++) {
		const struct optdoc_option *o = &opts[i];
		int has = o->value == OPTDOC_FLAG	    ? no_argument
			  : o->flags & OPTDOC_OPTIONAL_ARG ? optional_argument
							    : required_argument;

		longs[i] = (struct option){o->name, has, NULL, o->id};
		if (o->short_name) {
			shorts[s++] = o->short_name;
			if (has == required_argument)
				shorts[s++] = ':';
		}
	}
	longs[n] = (struct option){0};
	shorts[s] = 0;
}

const struct optdoc_option *optdoc_find(const struct optdoc_option *opts, size_t n, int id)
{
	for (size_t i = 0; i < n; i++)
		if (opts[i].id == id)
			return &opts[i];
	return NULL;
}

void optdoc_spec(const struct optdoc_option *o, char *buf, size_t len)
{
	const char *arg = o->arg ? o->arg : "VALUE";
	int at = 0;

	if (o->short_name)
		at = snprintf(buf, len, "-%c, ", o->short_name);
	if (at < 0 || (size_t)at >= len)
		return;
	if (o->value == OPTDOC_FLAG)
		snprintf(buf + at, len - (size_t)at, "--%s", o->name);
	else if (o->flags & OPTDOC_OPTIONAL_ARG)
		snprintf(buf + at, len - (size_t)at, "--%s[=%s]", o->name, arg);
	else
		snprintf(buf + at, len - (size_t)at, "--%s %s", o->name, arg);
}

/* "(default X; env Y; repeatable)" or "" */
static void notes(const struct optdoc_option *o, char *buf, size_t len)
{
	size_t at = 0;

	buf[0] = 0;
#define NOTE(...)                                                                                  \
	do {                                                                                       \
		int w = snprintf(buf + at, len - at, "%s", at ? "; " : " (");                      \
		if (w > 0 && at + (size_t)w < len)                                                 \
			at += (size_t)w;                                                           \
		w = snprintf(buf + at, len - at, __VA_ARGS__);                                     \
		if (w > 0 && at + (size_t)w < len)                                                 \
			at += (size_t)w;                                                           \
	} while (0)
	if (o->value == OPTDOC_WORDS)
		NOTE("one of: %s", o->words);
	if (o->def)
		NOTE("default: %s", o->def);
	if (o->env)
		NOTE("env %s", o->env);
	if (o->flags & OPTDOC_REPEAT)
		NOTE("repeatable");
#undef NOTE
	if (at && at + 1 < len) {
		buf[at] = ')';
		buf[at + 1] = 0;
	}
}

/* Words of @text from column @col on, wrapped at @width with continuation lines at @indent. */
static void wrap(FILE *f, const char *text, int col, int indent, int width)
{
	const char *p = text;

	while (*p) {
		size_t word = strcspn(p, " ");

		if (col > indent && col + 1 + (int)word > width) {
			fprintf(f, "\n%*s", indent, "");
			col = indent;
		} else if (col > indent) {
			fputc(' ', f);
			col++;
		}
		fprintf(f, "%.*s", (int)word, p);
		col += (int)word;
		p += word;
		while (*p == ' ')
			p++;
	}
	fputc('\n', f);
}

void optdoc_help(FILE *f, const struct optdoc_option *opts, size_t n)
{
	enum { INDENT = 29, WIDTH = 100 };

	for (size_t i = 0; i < n; i++) {
		char spec[96], note[512], text[1024];

		optdoc_spec(&opts[i], spec, sizeof(spec));
		notes(&opts[i], note, sizeof(note));
		snprintf(text, sizeof(text), "%s%s", opts[i].help, note);
		if (strlen(spec) <= INDENT - 3)
			fprintf(f, "  %-*s", INDENT - 2, spec);
		else
			fprintf(f, "  %s\n%*s", spec, INDENT, "");
		wrap(f, text, INDENT, INDENT, WIDTH);
	}
}

void optdoc_roff(FILE *f, const char *text)
{
	bool line_start = true;

	for (const char *p = text; *p; p++) {
		if (line_start && (*p == '.' || *p == '\''))
			fputs("\\&", f);
		line_start = *p == '\n';
		if (*p == '\\')
			fputs("\\e", f);
		else if (*p == '-')
			fputs("\\-", f);
		else
			fputc(*p, f);
	}
}

void optdoc_man(FILE *f, const struct optdoc_option *opts, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const struct optdoc_option *o = &opts[i];
		char note[512];

		fputs(".TP\n", f);
		if (o->short_name)
			fprintf(f, "\\fB\\-%c\\fR, ", o->short_name);
		fputs("\\fB\\-\\-", f);
		optdoc_roff(f, o->name);
		fputs("\\fR", f);
		if (o->value != OPTDOC_FLAG) {
			fputs(o->flags & OPTDOC_OPTIONAL_ARG ? "[=\\fI" : " \\fI", f);
			optdoc_roff(f, o->arg ? o->arg : "VALUE");
			fputs(o->flags & OPTDOC_OPTIONAL_ARG ? "\\fR]" : "\\fR", f);
		}
		fputc('\n', f);
		notes(o, note, sizeof(note));
		optdoc_roff(f, o->help);
		optdoc_roff(f, note);
		fputc('\n', f);
	}
}
