// SPDX-License-Identifier: Apache-2.0
/*
 * The table of iofencectl's commands and options (commands.h). Adding an option here is all
 * it takes for the parser to accept it and for --help, the man page and both completions to
 * list it.
 */
#include <stdio.h>
#include <string.h>

#include "client.h"
#include "commands.h"
#include "ctl.h"

const struct optdoc_option ctl_options[] = {
    {O_CONFIG, "config", 0, OPTDOC_FILE, "FILE", NULL, "~/.config/iofence/config",
     "IOFENCE_CONFIG", "client configuration file (agents, certificates, etcd, output)", 0},
    {O_HELP, "help", 'h', OPTDOC_FLAG, NULL, NULL, NULL, NULL, "show this help and exit", 0},
    {O_FILE, "file", 'f', OPTDOC_FILE, "FILE", NULL, NULL, NULL,
     "policy document, YAML or JSON ('-': standard input)", 0},
    {O_AGENT, "agent", 'a', OPTDOC_TEXT, "ADDR", NULL, CTL_DEFAULT_AGENT, "IOFENCE_AGENT",
     "agent address: unix:PATH, or HOST:PORT (mTLS with --ca, --cert, --key)", 0},
    {O_CA, "ca", 0, OPTDOC_FILE, "FILE", NULL, NULL, "IOFENCE_CA",
     "CA certificate (PEM) that signed the agents' server certificates", 0},
    {O_CERT, "cert", 0, OPTDOC_FILE, "FILE", NULL, NULL, "IOFENCE_CERT",
     "client certificate (PEM, extended key usage clientAuth)", 0},
    {O_KEY, "key", 0, OPTDOC_FILE, "FILE", NULL, NULL, "IOFENCE_KEY",
     "private key of the client certificate (PEM)", 0},
    {O_TIMEOUT, "timeout", 0, OPTDOC_TEXT, "SEC", NULL, "10", "IOFENCE_TIMEOUT",
     "deadline of each call to an agent, in seconds", 0},
    {O_OUTPUT, "output", 'o', OPTDOC_WORDS, "FORMAT", "table json", "table", "IOFENCE_OUTPUT",
     "output format", 0},
    {O_ENDPOINT, "endpoint", 0, OPTDOC_TEXT, "NAME", NULL, NULL, NULL,
     "only this endpoint", 0},
    {O_VERDICT, "verdict", 0, OPTDOC_WORDS, "VERDICT", "allow deny audit", NULL, NULL,
     "only flows with this verdict", 0},
    {O_FOLLOW, "follow", 'F', OPTDOC_FLAG, NULL, NULL, NULL, NULL,
     "keep streaming until interrupted (reconnects after an agent restart)", 0},
    {O_DURATION, "duration", 0, OPTDOC_TEXT, "SEC", NULL, NULL, NULL,
     "without --follow: after the recent events, listen for new ones this many seconds "
     "(without it: print what the agent holds and exit)",
     0},
    {O_LAST, "last", 0, OPTDOC_TEXT, "N", NULL, "all held; with --follow or --duration: 0", NULL,
     "show the agent's N most recent events first (it keeps --flow-history of them)", 0},
    {O_SINCE_SEQ, "since-seq", 0, OPTDOC_TEXT, "N", NULL, NULL, NULL,
     "show the held events after the event numbered N (each event's seq), and how many "
     "the agent no longer holds",
     0},
    {O_REVISION, "revision", 0, OPTDOC_TEXT, "N", NULL, "the enforced revision", NULL,
     "a stored revision instead of the enforced one", 0},
    {O_TO_REVISION, "to", 0, OPTDOC_TEXT, "N", NULL, NULL, NULL,
     "the stored revision to enforce again (required)", 0},
    {O_TO_ADDR, "to", 0, OPTDOC_TEXT, "ADDR|ENDPOINT", NULL, NULL, NULL,
     "destination: an address or an endpoint name (required)", 0},
    {O_FROM, "from", 0, OPTDOC_TEXT, "ADDR|ENDPOINT", NULL, NULL, NULL,
     "source: an address or an endpoint name (required)", 0},
    {O_PROTO, "proto", 0, OPTDOC_WORDS, "PROTO", "tcp udp sctp icmp icmpv6", "tcp", NULL,
     "protocol: a name or a number 0..255", 0},
    {O_PORT, "port", 0, OPTDOC_TEXT, "N", NULL, NULL, NULL,
     "destination port 1..65535 (required for tcp, udp and sctp)", 0},
    {O_DRY_RUN, "dry-run", 0, OPTDOC_FLAG, NULL, NULL, NULL, NULL,
     "validate and compile for each agent's node, print the warnings, what would change and "
     "the map fill; change nothing",
     0},
    {O_STRICT, "strict", 0, OPTDOC_FLAG, NULL, NULL, NULL, NULL,
     "refuse a document with warnings (no endpoint on the node, missing interface or cgroup, "
     "no revision): exit 1, nothing applied",
     0},
    {O_ETCD_ENDPOINTS, "etcd-endpoints", 0, OPTDOC_TEXT, "URL[,URL...]", NULL, NULL,
     "IOFENCE_ETCD_ENDPOINTS", "cluster mode: work on the etcd datastore instead of agents", 0},
    {O_ETCD_PREFIX, "etcd-prefix", 0, OPTDOC_TEXT, "PREFIX", NULL, "/iofence",
     "IOFENCE_ETCD_PREFIX", "key prefix of this cluster in etcd", 0},
    {O_ETCD_CA, "etcd-ca", 0, OPTDOC_FILE, "FILE", NULL, NULL, "IOFENCE_ETCD_CA",
     "CA certificate of etcd (https endpoints)", 0},
    {O_ETCD_CERT, "etcd-cert", 0, OPTDOC_FILE, "FILE", NULL, NULL, "IOFENCE_ETCD_CERT",
     "client certificate for etcd", 0},
    {O_ETCD_KEY, "etcd-key", 0, OPTDOC_FILE, "FILE", NULL, NULL, "IOFENCE_ETCD_KEY",
     "private key of the etcd client certificate", 0},
    {O_WAIT, "wait", 0, OPTDOC_FLAG, NULL, NULL, NULL, NULL,
     "wait until every live node converged (or one failed)", 0},
    {O_LISTEN, "listen", 0, OPTDOC_TEXT, "HOST:PORT", NULL, "127.0.0.1:8080", NULL,
     "address of the dashboard's HTTP server", 0},
    {O_NODE, "node", 0, OPTDOC_TEXT, "NAME", NULL, NULL, NULL,
     "the node whose map image to compile (required)", 0},
    {O_INTERFACE, "interface", 0, OPTDOC_TEXT, "IF", NULL, NULL, NULL,
     "underlay interface to trace (required; at most 16)", OPTDOC_REPEAT},
    {O_MODULE_PORT, "port", 0, OPTDOC_TEXT, "N", NULL, "4789", NULL,
     "VXLAN UDP port (at most 4)", OPTDOC_REPEAT},
    {O_TUNNEL_CAPACITY, "tunnel-capacity", 0, OPTDOC_TEXT, "N", NULL, "the agent's default",
     NULL, "entries of the per-tunnel map", 0},
    {O_INNER_CAPACITY, "inner-capacity", 0, OPTDOC_TEXT, "N", NULL, "the agent's default",
     NULL, "entries of the inner-pair map", 0},
    {O_TOP, "top", 0, OPTDOC_TEXT, "N", NULL, "10", NULL, "inner pairs shown", 0},
    {O_INTERVAL, "interval", 0, OPTDOC_TEXT, "SEC", NULL, "1", NULL,
     "seconds between the two samples of a rate (0: totals only)", 0},
    {O_ENFORCED, "enforced", 0, OPTDOC_FLAG, NULL, NULL, NULL, NULL,
     "wait until the endpoint is enforced (required)", 0},
};
const size_t ctl_n_options = sizeof(ctl_options) / sizeof(ctl_options[0]);

