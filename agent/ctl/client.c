// SPDX-License-Identifier: Apache-2.0
/* iofencectl: options shared by the commands that talk to agents, and exit code mapping. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "ctl.h"

bool ctl_grpc_used;

enum {
	O_AGENT = 256,
	O_CA,
	O_CERT,
	O_KEY,
	O_TIMEOUT,
	O_ENDPOINT,
	O_VERDICT,
	O_FOLLOW,
	O_REVISION,
	O_DURATION,
	O_LAST,
	O_SINCE_SEQ,
	O_TO,
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
	O_PORT,
};

int ctl_parse(int argc, char **argv, const char *cmd, unsigned accepted, const char *usage,
	      struct ctl_opts *o)
{
	static const struct option opts[] = {
	    {"agent", required_argument, NULL, O_AGENT},
	    {"ca", required_argument, NULL, O_CA},
	    {"cert", required_argument, NULL, O_CERT},
	    {"key", required_argument, NULL, O_KEY},
	    {"timeout", required_argument, NULL, O_TIMEOUT},
	    {"output", required_argument, NULL, 'o'},
	    {"file", required_argument, NULL, 'f'},
	    {"endpoint", required_argument, NULL, O_ENDPOINT},
	    {"verdict", required_argument, NULL, O_VERDICT},
	    {"follow", no_argument, NULL, O_FOLLOW},
	    {"revision", required_argument, NULL, O_REVISION},
	    {"duration", required_argument, NULL, O_DURATION},
	    {"last", required_argument, NULL, O_LAST},
	    {"since-seq", required_argument, NULL, O_SINCE_SEQ},
	    {"to", required_argument, NULL, O_TO},
	    {"dry-run", no_argument, NULL, O_DRY_RUN},
	    {"strict", no_argument, NULL, O_STRICT},
	    {"etcd-endpoints", required_argument, NULL, O_ETCD_ENDPOINTS},
	    {"etcd-prefix", required_argument, NULL, O_ETCD_PREFIX},
	    {"etcd-ca", required_argument, NULL, O_ETCD_CA},
	    {"etcd-cert", required_argument, NULL, O_ETCD_CERT},
	    {"etcd-key", required_argument, NULL, O_ETCD_KEY},
	    {"wait", no_argument, NULL, O_WAIT},
	    {"listen", required_argument, NULL, O_LISTEN},
	    {"from", required_argument, NULL, O_FROM},
	    {"proto", required_argument, NULL, O_PROTO},
	    {"port", required_argument, NULL, O_PORT},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	int c;
	char *end;

	memset(o, 0, sizeof(*o));
	o->cmd = cmd;
	o->timeout_ms = 10000;
	o->duration = 1.0;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "ho:f:a:F", opts, NULL)) != -1) {
		unsigned need = 0;

		switch (c) {
		case 'h':
			printf("usage: %s\n", usage);
			return CTL_OK;
		case 'a':
		case O_AGENT: {
			const char **n = realloc(o->agents, (o->n_agents + 1) * sizeof(*n));

			if (!n)
				return CTL_SYSTEM_ERROR;
			o->agents = n;
			o->agents[o->n_agents++] = optarg;
			break;
		}
		case O_CA:
			o->tls.ca = optarg;
			break;
		case O_CERT:
			o->tls.cert = optarg;
			break;
		case O_KEY:
			o->tls.key = optarg;
			break;
		case O_TIMEOUT: {
			double t = strtod(optarg, &end);

			if (*end || t <= 0) {
				fprintf(
				    stderr,
				    "iofencectl %s: --timeout: \"%s\" is not a number of seconds\n",
				    cmd, optarg);
				return CTL_USER_ERROR;
			}
			o->timeout_ms = (int)(t * 1000);
			o->timeout_set = true;
			break;
		case O_ETCD_ENDPOINTS:
			o->etcd_endpoints = optarg;
			break;
		case O_ETCD_PREFIX:
			o->etcd_prefix = optarg;
			break;
		case O_ETCD_CA:
			o->etcd_tls.ca = optarg;
			break;
		case O_ETCD_CERT:
			o->etcd_tls.cert = optarg;
			break;
		case O_ETCD_KEY:
			o->etcd_tls.key = optarg;
			break;
		case O_WAIT:
			need = OPT_F_WAIT;
			o->wait = true;
			break;
		}
		case 'o':
			need = OPT_F_OUTPUT;
			o->output = optarg;
			break;
		case 'f':
			need = OPT_F_FILE;
			o->file = optarg;
			break;
		case O_ENDPOINT:
			need = OPT_F_ENDPOINT;
			o->endpoint = optarg;
			break;
		case O_VERDICT:
			need = OPT_F_VERDICT;
			o->verdict = optarg;
			if (strcmp(optarg, "allow") && strcmp(optarg, "deny") &&
			    strcmp(optarg, "audit")) {
				fprintf(stderr,
					"iofencectl %s: --verdict: \"%s\" is not allow, deny or "
					"audit\n",
					cmd, optarg);
				return CTL_USER_ERROR;
			}
			break;
		case 'F':
		case O_FOLLOW:
			need = OPT_F_FOLLOW;
			o->follow = true;
			break;
		case O_DRY_RUN:
		case O_STRICT:
			need = OPT_F_APPLY;
			*(c == O_DRY_RUN ? &o->dry_run : &o->strict) = true;
			break;
		case O_FROM:
		case O_PROTO:
			need = OPT_F_TRACE;
			*(c == O_FROM ? &o->from : &o->proto) = optarg;
			break;
		case O_PORT: {
			unsigned long port = strtoul(optarg, &end, 10);

			need = OPT_F_TRACE;
			if (*end || !*optarg || port < 1 || port > 65535) {
				fprintf(stderr, "iofencectl %s: --port: \"%s\" is not 1..65535\n",
					cmd, optarg);
				return CTL_USER_ERROR;
			}
			o->port = (unsigned)port;
			break;
		}
		case O_TO:
			if (accepted & OPT_F_TRACE) { /* trace --to ADDR; rollback --to N */
				o->to = optarg;
				break;
			}
			/* fall through */
		case O_REVISION:
			need = OPT_F_REVISION;
			o->revision = strtoull(optarg, &end, 10);
			if (*end || !*optarg || *optarg == '-') {
				fprintf(stderr, "iofencectl %s: %s: \"%s\" is not a number\n", cmd,
					c == O_TO ? "--to" : "--revision", optarg);
				return CTL_USER_ERROR;
			}
			break;
		case O_LAST: {
			unsigned long n = strtoul(optarg, &end, 10);

			need = OPT_F_FOLLOW;
			if (*end || !*optarg || *optarg == '-' || n > 1000000) {
				fprintf(stderr,
					"iofencectl %s: --last: \"%s\" is not a number of events "
					"(0 to 1000000)\n",
					cmd, optarg);
				return CTL_USER_ERROR;
			}
			o->last = (unsigned)n;
			o->last_set = true;
			break;
		}
		case O_SINCE_SEQ:
			need = OPT_F_FOLLOW;
			o->since_seq = strtoull(optarg, &end, 10);
			if (*end || !*optarg || *optarg == '-') {
				fprintf(stderr, "iofencectl %s: --since-seq: \"%s\" is not a number\n",
					cmd, optarg);
				return CTL_USER_ERROR;
			}
			o->since_seq_set = true;
			break;
		case O_DURATION:
			o->duration_set = true;
			need = OPT_F_FOLLOW;
			o->duration = strtod(optarg, &end);
			if (*end || o->duration < 0) {
				fprintf(stderr,
					"iofencectl %s: --duration: \"%s\" is not a number of "
					"seconds\n",
					cmd, optarg);
				return CTL_USER_ERROR;
			}
			break;
		case O_LISTEN:
			need = OPT_F_LISTEN;
			o->listen = optarg;
			break;
		default:
			fprintf(stderr,
				"iofencectl %s: unknown or incomplete option \"%s\"\nusage: %s\n",
				cmd, argv[optind - 1], usage);
			return CTL_USER_ERROR;
		}
		if (need && !(accepted & need)) {
			fprintf(stderr, "iofencectl %s: option \"%s\" does not apply\nusage: %s\n",
				cmd, argv[optind - 1], usage);
			return CTL_USER_ERROR;
		}
	}
	if (optind < argc && (accepted & OPT_F_POSITIONAL) && !o->positional)
		o->positional = argv[optind++];
	if (optind < argc) {
		fprintf(stderr, "iofencectl %s: unexpected argument \"%s\"\nusage: %s\n", cmd,
			argv[optind], usage);
		return CTL_USER_ERROR;
	}
	if (o->n_agents > 1 && !(accepted & OPT_F_MULTI)) {
		fprintf(stderr, "iofencectl %s: one --agent only\n", cmd);
		return CTL_USER_ERROR;
	}
	if ((o->tls.cert || o->tls.key) && !(o->tls.cert && o->tls.key && o->tls.ca)) {
		fprintf(stderr, "iofencectl %s: --ca, --cert and --key go together\n", cmd);
		return CTL_USER_ERROR;
	}
	if (!o->etcd_endpoints) {
		const char *env = getenv("IOFENCE_ETCD_ENDPOINTS");

		o->etcd_endpoints = env && *env ? env : NULL;
	}
	if (!o->etcd_prefix) {
		const char *env = getenv("IOFENCE_ETCD_PREFIX");

		o->etcd_prefix = env && *env ? env : "/iofence";
	}
	if (!o->n_agents) {
		const char *env = getenv("IOFENCE_AGENT");

		o->agents = malloc(sizeof(*o->agents));
		if (!o->agents)
			return CTL_SYSTEM_ERROR;
		o->agents[0] = env && *env ? env : CTL_DEFAULT_AGENT;
		o->n_agents = 1;
	}
	return -1;
}

