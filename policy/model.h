/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The policy document as plain C data: what the parser produces, the validator checks,
 * the reference evaluator interprets and the compiler turns into map images.
 * CONTRACT.md is the definition; every field here maps to one key of the YAML format.
 */
#ifndef IOFENCE_POLICY_MODEL_H
#define IOFENCE_POLICY_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum policy_direction {
	POLICY_INGRESS = 0, /* traffic entering the workload; remote = source */
	POLICY_EGRESS = 1,  /* traffic leaving the workload; remote = destination */
};

enum policy_action {
	POLICY_ALLOW = 1,
	POLICY_DENY = 2,
};

enum policy_mode {
	POLICY_ENFORCE = 0,
	POLICY_AUDIT = 1, /* count and log would-be drops, pass them */
};

/* Per-endpoint override value: inherit the document default. */
#define POLICY_INHERIT (-1)

/* Rule protocol: any protocol, or one IP protocol number 0..255. */
#define POLICY_PROTO_ANY (-1)
#define POLICY_PROTO_ICMP 1
#define POLICY_PROTO_TCP 6
#define POLICY_PROTO_UDP 17
#define POLICY_PROTO_ICMPV6 58
#define POLICY_PROTO_SCTP 132

#define POLICY_PRIORITY_DEFAULT 1000
#define POLICY_PRIORITY_MAX 65535

/* An IPv4 or IPv6 prefix; host addresses have len 32 or 128. Bits past len are zero. */
struct policy_prefix {
	uint8_t family; /* 4 or 6 */
	uint8_t len;
	uint8_t addr[16]; /* network byte order; IPv4 uses addr[0..3] */
};

struct policy_port_range {
	uint16_t lo, hi; /* inclusive, lo <= hi */
};

enum policy_remote_kind {
	POLICY_REMOTE_ANY = 0,   /* no cidr and no group: any address of either family */
	POLICY_REMOTE_CIDR = 1,  /* addresses inside cidr (one family) */
	POLICY_REMOTE_GROUP = 2, /* addresses of endpoints (on any node) that are members of group */
};

struct policy_rule {
	enum policy_direction direction;
	enum policy_action action;
	uint16_t priority;       /* lower wins */
	int protocol;            /* POLICY_PROTO_ANY or 0..255 */
	struct policy_port_range *ports; /* n_ports == 0: every port (or no ports) */
	size_t n_ports;
	enum policy_remote_kind remote_kind;
	struct policy_prefix cidr; /* POLICY_REMOTE_CIDR */
	bool has_cidr;             /* cidr was given (even if group was given too: an error) */
	char *group;               /* POLICY_REMOTE_GROUP: name as written */
	size_t group_index;        /* POLICY_REMOTE_GROUP: index in document.groups (validated) */
	char *name;                /* optional label (unique in its group), NULL if none */
	unsigned line;             /* source line of the rule, 0 if unknown */
	unsigned ports_line, group_line; /* of its ports: and group: keys, 0 if unknown */
};

/* A group's name and rules once documents derived from one another share them. */
struct policy_group_hold;

struct policy_group {
	char *name;
	struct policy_rule *rules;
	size_t n_rules;
	unsigned line;
	struct policy_group_hold *hold; /* NULL: the document owns name and rules */
};

struct policy_endpoint {
	char *name;
	char *node;
	char *interface; /* NULL if none */
	char *cgroup;    /* NULL if none */
	struct policy_prefix *addresses; /* host prefixes (len 32 / 128) */
	size_t n_addresses;
	char **groups;        /* names as written */
	size_t *group_index;  /* resolved indexes into document.groups (validated) */
	size_t n_groups;
	unsigned groups_line; /* of the groups: key, 0 if unknown */
	int ingress; /* POLICY_INHERIT or enum policy_action */
	int egress;  /* POLICY_INHERIT or enum policy_action */
	int mode;    /* POLICY_INHERIT or enum policy_mode */
	unsigned line;
};

struct policy_defaults {
	enum policy_action ingress; /* default: deny */
	enum policy_action egress;  /* default: allow */
	enum policy_mode mode;      /* default: enforce */
};

struct policy_prefilter {
	char *node;
	char **interfaces;
	size_t n_interfaces;
	struct policy_prefix *deny;
	size_t n_deny;
	unsigned line;
};

/*
 * Groups (each on its own) and prefilters (all together) are shared by documents derived from
 * one another (policy/derive.h), so a change of one endpoint or one group does not copy 10k
 * rules: immutable once shared, freed with the last document that refers to them.
 */
struct policy_shared;

struct policy_document {
	uint64_t revision; /* 0 when absent */
	bool has_revision;
	struct policy_defaults defaults;
	struct policy_group *groups;
	size_t n_groups;
	struct policy_endpoint *endpoints;
	size_t n_endpoints;
	struct policy_prefilter *prefilters;
	size_t n_prefilters;
	struct policy_shared *shared; /* NULL: the document owns its prefilters */
};

/* Frees everything a document owns, then the document itself. Accepts NULL. */
void policy_document_free(struct policy_document *doc);
/*
 * Gives derived the groups and prefilters of doc, shared (doc's become shared too when they
 * were not): derived gets its own array of groups whose names and rules are doc's. Neither
 * document may change what they share afterwards; derived may replace a whole group of its
 * array (policy_group_clear() first). 0 or -ENOMEM.
 */
int policy_document_share(struct policy_document *doc, struct policy_document *derived);
/* Frees (or lets go of, when shared) one group's name and rules (not the struct). */
void policy_group_clear(struct policy_group *grp);
/* Frees one endpoint's fields (not the struct). */
void policy_endpoint_clear(struct policy_endpoint *ep);

/* Effective per-endpoint settings (override or document default). */
enum policy_action policy_endpoint_default(const struct policy_document *doc,
					   const struct policy_endpoint *ep,
					   enum policy_direction dir);
enum policy_mode policy_endpoint_mode(const struct policy_document *doc,
				      const struct policy_endpoint *ep);

/*
 * A rule's label in counters, flows, metrics, diff and trace: "group/name" when the rule is
 * named (stable when rules are reordered), else "group[index]".
 */
void policy_rule_label(const struct policy_document *doc, size_t group, size_t rule, char *buf,
		       size_t len);
#define POLICY_RULE_LABEL_MAX 256

/*
 * The identity under which the datapath keeps a rule's or an endpoint's counters across
 * applies (bpf/datapath_maps.h, "Counter identities"): a 64-bit FNV-1a hash of kind ("rule",
 * "endpoint") and label (policy_rule_label(), or the endpoint's name); never 0.
 */
uint64_t policy_counter_identity(const char *kind, const char *label);

/* True if prefix p contains address a (a is a host address of any family). */
bool policy_prefix_contains(const struct policy_prefix *p, const struct policy_prefix *a);

/* True if the protocol carries destination ports the rules can match (tcp, udp, sctp). */
static inline bool policy_proto_has_ports(int proto)
{
	return proto == POLICY_PROTO_TCP || proto == POLICY_PROTO_UDP ||
	       proto == POLICY_PROTO_SCTP;
}

#endif /* IOFENCE_POLICY_MODEL_H */
