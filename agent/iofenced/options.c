// SPDX-License-Identifier: Apache-2.0
/*
 * The table of iofenced's options (options.h). Adding an option here makes getopt accept it,
 * the config file know it as a key (unless OPTDOC_NO_FILE), and --help and the man page
 * list it.
 */
#include "agent/datapath/datapath.h"
#include "config.h"
#include "options.h"

const struct optdoc_option agent_options[] = {
    {OPT_CONFIG, "config", 0, OPTDOC_FILE, "FILE", NULL, AGENT_DEFAULT_CONFIG " if it exists",
     NULL, "settings file: one KEY = VALUE per line, keys are the long options' names; flags win "
     "over it",
     OPTDOC_NO_FILE},
    {OPT_NODE, "node", 0, OPTDOC_TEXT, "NAME", NULL, "the host name", NULL,
     "this node's name: the agent enforces the endpoints whose node it is", 0},
    {OPT_STATE, "state", 0, OPTDOC_FILE, "PATH", NULL, AGENT_DEFAULT_STATE, NULL,
     "sqlite store of the applied revisions", 0},
    {OPT_LISTEN, "listen", 0, OPTDOC_TEXT, "ADDR", NULL, AGENT_DEFAULT_LISTEN, NULL,
     "API address: unix:PATH (mode 0600) or HOST:PORT (mTLS; plaintext only with "
     "--insecure-tcp)",
     OPTDOC_REPEAT},
    {OPT_PIN_DIR, "pin-dir", 0, OPTDOC_DIR, "DIR", NULL, DP_DEFAULT_PIN_DIR, NULL,
     "bpffs folder of the pinned programs and maps (one per agent on a machine)", 0},
    {OPT_METRICS, "metrics", 0, OPTDOC_TEXT, "HOST:PORT", NULL, "off", NULL,
     "serve Prometheus metrics over HTTP at this address", 0},
    {OPT_LOG_LEVEL, "log-level", 0, OPTDOC_WORDS, "LEVEL", "error warn info debug", "info",
     NULL, "log messages of this level and above on standard error (re-read on SIGHUP)", 0},
    {OPT_INSECURE_TCP, "insecure-tcp", 0, OPTDOC_TEXT, "BOOL", NULL, "false", NULL,
     "allow plaintext on TCP --listen addresses (tests only)", OPTDOC_OPTIONAL_ARG},
    {OPT_TLS_CA, "tls-ca", 0, OPTDOC_FILE, "FILE", NULL, NULL, NULL,
     "CA certificate that signed the clients' certificates (TCP listeners)", 0},
    {OPT_TLS_CERT, "tls-cert", 0, OPTDOC_FILE, "FILE", NULL, NULL, NULL,
     "the agent's server certificate (TCP listeners)", 0},
    {OPT_TLS_KEY, "tls-key", 0, OPTDOC_FILE, "FILE", NULL, NULL, NULL,
     "the private key of the server certificate", 0},
    {OPT_KEEP, "keep", 0, OPTDOC_TEXT, "N", NULL, "10", NULL,
     "revisions kept in the store (history and rollback)", 0},
    {OPT_EVENTS_PER_SEC, "events-per-sec", 0, OPTDOC_TEXT, "N", NULL, "1000", NULL,
     "flow events per second the datapath may report (0: none)", 0},
    {OPT_FLOW_HISTORY, "flow-history", 0, OPTDOC_TEXT, "N", NULL, "4096", NULL,
     "verdict events the agent keeps for `iofencectl flows` without --follow and for "
     "streams that reconnect, about 90 bytes each (0: none, at most 1000000)",
     0},
    {OPT_APPLY_READ_WALL_MS, "apply-read-wall-ms", 0, OPTDOC_TEXT, "MS", NULL, "800", NULL,
     "an Apply whose message has not arrived within this many milliseconds of the call's "
     "start, or whose document is not read by then having had 200 ms of CPU time, is "
     "refused (RESOURCE_EXHAUSTED), so that a client is answered within a second whatever "
     "it sends; a cheaper read is let finish on a node short of CPU, and reading always "
     "stops at 700 ms of CPU time (0: no wall-clock limit, at most 60000)",
     0},
    {OPT_BPF_OBJECT, "bpf-object", 0, OPTDOC_FILE, "FILE", NULL, "the object built in", NULL,
     "load the BPF programs from this object file", 0},
    {OPT_FAILSAFE, "failsafe", 0, OPTDOC_TEXT, "PROTO:PORT", NULL, "tcp:22", NULL,
     "traffic the XDP prefilter never drops (tcp:PORT, udp:PORT or none); the TCP ports of "
     "--listen are always added",
     OPTDOC_REPEAT},
    {OPT_XDP_GENERIC, "xdp-generic", 0, OPTDOC_TEXT, "BOOL", NULL, "false", NULL,
     "attach the XDP prefilter in generic mode (keeps TSO on veth)", OPTDOC_OPTIONAL_ARG},
    {OPT_ATTACH_RT_PRIORITY, "attach-rt-priority", 0, OPTDOC_TEXT, "N", NULL, "1",
     NULL,
     "SCHED_FIFO priority (1-99) of the two paths that attach an endpoint's interface: the "
     "thread that does it when the interface appears, and the attach from the pins at start; "
     "other processes' CPU load then does not delay them. 0: normal scheduling",
     0},
    {OPT_DATAPATH, "datapath", 0, OPTDOC_WORDS, "KIND", "bpf none", "bpf", NULL,
     "none: serve the API without loading BPF, no enforcement (a test aid)", 0},
    {OPT_CLEANUP, "cleanup", 0, OPTDOC_FLAG, NULL, NULL, NULL, NULL,
     "detach every program, remove the pins under --pin-dir and exit (for uninstall)", 0},
    {OPT_VXT_IFACE, "vxlan-trace-interface", 0, OPTDOC_TEXT, "IF", NULL, NULL, NULL,
     "enable the vxlan-trace module on this underlay interface at start (at most 16)",
     OPTDOC_REPEAT},
    {OPT_VXT_PORT, "vxlan-trace-port", 0, OPTDOC_TEXT, "N", NULL, "4789", NULL,
     "VXLAN UDP port of the vxlan-trace module (at most 4)", OPTDOC_REPEAT},
    {OPT_VXT_TUNNELS, "vxlan-trace-tunnel-capacity", 0, OPTDOC_TEXT, "N", NULL,
     "the module's default", NULL, "entries of the vxlan-trace per-tunnel map", 0},
    {OPT_VXT_INNER, "vxlan-trace-inner-capacity", 0, OPTDOC_TEXT, "N", NULL,
     "the module's default", NULL, "entries of the vxlan-trace inner-pair map", 0},
    {OPT_ETCD_ENDPOINTS, "etcd-endpoints", 0, OPTDOC_TEXT, "URL[,URL...]", NULL, NULL, NULL,
     "follow the policy in etcd (cluster mode); direct Apply is then refused", 0},
    {OPT_ETCD_PREFIX, "etcd-prefix", 0, OPTDOC_TEXT, "PREFIX", NULL, "/iofence", NULL,
     "key prefix of this cluster in etcd", 0},
    {OPT_ETCD_CA, "etcd-ca", 0, OPTDOC_FILE, "FILE", NULL, NULL, NULL,
     "CA certificate of etcd (https endpoints)", 0},
    {OPT_ETCD_CERT, "etcd-cert", 0, OPTDOC_FILE, "FILE", NULL, NULL, NULL,
     "client certificate for etcd", 0},
    {OPT_ETCD_KEY, "etcd-key", 0, OPTDOC_FILE, "FILE", NULL, NULL, NULL,
     "private key of the etcd client certificate", 0},
    {OPT_HELP, "help", 'h', OPTDOC_FLAG, NULL, NULL, NULL, NULL, "show this help and exit",
     OPTDOC_NO_FILE},
    {OPT_VERSION, "version", 0, OPTDOC_FLAG, NULL, NULL, NULL, NULL,
     "print the version and exit", OPTDOC_NO_FILE},
};
const size_t agent_n_options = sizeof(agent_options) / sizeof(agent_options[0]);

