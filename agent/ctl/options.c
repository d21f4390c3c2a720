// SPDX-License-Identifier: Apache-2.0
/*
 * iofencectl's option parser: getopt over the command's entry in commands.c, then the
 * settings no flag gave from the environment, then from the client config file, then the
 * built-in defaults. Every bad value is reported with where it came from (flag, variable or
 * FILE:LINE).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/etcd/cluster.h"
#include "agent/rpc/tls_check.h"
#include "client.h"
#include "commands.h"
#include "ctl.h"

#define N_IDS (O_ENFORCED + 1)

static int bad(const struct ctl_opts *o, const char *where, const char *v, const char *what)
{
	fprintf(stderr, "iofencectl %s: %s: \"%s\" is not %s\n", o->cmd, where, v, what);
	return CTL_USER_ERROR;
}

static int number(const struct ctl_opts *o, const char *where, const char *v, unsigned long min,
		  unsigned long max, uint32_t *ret)
{
	char *end;
	unsigned long n;

	errno = 0;
	n = strtoul(v, &end, 10);
	if (!*v || *end || *v == '-' || errno || n < min || n > max) {
		char what[64];

		snprintf(what, sizeof(what), "a number %lu..%lu", min, max);
		return bad(o, where, v, what);
	}
	*ret = (uint32_t)n;
	return -1;
}

static int seconds(const struct ctl_opts *o, const char *where, const char *v, bool zero_ok,
		   double *ret)
{
	char *end;
	double t = strtod(v, &end);

	if (!*v || *end || t < 0 || (!zero_ok && t == 0) || t > 1e7)
		return bad(o, where, v, "a number of seconds");
	*ret = t;
	return -1;
}

static bool has_word(const char *words, const char *w)
{
	size_t len = strlen(w);

	for (const char *p = words; p && *p;) {
		const char *e = strchr(p, ' ');
		size_t n = e ? (size_t)(e - p) : strlen(p);

		if (n == len && !strncmp(p, w, n))
			return true;
		p = e ? e + 1 : p + n;
	}
	return false;
}

static int add_agent(struct ctl_opts *o, const char *addr)
{
	const char **n = realloc(o->agents, (o->n_agents + 1) * sizeof(*n));

	if (!n)
		return CTL_SYSTEM_ERROR;
	o->agents = n;
	o->agents[o->n_agents++] = addr;
	return -1;
}

/* One value of option @opt (as the command sees it) from @where; -1 or an exit code. */
static int set_value(struct ctl_opts *o, const struct optdoc_option *opt, const char *v,
		     const char *where)
{
	double t;
	int r = -1;

	if (opt->value == OPTDOC_WORDS && opt->id != O_PROTO && !has_word(opt->words, v)) {
		char what[128];

		snprintf(what, sizeof(what), "one of: %s", opt->words);
		return bad(o, where, v, what);
	}
	switch (opt->id) {
	case O_AGENT:
		return add_agent(o, v);
	case O_CA:
		o->tls.ca = v;
		break;
	case O_CERT:
		o->tls.cert = v;
		break;
	case O_KEY:
		o->tls.key = v;
		break;
	case O_TIMEOUT:
		r = seconds(o, where, v, false, &t);
		o->timeout_ms = (int)(t * 1000);
		o->timeout_set = true;
		break;
	case O_OUTPUT:
		o->output = v;
		break;
	case O_FILE:
		o->file = v;
		break;
	case O_ENDPOINT:
		o->endpoint = v;
		break;
	case O_VERDICT:
		o->verdict = v;
		break;
	case O_FOLLOW:
		o->follow = true;
		break;
	case O_DURATION:
		o->duration_set = true;
		r = seconds(o, where, v, true, &o->duration);
		break;
	case O_LAST:
		o->last_set = true;
		r = number(o, where, v, 0, 1000000, &o->last);
		break;
	case O_SINCE_SEQ: {
		char *end;

		errno = 0;
		o->since_seq = strtoull(v, &end, 10);
		if (!*v || *end || *v == '-' || errno)
			return bad(o, where, v, "an event sequence number");
		o->since_seq_set = true;
		break;
	}
	case O_REVISION:
	case O_TO_REVISION: {
		char *end;

		errno = 0;
		o->revision = strtoull(v, &end, 10);
		if (!*v || *end || *v == '-' || errno)
			return bad(o, where, v, "a revision number");
		break;
	}
	case O_TO_ADDR:
		o->to = v;
		break;
	case O_FROM:
		o->from = v;
		break;
	case O_PROTO:
		o->proto = v;
		break;
	case O_PORT: {
		uint32_t p = 0;

		r = number(o, where, v, 1, 65535, &p);
		o->port = p;
		break;
	}
	case O_DRY_RUN:
		o->dry_run = true;
		break;
	case O_STRICT:
		o->strict = true;
		break;
	case O_ETCD_ENDPOINTS:
		o->etcd_endpoints = v;
		break;
	case O_ETCD_PREFIX:
		o->etcd_prefix = v;
		break;
	case O_ETCD_CA:
		o->etcd_tls.ca = v;
		break;
	case O_ETCD_CERT:
		o->etcd_tls.cert = v;
		break;
	case O_ETCD_KEY:
		o->etcd_tls.key = v;
		break;
	case O_WAIT:
		o->wait = true;
		break;
	case O_ENFORCED:
		o->enforced = true;
		break;
	case O_LISTEN:
		o->listen = v;
		break;
	case O_NODE:
		o->node = v;
		break;
	case O_INTERFACE:
		if (!*v || o->n_ifaces >= 16)
			return bad(o, where, v, "one more interface name (at most 16)");
		o->ifaces[o->n_ifaces++] = v;
		break;
	case O_MODULE_PORT:
		if (o->n_ports >= 4)
			return bad(o, where, v, "one more port (at most 4)");
		r = number(o, where, v, 1, 65535, &o->ports[o->n_ports]);
		o->n_ports++;
		break;
	case O_TUNNEL_CAPACITY:
		r = number(o, where, v, 1, 1u << 22, &o->tunnel_capacity);
		break;
	case O_INNER_CAPACITY:
		r = number(o, where, v, 1, 1u << 22, &o->inner_capacity);
		break;
	case O_TOP:
		r = number(o, where, v, 0, 10000, &o->top);
		break;
	case O_INTERVAL:
		r = seconds(o, where, v, true, &o->interval);
		if (r < 0 && o->interval > 60)
			r = bad(o, where, v, "a number of seconds (0..60)");
		break;
	}
	return r;
}

