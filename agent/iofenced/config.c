// SPDX-License-Identifier: Apache-2.0
/*
 * iofenced's settings: command-line flags and the config file (CONTRACT.md). The file has
 * the flags' names as keys, one `key = value` per line (`#` comments); flags win over it.
 * Without --config, /etc/iofence/iofenced.conf is read if it exists.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <net/if.h>

#include "agent/datapath/datapath.h"
#include "config.h"
#include "log.h"
#include "options.h"

static int append(char ***list, size_t *n, const char *v)
{
	char **p = realloc(*list, (*n + 1) * sizeof(*p));

	if (!p)
		return -ENOMEM;
	*list = p;
	if (!(p[*n] = strdup(v)))
		return -ENOMEM;
	(*n)++;
	return 0;
}

static int set_str(char **dst, const char *v)
{
	char *s = strdup(v);

	if (!s)
		return -ENOMEM;
	free(*dst);
	*dst = s;
	return 0;
}

static int parse_bool(const char *v, bool *ret)
{
	if (!v || !strcmp(v, "true") || !strcmp(v, "yes") || !strcmp(v, "1") || !strcmp(v, "on"))
		*ret = true;
	else if (!strcmp(v, "false") || !strcmp(v, "no") || !strcmp(v, "0") || !strcmp(v, "off"))
		*ret = false;
	else
		return -EINVAL;
	return 0;
}

static int parse_uint(const char *v, unsigned min, unsigned *ret)
{
	char *end;
	unsigned long n;

	errno = 0;
	n = strtoul(v, &end, 10);
	if (errno || end == v || *end || n < min || n > 1000000000UL)
		return -EINVAL;
	*ret = (unsigned)n;
	return 0;
}

/* One setting by option id; from_file says whether listen appends to the file's list. */
static int set_option(struct agent_config *cfg, int id, const char *v, char *err, size_t len)
{
	int level;

	switch (id) {
	case OPT_NODE:
		return set_str(&cfg->node, v);
	case OPT_STATE:
		return set_str(&cfg->state, v);
	case OPT_LISTEN: {
		char **n = realloc(cfg->listen, (cfg->n_listen + 1) * sizeof(*n));

		if (!n || !(n[cfg->n_listen] = strdup(v)))
			return -ENOMEM;
		cfg->listen = n;
		cfg->n_listen++;
		return 0;
	}
	case OPT_PIN_DIR:
		return set_str(&cfg->pin_dir, v);
	case OPT_FAILSAFE: {
		char **n;
		unsigned port;
		char proto[8], extra;

		if (strcmp(v, "none") &&
		    (sscanf(v, "%7[a-z]:%u%c", proto, &port, &extra) != 2 || !port ||
		     port > 65535 || (strcmp(proto, "tcp") && strcmp(proto, "udp")))) {
			snprintf(err, len, "failsafe: \"%s\" is not tcp:PORT, udp:PORT or none", v);
			return -EINVAL;
		}
		if (cfg->n_failsafe >= IOF_FAILSAFE_MAX / 2) {
			snprintf(err, len, "failsafe: at most %d entries", IOF_FAILSAFE_MAX / 2);
			return -EINVAL;
		}
		n = realloc(cfg->failsafe, (cfg->n_failsafe + 1) * sizeof(*n));
		if (!n || !(n[cfg->n_failsafe] = strdup(v)))
			return -ENOMEM;
		cfg->failsafe = n;
		cfg->n_failsafe++;
		return 0;
	}
	case OPT_XDP_GENERIC:
		return parse_bool(v, &cfg->xdp_generic);
	case OPT_ATTACH_RT_PRIORITY:
		if (parse_uint(v, 0, &cfg->attach_rt_priority) ||
		    cfg->attach_rt_priority > 99) {
			snprintf(err, len, "attach-rt-priority: \"%s\" is not a number from 0 "
				 "to 99", v);
			return -EINVAL;
		}
		cfg->attach_rt_priority_set = true;
		return 0;
	case OPT_VXT_IFACE:
		if (!*v || strlen(v) >= IF_NAMESIZE || cfg->n_vxt_ifaces >= 16) {
			snprintf(err, len, "vxlan-trace-interface: \"%s\" is not an interface name "
				 "(at most 16)", v);
			return -EINVAL;
		}
		return append(&cfg->vxt_ifaces, &cfg->n_vxt_ifaces, v);
	case OPT_VXT_PORT: {
		unsigned port;

		if (parse_uint(v, 1, &port) || port > 65535 || cfg->n_vxt_ports >= 4) {
			snprintf(err, len, "vxlan-trace-port: \"%s\" is not a UDP port (at most 4)",
				 v);
			return -EINVAL;
		}
		cfg->vxt_ports[cfg->n_vxt_ports++] = port;
		return 0;
	}
	case OPT_VXT_TUNNELS:
	case OPT_VXT_INNER:
		if (parse_uint(v, 1, id == OPT_VXT_TUNNELS ? &cfg->vxt_tunnel_capacity
							  : &cfg->vxt_inner_capacity)) {
			snprintf(err, len, "%s: \"%s\" is not a number >= 1",
				 id == OPT_VXT_TUNNELS ? "vxlan-trace-tunnel-capacity"
						       : "vxlan-trace-inner-capacity",
				 v);
			return -EINVAL;
		}
		return 0;
	case OPT_METRICS:
		return set_str(&cfg->metrics, v);
	case OPT_LOG_LEVEL:
		level = log_parse_level(v);
		if (level < 0) {
			snprintf(err, len, "log-level: \"%s\" is not one of error|warn|info|debug",
				 v);
			return -EINVAL;
		}
		cfg->log_level = level;
		return 0;
	case OPT_INSECURE_TCP:
		if (parse_bool(v, &cfg->insecure_tcp)) {
			snprintf(err, len, "insecure-tcp: \"%s\" is not true or false", v);
			return -EINVAL;
		}
		return 0;
	case OPT_CLEANUP:
		return parse_bool(v, &cfg->cleanup);
	case OPT_TLS_CA:
		return set_str(&cfg->tls_ca, v);
	case OPT_TLS_CERT:
		return set_str(&cfg->tls_cert, v);
	case OPT_TLS_KEY:
		return set_str(&cfg->tls_key, v);
	case OPT_BPF_OBJECT:
		return set_str(&cfg->bpf_object, v);
	case OPT_ETCD_ENDPOINTS:
		return set_str(&cfg->etcd_endpoints, v);
	case OPT_ETCD_PREFIX:
		if (v[0] != '/' || (strlen(v) > 1 && v[strlen(v) - 1] == '/')) {
			snprintf(err, len, "etcd-prefix: \"%s\" must start and not end with /", v);
			return -EINVAL;
		}
		return set_str(&cfg->etcd_prefix, v);
	case OPT_ETCD_CA:
		return set_str(&cfg->etcd_ca, v);
	case OPT_ETCD_CERT:
		return set_str(&cfg->etcd_cert, v);
	case OPT_ETCD_KEY:
		return set_str(&cfg->etcd_key, v);
	case OPT_DATAPATH:
		if (strcmp(v, "bpf") && strcmp(v, "none")) {
			snprintf(err, len, "datapath: \"%s\" is not bpf or none", v);
			return -EINVAL;
		}
		cfg->datapath_none = !strcmp(v, "none");
		return 0;
	case OPT_KEEP:
		if (parse_uint(v, 1, &cfg->keep)) {
			snprintf(err, len, "keep: \"%s\" is not a number >= 1", v);
			return -EINVAL;
		}
		return 0;
	case OPT_EVENTS_PER_SEC:
		if (parse_uint(v, 0, &cfg->events_per_sec)) {
			snprintf(err, len, "events-per-sec: \"%s\" is not a number", v);
			return -EINVAL;
		}
		return 0;
	case OPT_FLOW_HISTORY:
		if (parse_uint(v, 0, &cfg->flow_history) || cfg->flow_history > 1000000) {
			snprintf(err, len, "flow-history: \"%s\" is not a number from 0 to 1000000",
				 v);
			return -EINVAL;
		}
		cfg->flow_history_set = true;
		return 0;
	case OPT_APPLY_READ_WALL_MS:
		if (parse_uint(v, 0, &cfg->apply_read_wall_ms) || cfg->apply_read_wall_ms > 60000) {
			snprintf(err, len,
				 "apply-read-wall-ms: \"%s\" is not a number from 0 to 60000", v);
			return -EINVAL;
		}
		cfg->apply_read_wall_ms_set = true;
		return 0;
	}
	return -EINVAL;
}