void agent_options_help(FILE *f)
{
	fputs("usage: iofenced [OPTIONS]\n"
	      "the iofence agent: enforces the policy on this node's endpoints (foreground, logs "
	      "to stderr)\n\noptions:\n",
	      f);
	optdoc_help(f, agent_options, agent_n_options);
}

void agent_options_man(FILE *f)
{
	fprintf(f, ".TH IOFENCED 8 \"\" \"iofence %s\" \"System Administration\"\n",
		AGENT_VERSION);
	fputs(".SH NAME\niofenced \\- the iofence agent: eBPF micro-segmentation on one node\n"
	      ".SH SYNOPSIS\n.B iofenced\n.RI [ OPTIONS ]\n"
	      ".SH DESCRIPTION\n"
	      "iofenced receives policy documents (see \\fBiofence-policy\\fR(5)) from "
	      "\\fBiofencectl\\fR(8) over gRPC, or follows them in an etcd datastore, stores each "
	      "revision in sqlite before acknowledging it, and compiles it into eBPF maps that "
	      "TC, XDP and cgroup programs consult for every packet and socket call of the "
	      "endpoints on its node. It runs in the foreground, logs to standard error and "
	      "signals readiness with sd_notify (Type=notify).\n"
	      ".PP\nOn SIGTERM it stops serving and exits 0, leaving the pinned programs and maps "
	      "enforcing; on start it restores the last revision from the store and adopts the "
	      "pinned state without a window in which traffic is unenforced. SIGHUP re-reads "
	      "the log level from the config file.\n"
	      ".SH OPTIONS\n",
	      f);
	optdoc_man(f, agent_options, agent_n_options);
	fputs(".SH CONFIGURATION FILE\n"
	      "\\fB" AGENT_DEFAULT_CONFIG "\\fR (or \\fB\\-\\-config\\fR) holds one "
	      "\\fIkey\\fR \\fB=\\fR \\fIvalue\\fR per line, the keys being the long options' "
	      "names (\\fBlisten\\fR, \\fBfailsafe\\fR and \\fBvxlan\\-trace\\-interface\\fR may "
	      "repeat); \\fB#\\fR starts a comment line. Flags win over the file; a list given "
	      "as flags replaces the file's list. An unknown key is an error naming the file "
	      "and line.\n"
	      ".PP\n.nf\nnode = node\\-a\nlisten = unix:/run/iofence/iofenced.sock\n"
	      "listen = 0.0.0.0:7443\ntls\\-ca = /etc/iofence/ca.pem\n"
	      "tls\\-cert = /etc/iofence/node\\-a.pem\ntls\\-key = /etc/iofence/node\\-a.key\n"
	      "metrics = 127.0.0.1:9105\n.fi\n"
	      ".SH EXIT STATUS\n.TP\n.B 0\nstopped by SIGTERM or SIGINT, or \\-\\-cleanup "
	      "done\n.TP\n.B 1\na bad option or config file\n.TP\n.B 2\na system error at start "
	      "(store, datapath, listener)\n"
	      ".SH FILES\n.TP\n.B " AGENT_DEFAULT_CONFIG "\nsettings\n.TP\n.B " AGENT_DEFAULT_STATE
	      "\nthe revision store\n.TP\n.B " DP_DEFAULT_PIN_DIR "\npinned programs and maps\n"
	      ".SH SEE ALSO\n\\fBiofencectl\\fR(8), \\fBiofence-policy\\fR(5)\n",
	      f);
}