/* The settings no flag gave: environment first, then the config file. */
static int fill_unset(struct ctl_opts *o, const struct optdoc_option *opts, size_t n,
		      const bool *given)
{
	for (size_t i = 0; i < n; i++) {
		const struct optdoc_option *opt = &opts[i];
		const char *env = opt->env && opt->id != O_CONFIG ? getenv(opt->env) : NULL;
		char where[512];
		int r = -1;

		if (!opt->env || opt->id == O_CONFIG || given[opt->id])
			continue;
		if (env && *env) {
			if (opt->id == O_OUTPUT && !has_word(opt->words, env))
				continue; /* a default format the command does not have */
			if (opt->id == O_AGENT) { /* comma-separated list */
				free(o->env_agents);
				o->env_agents = strdup(env);
				if (!o->env_agents)
					return CTL_SYSTEM_ERROR;
				for (char *s, *tok = strtok_r(o->env_agents, ",", &s); tok && r < 0;
				     tok = strtok_r(NULL, ",", &s))
					r = add_agent(o, tok);
				o->agents_given = true;
			} else {
				r = set_value(o, opt, env, opt->env);
			}
			if (r >= 0)
				return r;
			continue;
		}
		for (size_t k = 0; k < o->config.n_items && r < 0; k++) {
			const struct ctl_config_item *it = &o->config.items[k];

			if (strcmp(it->key, opt->name))
				continue;
			if (opt->id == O_OUTPUT && !has_word(opt->words, it->value))
				continue;
			snprintf(where, sizeof(where), "%s:%u: %s", o->config.path, it->line,
				 it->key);
			r = set_value(o, opt, it->value, where);
			o->agents_given |= opt->id == O_AGENT;
		}
		if (r >= 0)
			return r;
	}
	return -1;
}

static int usage_error(const struct ctl_opts *o, const char *fmt, const char *arg)
{
	fprintf(stderr, "iofencectl %s: ", o->cmd);
	fprintf(stderr, fmt, arg);
	fprintf(stderr, " (see iofencectl %s --help)\n", o->cmd);
	return CTL_USER_ERROR;
}