static char *trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' || e[-1] == '\r'))
		*--e = 0;
	return s;
}

/* Reads KEY = VALUE lines into cfg. Return 0, -ENOENT (file missing) or -EINVAL. */
static int read_file(struct agent_config *cfg, const char *path, bool only_runtime, char *err,
		     size_t len)
{
	FILE *f = fopen(path, "re");
	char line[4096];
	unsigned lineno = 0;
	int r = 0;

	if (!f) {
		r = -errno;
		snprintf(err, len, "%s: %s", path, strerror(errno));
		return r;
	}
	while (fgets(line, sizeof(line), f)) {
		char *s = trim(line), *key, *val, *eq;
		const struct optdoc_option *o = NULL;
		char sub[512];

		lineno++;
		if (!*s || *s == '#')
			continue;
		eq = strchr(s, '=');
		if (!eq) {
			snprintf(err, len, "%s:%u: expected KEY = VALUE", path, lineno);
			r = -EINVAL;
			break;
		}
		*eq = 0;
		key = trim(s);
		val = trim(eq + 1);
		if (strlen(val) >= 2 && (val[0] == '"' || val[0] == '\'') &&
		    val[strlen(val) - 1] == val[0]) {
			val[strlen(val) - 1] = 0;
			val++;
		}
		for (size_t i = 0; i < agent_n_options && !o; i++)
			if (!strcmp(agent_options[i].name, key))
				o = &agent_options[i];
		if (!o || o->flags & OPTDOC_NO_FILE) {
			snprintf(err, len, "%s:%u: %s: unknown setting", path, lineno, key);
			r = -EINVAL;
			break;
		}
		if (only_runtime && o->id != OPT_LOG_LEVEL)
			continue;
		sub[0] = 0;
		r = set_option(cfg, o->id, val, sub, sizeof(sub));
		if (r) {
			snprintf(err, len, "%s:%u: %s", path, lineno, sub[0] ? sub : strerror(-r));
			break;
		}
	}
	fclose(f);
	return r;
}

