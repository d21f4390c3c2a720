// SPDX-License-Identifier: Apache-2.0
/* iofencectl's client configuration file (config.h). */
#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "config.h"

static char *trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && strchr(" \t\r\n", e[-1]))
		*--e = 0;
	return s;
}

/* The option a key names: one with an environment variable, other than --config. */
static const struct optdoc_option *key_option(const char *key)
{
	for (size_t i = 0; i < ctl_n_options; i++)
		if (ctl_options[i].env && ctl_options[i].id != O_CONFIG &&
		    !strcmp(ctl_options[i].name, key))
			return &ctl_options[i];
	return NULL;
}

/* A file name relative to the config file's folder, as an absolute name. */
static char *resolve(const char *cfg_path, const char *value)
{
	char *dir_copy, *out;

	if (value[0] == '/' || !strcmp(value, "-"))
		return strdup(value);
	if (value[0] == '~' && value[1] == '/' && getenv("HOME")) {
		if (asprintf(&out, "%s%s", getenv("HOME"), value + 1) < 0)
			return NULL;
		return out;
	}
	dir_copy = strdup(cfg_path);
	if (!dir_copy)
		return NULL;
	if (asprintf(&out, "%s/%s", dirname(dir_copy), value) < 0)
		out = NULL;
	free(dir_copy);
	return out;
}

static int add_item(struct ctl_config *cfg, const struct optdoc_option *o, const char *value,
		    unsigned line)
{
	struct ctl_config_item *n = realloc(cfg->items, (cfg->n_items + 1) * sizeof(*n));

	if (!n)
		return -ENOMEM;
	cfg->items = n;
	n[cfg->n_items] = (struct ctl_config_item){
	    .key = strdup(o->name),
	    .value = o->value == OPTDOC_FILE ? resolve(cfg->path, value) : strdup(value),
	    .line = line,
	};
	cfg->n_items++;
	if (!n[cfg->n_items - 1].key || !n[cfg->n_items - 1].value)
		return -ENOMEM;
	return 0;
}

static int parse(FILE *f, struct ctl_config *cfg, char *err, size_t err_len)
{
	char line[4096];
	unsigned lineno = 0;

	while (fgets(line, sizeof(line), f)) {
		char *s = trim(line), *eq, *key, *val;
		const struct optdoc_option *o;
		size_t vlen;

		lineno++;
		if (!*s || *s == '#')
			continue;
		eq = strchr(s, '=');
		if (!eq) {
			snprintf(err, err_len, "%s:%u: expected KEY = VALUE", cfg->path, lineno);
			return -EINVAL;
		}
		*eq = 0;
		key = trim(s);
		val = trim(eq + 1);
		vlen = strlen(val);
		if (vlen >= 2 && (val[0] == '"' || val[0] == '\'') && val[vlen - 1] == val[0]) {
			val[vlen - 1] = 0;
			val++;
		}
		o = key_option(key);
		if (!o) {
			snprintf(err, err_len,
				 "%s:%u: %s: unknown key (keys: agent, ca, cert, key, timeout, "
				 "output, etcd-endpoints, etcd-prefix, etcd-ca, etcd-cert, etcd-key)",
				 cfg->path, lineno, key);
			return -EINVAL;
		}
		if (!*val) {
			snprintf(err, err_len, "%s:%u: %s: empty value", cfg->path, lineno, key);
			return -EINVAL;
		}
		if (add_item(cfg, o, val, lineno))
			return -ENOMEM;
	}
	if (ferror(f)) {
		snprintf(err, err_len, "%s: %s", cfg->path, strerror(EIO));
		return -EIO;
	}
	return 0;
}

static char *default_path(void)
{
	const char *xdg = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");
	char *p = NULL;

	if (xdg && *xdg) {
		if (asprintf(&p, "%s/%s", xdg, CTL_CONFIG_NAME) < 0)
			p = NULL;
	} else if (home && *home) {
		if (asprintf(&p, "%s/.config/%s", home, CTL_CONFIG_NAME) < 0)
			p = NULL;
	}
	return p;
}

int ctl_config_read(const char *path, struct ctl_config *cfg, char *err, size_t err_len)
{
	const char *env = getenv("IOFENCE_CONFIG");
	bool named = path || (env && *env);
	FILE *f;
	int r;

	memset(cfg, 0, sizeof(*cfg));
	cfg->path = named ? strdup(path ? path : env) : default_path();
	if (!cfg->path)
		return named ? -ENOMEM : 0;
	f = fopen(cfg->path, "re");
	if (!f) {
		r = -errno;
		if (!named && r == -ENOENT) {
			ctl_config_free(cfg);
			return 0;
		}
		snprintf(err, err_len, "%s: %s", cfg->path, strerror(-r));
		return r;
	}
	r = parse(f, cfg, err, err_len);
	fclose(f);
	return r;
}

void ctl_config_free(struct ctl_config *cfg)
{
	for (size_t i = 0; i < cfg->n_items; i++) {
		free(cfg->items[i].key);
		free(cfg->items[i].value);
	}
	free(cfg->items);
	free(cfg->path);
	memset(cfg, 0, sizeof(*cfg));
}