static int parse_flags(int argc, char **argv, const struct ctl_command *cmd,
		       const struct optdoc_option *opts, size_t n, struct ctl_opts *o,
		       bool *given, const char **config)
{
	struct option longs[CTL_MAX_OPTIONS + 3];
	char shorts[2 * (CTL_MAX_OPTIONS + 2) + 2];
	int c, r;

	optdoc_getopt(opts, n, longs, shorts);
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, shorts, longs, NULL)) != -1) {
		const struct optdoc_option *opt = optdoc_find(opts, n, c);
		char where[64];

		if (c == O_HELP) {
			ctl_command_help(stdout, cmd);
			return CTL_OK;
		}
		if (!opt)
			return usage_error(o, "unknown option or missing value in \"%s\"",
					   argv[optind - 1]);
		if (c == O_CONFIG) {
			*config = optarg;
			continue;
		}
		snprintf(where, sizeof(where), "--%s", opt->name);
		r = set_value(o, opt, optarg ? optarg : "", where);
		if (r >= 0)
			return r;
		given[c] = true;
	}
	if (optind < argc && cmd->operand)
		o->positional = argv[optind++];
	if (optind < argc)
		return usage_error(o, "unexpected argument \"%s\"", argv[optind]);
	return -1;
}

int ctl_parse(int argc, char **argv, const char *name, struct ctl_opts *o)
{
	const struct ctl_command *cmd = ctl_command_find(name);
	struct optdoc_option opts[CTL_MAX_OPTIONS + 2];
	bool given[N_IDS] = {false};
	const char *config = NULL;
	char err[1024] = "";
	size_t n;
	int r;

	memset(o, 0, sizeof(*o));
	o->cmd = name;
	o->timeout_ms = 10000;
	o->duration = 1.0;
	o->top = 10;
	o->interval = 1.0;
	if (!cmd) {
		fprintf(stderr, "iofencectl: no command \"%s\"\n", name);
		return CTL_SYSTEM_ERROR;
	}
	n = ctl_command_options(cmd, opts);
	r = parse_flags(argc, argv, cmd, opts, n, o, given, &config);
	if (r >= 0)
		goto fail;
	o->agents_given = o->n_agents > 0;
	r = ctl_config_read(config, &o->config, err, sizeof(err));
	if (r) {
		fprintf(stderr, "iofencectl %s: config: %s\n", name, err);
		r = r == -ENOMEM ? CTL_SYSTEM_ERROR : CTL_USER_ERROR;
		goto fail;
	}
	r = fill_unset(o, opts, n, given);
	if (r >= 0)
		goto fail;
	if (o->n_agents > 1 && !cmd->multi_agent) {
		if (given[O_AGENT]) {
			r = usage_error(o, "one --agent only%s", "");
			goto fail;
		}
		o->n_agents = 1; /* several agents configured: this command asks the first */
	}
	if ((o->tls.cert || o->tls.key) && !(o->tls.cert && o->tls.key && o->tls.ca)) {
		r = usage_error(o, "--ca, --cert and --key go together%s", "");
		goto fail;
	}
	if (o->tls.ca) { /* the client's own files, before any connection */
		r = rpc_tls_check_local(&o->tls, err, sizeof(err));
		if (r) {
			fprintf(stderr, "iofencectl %s: TLS: %s\n", name, err);
			r = CTL_USER_ERROR;
			goto fail;
		}
	}
	if (!o->etcd_prefix)
		o->etcd_prefix = "/iofence";
	if (!o->n_agents && add_agent(o, CTL_DEFAULT_AGENT) >= 0) {
		r = CTL_SYSTEM_ERROR;
		goto fail;
	}
	return -1;
fail:
	ctl_opts_free(o);
	return r;
}

void ctl_opts_free(struct ctl_opts *o)
{
	free(o->agents);
	o->agents = NULL;
	o->n_agents = 0;
	free(o->env_agents);
	o->env_agents = NULL;
	cluster_agents_free(o->found_agents, o->n_found_agents);
	o->found_agents = NULL;
	o->n_found_agents = 0;
	ctl_config_free(&o->config);
}