static int fill_defaults(struct agent_config *cfg)
{
	char host[256];

	if (!cfg->node) {
		if (gethostname(host, sizeof(host)))
			return -errno;
		host[sizeof(host) - 1] = 0;
		if (set_str(&cfg->node, host))
			return -ENOMEM;
	}
	if (!cfg->state && set_str(&cfg->state, AGENT_DEFAULT_STATE))
		return -ENOMEM;
	if (!cfg->pin_dir && set_str(&cfg->pin_dir, DP_DEFAULT_PIN_DIR))
		return -ENOMEM;
	if (!cfg->n_listen && set_option(cfg, OPT_LISTEN, AGENT_DEFAULT_LISTEN, NULL, 0))
		return -ENOMEM;
	if (!cfg->n_failsafe && set_option(cfg, OPT_FAILSAFE, "tcp:22", NULL, 0))
		return -ENOMEM;
	if (cfg->etcd_endpoints && !*cfg->etcd_endpoints) {
		free(cfg->etcd_endpoints);
		cfg->etcd_endpoints = NULL;
	}
	if (!cfg->etcd_prefix && set_str(&cfg->etcd_prefix, "/iofence"))
		return -ENOMEM;
	return 0;
}

static void free_list(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* Moves a string list given as flags over the one from the file (when flags gave one). */
static void take_list(char ***dst, size_t *n_dst, char ***src, size_t *n_src)
{
	if (!*n_src)
		return;
	free_list(*dst, *n_dst);
	*dst = *src;
	*n_dst = *n_src;
	*src = NULL;
	*n_src = 0;
}

int config_load(int argc, char **argv, struct agent_config *cfg, char *err, size_t err_len)
{
	struct agent_config flags = {.log_level = -1};
	bool insecure_set = false, keep_set = false, ev_set = false, dp_set = false;
	struct option options[agent_n_options + 1];
	char shorts[2 * agent_n_options + 2];
	int opt, r = 0;

	memset(cfg, 0, sizeof(*cfg));
	cfg->log_level = LOG_INFO;
	cfg->keep = 10;
	cfg->events_per_sec = 1000;
	cfg->flow_history = 4096;
	cfg->apply_read_wall_ms = APPLY_READ_WALL_MS;
	cfg->attach_rt_priority = 1;
	if (argc == 2 && !strcmp(argv[1], "--help-man")) { /* hidden: the build makes iofenced.8 */
		agent_options_man(stdout);
		return 1;
	}
	optdoc_getopt(agent_options, agent_n_options, options, shorts);
	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, shorts, options, NULL)) != -1) {
		char sub[512] = "";

		switch (opt) {
		case OPT_HELP:
			agent_options_help(stdout);
			r = 1;
			goto out;
		case OPT_VERSION:
			printf("iofenced %s\n", AGENT_VERSION);
			r = 1;
			goto out;
		case OPT_CONFIG:
			r = set_str(&flags.config_path, optarg);
			break;
		case '?':
			snprintf(err, err_len, "unknown or incomplete option \"%s\"",
				 argv[optind - 1]);
			r = -EINVAL;
			goto out;
		default:
			insecure_set |= opt == OPT_INSECURE_TCP;
			keep_set |= opt == OPT_KEEP;
			ev_set |= opt == OPT_EVENTS_PER_SEC;
			dp_set |= opt == OPT_DATAPATH;
			flags.keep = cfg->keep;
			r = set_option(&flags, opt, optarg ? optarg : "true", sub, sizeof(sub));
			if (r)
				snprintf(err, err_len, "--%s", sub[0] ? sub : strerror(-r));
		}
		if (r)
			goto out;
	}
	if (optind < argc) {
		snprintf(err, err_len, "unexpected argument \"%s\"", argv[optind]);
		r = -EINVAL;
		goto out;
	}
	/* The file first, then the flags on top of it. */
	cfg->config_path = flags.config_path;
	flags.config_path = NULL;
	if (cfg->config_path) {
		r = read_file(cfg, cfg->config_path, false, err, err_len);
	} else if (access(AGENT_DEFAULT_CONFIG, F_OK) == 0) {
		cfg->config_path = strdup(AGENT_DEFAULT_CONFIG);
		r = read_file(cfg, cfg->config_path, false, err, err_len);
	}
	if (r) {
		r = -EINVAL;
		goto out;
	}
