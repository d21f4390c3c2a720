/* SPDX-License-Identifier: Apache-2.0 */
/* iofencectl: commands and the exit codes of CONTRACT.md. */
#ifndef IOFENCE_CTL_H
#define IOFENCE_CTL_H

#include "policy/model.h"

enum ctl_exit {
	CTL_OK = 0,
	CTL_USER_ERROR = 1,   /* bad input, refused policy */
	CTL_SYSTEM_ERROR = 2, /* unreachable agent, permission, out of memory */
};

/* A file's text (NUL-terminated, malloc'ed), or standard input's for "-"; NULL with errno. */
char *ctl_read_input(const char *file);

/* Parses and validates FILE ("-": standard input), printing every error; a ctl_exit code. */
int ctl_load_policy(const char *file, struct policy_document **ret);

/* The fill of each map an image writes (cmd_compile.c); returns the map entries in all. */
#define CTL_MAPS 8
struct ctl_map_fill {
	const char *map;
	size_t entries;
	unsigned capacity;
};
struct policy_image;
size_t ctl_map_fill(const struct policy_image *img, struct ctl_map_fill out[CTL_MAPS]);
void ctl_print_fill(const struct policy_image *img, const char *indent);

int cmd_validate(int argc, char **argv);
int cmd_compile(int argc, char **argv);

#endif /* IOFENCE_CTL_H */