/* The options of every command that talks to agents. */
#define AGENT_OPTS {O_AGENT}, {O_CA}, {O_CERT}, {O_KEY}, {O_TIMEOUT}
#define ETCD_OPTS {O_ETCD_ENDPOINTS}, {O_ETCD_PREFIX}, {O_ETCD_CA}, {O_ETCD_CERT}, {O_ETCD_KEY}
#define TABLE_OR_JSON {O_OUTPUT}

const struct ctl_command ctl_commands[] = {
    {"validate", NULL, NULL, "check a policy offline; exit 1 with every error", cmd_validate,
     false, {{O_FILE, .help = "policy document to check (required; '-': standard input)"}}},
    {"compile", NULL, NULL, "print the map image a node would load, and its fill", cmd_compile,
     false, {{O_FILE, .help = "policy document (required)"}, {O_NODE},
	     {O_OUTPUT, "stats", "stats json"}}},
    {"apply", NULL, NULL,
     "push a policy to agents concurrently (or to the datastore) and print a result per agent",
     cmd_apply, true,
     {{O_FILE, .help = "policy document to apply (required; '-': standard input)"},
      {O_DRY_RUN}, {O_STRICT}, TABLE_OR_JSON, AGENT_OPTS, ETCD_OPTS}},
    {"diff", NULL, NULL,
     "objects that differ from what is enforced; exit 0 equal, 1 different", cmd_diff, true,
     {{O_FILE, .help = "policy document to compare (required)"}, TABLE_OR_JSON, AGENT_OPTS,
      ETCD_OPTS}},
    {"history", NULL, NULL, "stored revisions with time, size and source ('*': enforced)",
     cmd_history, true, {TABLE_OR_JSON, AGENT_OPTS}},
    {"rollback", NULL, NULL, "enforce a stored revision again, as a new revision",
     cmd_rollback, true, {{O_TO_REVISION}, AGENT_OPTS}},
    {"trace", NULL, NULL,
     "why a flow gets its verdict: deciding rule, losing rules, live connection; exit 2 when "
     "the datapath disagrees with the reference evaluator",
     cmd_trace, true,
     {{O_FROM}, {O_TO_ADDR}, {O_PROTO}, {O_PORT}, TABLE_OR_JSON, AGENT_OPTS}},
    {"status", NULL, NULL, "node, applied revision, endpoints, modules, uptime", cmd_status,
     true, {TABLE_OR_JSON, AGENT_OPTS}},
    {"get", "policy|endpoints", "policy endpoints",
     "the enforced policy (as written, comments kept; -o normalized: as the agent reads it) "
     "or the endpoints with their state",
     cmd_get, false,
     {{O_OUTPUT, "policy: yaml; endpoints: table", "yaml normalized json table"},
      {O_REVISION}, AGENT_OPTS, ETCD_OPTS}},
    {"counters", NULL, NULL,
     "allowed and denied packets and bytes per rule and endpoint, drops by reason",
     cmd_counters, false, {{O_ENDPOINT}, TABLE_OR_JSON, AGENT_OPTS}},
    {"flows", NULL, NULL, "recent flow verdicts, or a live stream with --follow", cmd_flows,
     false,
     {{O_FOLLOW}, {O_DURATION}, {O_LAST}, {O_SINCE_SEQ}, {O_VERDICT},
      {O_ENDPOINT, .help = "only this endpoint's flows"},
      TABLE_OR_JSON, AGENT_OPTS}},
    {"endpoint put", NULL, NULL,
     "cluster mode: add or replace endpoints in the datastore; with --enforced, return once "
     "their nodes enforce them (exit 1 a node refused the revision, 2 timeout)",
     cmd_endpoint, false,
     {{O_FILE, .help = "document whose endpoints to write (required)"},
      {O_ENFORCED, .help = "then wait until each endpoint's node enforces the write and the "
			   "endpoint (both hooks attached and verified)"},
      {O_TIMEOUT, "30", .help = "with --enforced: seconds to wait", .flag_only = true},
      {O_CA}, {O_CERT}, {O_KEY}, TABLE_OR_JSON, ETCD_OPTS}},
    {"endpoint delete", "NODE/NAME", NULL, "cluster mode: remove an endpoint from the datastore",
     cmd_endpoint, false, {TABLE_OR_JSON, ETCD_OPTS}},
    {"endpoint wait", "NAME|NODE/NAME", NULL,
     "wait until an endpoint is enforced by its agent (with --etcd-endpoints: the agent of "
     "its node in the datastore); exit 1 refused, 2 timeout",
     cmd_endpoint, false,
     {{O_ENFORCED}, {O_AGENT}, {O_CA}, {O_CERT}, {O_KEY},
      {O_TIMEOUT, "30", .help = "seconds to wait for the endpoint", .flag_only = true},
      ETCD_OPTS}},
    {"rollout status", NULL, NULL,
     "cluster mode: which nodes enforce the datastore's revision; exit 0 converged, 1 a node "
     "failed, 2 pending",
     cmd_rollout, false,
     {{O_WAIT}, {O_TIMEOUT, "300", .help = "with --wait: seconds to wait for convergence",
       .flag_only = true},
      TABLE_OR_JSON, ETCD_OPTS}},
    {"module enable", "MODULE", "vxlan-trace", "load and attach a module (vxlan-trace)",
     cmd_module, true,
     {{O_INTERFACE}, {O_MODULE_PORT}, {O_TUNNEL_CAPACITY}, {O_INNER_CAPACITY}, AGENT_OPTS}},
    {"module disable", "MODULE", "vxlan-trace", "detach and unload a module", cmd_module, true,
     {AGENT_OPTS}},
    {"module list", NULL, NULL, "the modules and their state", cmd_module, true,
     {TABLE_OR_JSON, AGENT_OPTS}},
    {"tunnels", NULL, NULL,
     "VXLAN tunnels seen by the vxlan-trace module, with rates (agents from --agent, or from "
     "the datastore's status keys)",
     cmd_tunnels, true, {{O_INTERVAL}, {O_TOP}, TABLE_OR_JSON, AGENT_OPTS, ETCD_OPTS}},
    {"dashboard", NULL, NULL,
     "serve a cluster health page (agents from --agent, or from the datastore's status keys)",
     cmd_dashboard, true, {{O_LISTEN}, AGENT_OPTS, ETCD_OPTS}},
};
const size_t ctl_n_commands = sizeof(ctl_commands) / sizeof(ctl_commands[0]);