void ctl_opts_free(struct ctl_opts *o)
{
	free(o->agents);
	o->agents = NULL;
}

grpc_channel *ctl_connect(const struct ctl_opts *o, const char *agent)
{
	char err[512];
	grpc_channel *ch;

	if (!ctl_grpc_used) {
		ctl_grpc_used = true;
		grpc_init();
	}
	ch = rpc_channel_open(agent, &o->tls, err, sizeof(err));
	if (!ch)
		fprintf(stderr, "iofencectl %s: %s\n", o->cmd, err);
	return ch;
}

int ctl_exit_for(grpc_status_code code)
{
	switch (code) {
	case GRPC_STATUS_OK:
		return CTL_OK;
	case GRPC_STATUS_INVALID_ARGUMENT:
	case GRPC_STATUS_FAILED_PRECONDITION:
	case GRPC_STATUS_RESOURCE_EXHAUSTED:
	case GRPC_STATUS_NOT_FOUND:
	case GRPC_STATUS_OUT_OF_RANGE:
		return CTL_USER_ERROR;
	default:
		return CTL_SYSTEM_ERROR;
	}
}

int ctl_report(const struct ctl_opts *o, const char *agent, const struct rpc_result *res,
	       int local_err)
{
	if (local_err) {
		fprintf(stderr, "iofencectl %s: %s: %s\n", o->cmd, agent,
			local_err == -EPROTO ? "the agent's answer does not parse"
					     : strerror(-local_err));
		return CTL_SYSTEM_ERROR;
	}
	if (res->status == GRPC_STATUS_OK)
		return CTL_OK;
	fprintf(stderr, "iofencectl %s: %s: %s: %s\n", o->cmd, agent, rpc_status_name(res->status),
		res->status == GRPC_STATUS_UNAVAILABLE && (!res->details || !*res->details)
		    ? "agent unreachable"
		: res->details ? res->details
			       : "");
	return ctl_exit_for(res->status);
}

void json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; s && *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '"' || ch == '\\')
			fprintf(f, "\\%c", ch);
		else if (ch == '\n')
			fputs("\\n", f);
		else if (ch < 0x20)
			fprintf(f, "\\u%04x", ch);
		else
			fputc(ch, f);
	}
	fputc('"', f);
}

void fmt_duration(uint64_t sec, char *buf, size_t len)
{
	if (sec >= 86400)
		snprintf(buf, len, "%llud%lluh", (unsigned long long)(sec / 86400),
			 (unsigned long long)(sec % 86400 / 3600));
	else if (sec >= 3600)
		snprintf(buf, len, "%lluh%llum", (unsigned long long)(sec / 3600),
			 (unsigned long long)(sec % 3600 / 60));
	else if (sec >= 60)
		snprintf(buf, len, "%llum%llus", (unsigned long long)(sec / 60),
			 (unsigned long long)(sec % 60));
	else
		snprintf(buf, len, "%llus", (unsigned long long)sec);
}