#define TAKE(f)                                                                                    \
	do {                                                                                       \
		if (flags.f) {                                                                     \
			free(cfg->f);                                                              \
			cfg->f = flags.f;                                                          \
			flags.f = NULL;                                                            \
		}                                                                                  \
	} while (0)
	TAKE(node);
	TAKE(state);
	TAKE(pin_dir);
	TAKE(metrics);
	TAKE(tls_ca);
	TAKE(tls_cert);
	TAKE(tls_key);
	TAKE(bpf_object);
	TAKE(etcd_endpoints);
	TAKE(etcd_prefix);
	TAKE(etcd_ca);
	TAKE(etcd_cert);
	TAKE(etcd_key);
#undef TAKE
	/* lists given as flags replace the file's lists */
	take_list(&cfg->failsafe, &cfg->n_failsafe, &flags.failsafe, &flags.n_failsafe);
	take_list(&cfg->listen, &cfg->n_listen, &flags.listen, &flags.n_listen);
	take_list(&cfg->vxt_ifaces, &cfg->n_vxt_ifaces, &flags.vxt_ifaces, &flags.n_vxt_ifaces);
	if (flags.n_vxt_ports) {
		memcpy(cfg->vxt_ports, flags.vxt_ports, sizeof(cfg->vxt_ports));
		cfg->n_vxt_ports = flags.n_vxt_ports;
	}
	if (flags.vxt_tunnel_capacity)
		cfg->vxt_tunnel_capacity = flags.vxt_tunnel_capacity;
	if (flags.vxt_inner_capacity)
		cfg->vxt_inner_capacity = flags.vxt_inner_capacity;
	if (flags.log_level >= 0)
		cfg->log_level = flags.log_level;
	if (insecure_set)
		cfg->insecure_tcp = flags.insecure_tcp;
	if (keep_set)
		cfg->keep = flags.keep;
	if (ev_set)
		cfg->events_per_sec = flags.events_per_sec;
	if (flags.flow_history_set)
		cfg->flow_history = flags.flow_history;
	if (flags.apply_read_wall_ms_set)
		cfg->apply_read_wall_ms = flags.apply_read_wall_ms;
	if (flags.attach_rt_priority_set)
		cfg->attach_rt_priority = flags.attach_rt_priority;
	if (dp_set)
		cfg->datapath_none = flags.datapath_none;
	cfg->cleanup |= flags.cleanup;
	cfg->xdp_generic |= flags.xdp_generic;
	r = fill_defaults(cfg);
	if (r)
		snprintf(err, err_len, "%s", strerror(-r));
out:
	config_free(&flags);
	return r;
}

int config_reload(struct agent_config *cfg, char *err, size_t err_len)
{
	if (!cfg->config_path)
		return 0;
	return read_file(cfg, cfg->config_path, true, err, err_len);
}

void config_free(struct agent_config *cfg)
{
	free(cfg->config_path);
	free(cfg->node);
	free(cfg->state);
	free_list(cfg->listen, cfg->n_listen);
	free(cfg->pin_dir);
	free(cfg->metrics);
	free(cfg->tls_ca);
	free(cfg->tls_cert);
	free(cfg->tls_key);
	free(cfg->bpf_object);
	free(cfg->etcd_endpoints);
	free(cfg->etcd_prefix);
	free(cfg->etcd_ca);
	free(cfg->etcd_cert);
	free(cfg->etcd_key);
	free_list(cfg->failsafe, cfg->n_failsafe);
	free_list(cfg->vxt_ifaces, cfg->n_vxt_ifaces);
	memset(cfg, 0, sizeof(*cfg));
}