const struct ctl_command *ctl_command_find(const char *name)
{
	for (size_t i = 0; i < ctl_n_commands; i++)
		if (!strcmp(ctl_commands[i].name, name))
			return &ctl_commands[i];
	return NULL;
}

static const struct optdoc_option *global(int id)
{
	return optdoc_find(ctl_options, ctl_n_options, id);
}

size_t ctl_command_options(const struct ctl_command *cmd, struct optdoc_option *out)
{
	size_t n = 0;

	for (const struct ctl_option_use *u = cmd->options; u->id; u++) {
		out[n] = *global(u->id);
		if (u->def)
			out[n].def = u->def;
		if (u->words)
			out[n].words = u->words;
		if (u->help)
			out[n].help = u->help;
		if (u->flag_only)
			out[n].env = NULL;
		if (u->id == O_AGENT && cmd->multi_agent)
			out[n].flags |= OPTDOC_REPEAT;
		n++;
	}
	out[n++] = *global(O_CONFIG);
	out[n++] = *global(O_HELP);
	return n;
}

static void synopsis(FILE *f, const struct ctl_command *cmd)
{
	fprintf(f, "iofencectl %s%s%s [OPTIONS]\n", cmd->name, cmd->operand ? " " : "",
		cmd->operand ? cmd->operand : "");
}

void ctl_command_help(FILE *f, const struct ctl_command *cmd)
{
	struct optdoc_option opts[CTL_MAX_OPTIONS + 2];
	size_t n = ctl_command_options(cmd, opts);

	fputs("usage: ", f);
	synopsis(f, cmd);
	fprintf(f, "%s\n\noptions:\n", cmd->summary);
	optdoc_help(f, opts, n);
}

bool ctl_group_help(FILE *f, const char *word)
{
	size_t len = strlen(word), shown = 0;

	for (size_t i = 0; i < ctl_n_commands; i++) {
		const char *name = ctl_commands[i].name;

		if (strncmp(name, word, len) || name[len] != ' ')
			continue;
		if (shown++)
			fputc('\n', f);
		ctl_command_help(f, &ctl_commands[i]);
	}
	return shown > 0;
}
