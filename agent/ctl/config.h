/* SPDX-License-Identifier: Apache-2.0 */
/*
 * iofencectl's client configuration file: `key = value` lines (`#` comments), keys are the
 * long names of the options that have an environment variable (agent, ca, cert, key, timeout,
 * output, etcd-*). Relative file names are taken from the file's folder. Precedence of a
 * setting: flag > environment > file > built-in default (options.c applies it).
 */
#ifndef IOFENCE_CTL_CONFIG_H
#define IOFENCE_CTL_CONFIG_H

#include <stddef.h>

struct ctl_config_item {
	char *key;
	char *value; /* file names already resolved against the file's folder */
	unsigned line;
};

struct ctl_config {
	char *path; /* NULL when no file was read */
	struct ctl_config_item *items;
	size_t n_items;
};

/* The file used without --config or IOFENCE_CONFIG: $XDG_CONFIG_HOME or ~/.config. */
#define CTL_CONFIG_NAME "iofence/config"

/*
 * ctl_config_read() - read the client configuration
 * @path: --config's value or NULL (then IOFENCE_CONFIG, then the default file if it exists)
 *
 * Unknown keys and malformed lines are errors naming FILE:LINE in @err. A missing file is an
 * error only when it was asked for by name. Return: 0 or a negative errno.
 */
int ctl_config_read(const char *path, struct ctl_config *cfg, char *err, size_t err_len);

void ctl_config_free(struct ctl_config *cfg);

#endif /* IOFENCE_CTL_CONFIG_H */
