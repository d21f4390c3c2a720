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

/* Parses and validates FILE, printing every error; returns a ctl_exit code. */
int ctl_load_policy(const char *file, struct policy_document **ret);

int cmd_validate(int argc, char **argv);
int cmd_compile(int argc, char **argv);

#endif /* IOFENCE_CTL_H */
