// SPDX-License-Identifier: Apache-2.0
/*
 * Trace (reads.h): why one new flow gets its verdict under the enforced revision. Each end of
 * the flow that is an endpoint is judged by the reference evaluator (policy/trace.h); at an
 * endpoint of this node the agent also judges it as the BPF program does, with
 * policy_image_lookup() over the revision compiled for this node, and reads the live maps:
 * the endpoint's entry in the active slot and the flow's conntrack entries. Any difference
 * between the two answers is reported as a disagreement (a bug).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <grpc/status.h>

#include "agent.h"
#include "agent/datapath/datapath.h"
#include "engine.h"
#include "reads.h"
#include "policy/diff.h"
#include "policy/parse.h"
#include "policy/prefix.h"
#include "policy/trace.h"

static const char *action_name(int action)
{
	return action == POLICY_DENY ? "deny" : "allow";
}

static char *rule_label(struct arena *ar, const struct policy_document *doc, size_t g, size_t r)
{
	char buf[256];

	policy_rule_label(doc, g, r, buf, sizeof(buf));
	return arena_strdup(ar, buf);
}

static Iofence__V1__TraceMatch *match_pb(struct arena *ar, const struct policy_document *doc,
					 const struct policy_trace_match *m)
{
	const struct policy_rule *rule = &doc->groups[m->group_index].rules[m->rule_index];
	Iofence__V1__TraceMatch *pb = arena_alloc(ar, sizeof(*pb));
	char summary[512];

	if (!pb)
		return NULL;
	iofence__v1__trace_match__init(pb);
	policy_rule_describe(rule, summary, sizeof(summary));
	pb->rule = rule_label(ar, doc, m->group_index, m->rule_index);
	pb->group = doc->groups[m->group_index].name;
	pb->index = (uint32_t)m->rule_index;
	pb->name = rule->name ? rule->name : "";
	pb->action = (char *)action_name(rule->action);
	pb->priority = rule->priority;
	pb->summary = arena_strdup(ar, summary);
	pb->decides = m->decides;
	pb->lost_because = arena_strdup(ar, m->why_lost);
	return pb->rule && pb->summary && pb->lost_because ? pb : NULL;
}

static const char *ct_state_name(unsigned state)
{
	static const char *const names[] = {"new", "established", "closing", "closed"};

	return state < 4 ? names[state] : "?";
}

/* The answer of this node's datapath for one side: image lookup and live maps. */
static void datapath_side(struct agent *a, const struct policy_document *doc, uint64_t revision,
			  const struct policy_image *img, const struct policy_trace *t,
			  const struct policy_trace_side *side, struct arena *ar,
			  Iofence__V1__TraceSide *pb)
{
	const struct policy_endpoint *ep = &doc->endpoints[side->endpoint_index];
	struct datapath *dp = engine_datapath(a->engine);
	struct image_packet pkt = {.direction = side->pkt.direction, .remote = side->pkt.remote,
				   .proto = side->pkt.proto, .dport = side->pkt.dport};
	struct image_verdict v;
	const struct image_rule *ir = NULL;
	size_t i;

	for (i = 0; i < img->n_endpoints && img->endpoints[i].doc_index != side->endpoint_index;
	     i++)
		;
	pkt.endpoint_index = (uint32_t)i;
	if (i == img->n_endpoints || policy_image_lookup(img, &pkt, &v)) {
		pb->datapath_verdict = "none";
		pb->datapath_note = "the image compiled for this node has no entry for the endpoint";
		pb->disagree = true;
		return;
	}
	if (!v.is_default && v.rule_id < img->n_rules)
		ir = &img->rules[v.rule_id];
	pb->datapath_verdict = (char *)action_name(v.action);
	pb->datapath_decided_by =
	    ir ? rule_label(ar, doc, ir->group_index, ir->rule_index) : (char *)"default";
	pb->disagree = v.action != side->verdict.action || !ir != !side->verdict.rule ||
		       (ir && (ir->group_index != side->verdict.group_index ||
			       ir->rule_index != side->verdict.rule_index));
	if (!dp) {
		pb->datapath_note = "no datapath (--datapath none): nothing is enforced";
		return;
	}
	struct dp_trace_live live;
	struct dp_trace_flow f = {.interface = ep->interface,
				  .cgroup = ep->cgroup,
				  .direction = side->pkt.direction,
				  .local = side->pkt.direction == POLICY_EGRESS ? &t->from : &t->to,
				  .remote = &side->pkt.remote,
				  .proto = side->pkt.proto,
				  .dport = side->pkt.dport};

	dp_trace_live(dp, &f, &live);
	pb->attached = live.attached;
	if (!live.attached) {
		pb->datapath_note = "not attached: the endpoint's interface or cgroup is missing, "
				    "so nothing judges its traffic yet";
		return;
	}
	if (live.val.profile != img->endpoints[i].profile || live.val.endpoint_index != i) {
		pb->disagree = true;
		pb->datapath_note = arena_printf(
		    ar, "the live entry has profile %u and index %u; the image has %u and %zu",
		    live.val.profile, live.val.endpoint_index, img->endpoints[i].profile, i);
	}
	pb->conntrack_entries = (uint32_t)live.ct_entries;
	if (!live.ct_entries)
		return;
	pb->conntrack_decides = live.ct.revision == revision;
	if (pb->conntrack_decides && live.ct.rule_id < img->n_rules)
		ir = &img->rules[live.ct.rule_id];
	else
		ir = NULL;
	pb->conntrack = arena_printf(
	    ar, "%s, admitted by %s%s under revision %llu, idle %.1fs: %s",
	    ct_state_name(live.ct.state),
	    live.ct.rule_id == IOF_RULE_NONE ? "the default" : ir ? "rule " : "a rule",
	    ir ? rule_label(ar, doc, ir->group_index, ir->rule_index) : "",
	    (unsigned long long)live.ct.revision, (double)live.ct_idle_ns / 1e9,
	    pb->conntrack_decides ? "its packets pass without consulting the rules"
				  : "re-checked against the rules at its next packet");
}

static Iofence__V1__TraceSide *side_pb(struct agent *a, const struct policy_document *doc,
				       uint64_t revision, const struct policy_image *img,
				       const struct policy_trace *t,
				       const struct policy_trace_side *side, struct arena *ar)
{
	const struct policy_endpoint *ep = &doc->endpoints[side->endpoint_index];
	Iofence__V1__TraceSide *pb = arena_alloc(ar, sizeof(*pb));
	char remote[PREFIX_STR_MAX];

	if (!pb)
		return NULL;
	iofence__v1__trace_side__init(pb);
	prefix_format(&side->pkt.remote, true, remote);
	pb->endpoint = ep->name;
	pb->node = ep->node;
	pb->direction = side->pkt.direction == POLICY_EGRESS ? "egress" : "ingress";
	pb->remote = arena_strdup(ar, remote);
	pb->verdict = (char *)action_name(side->verdict.action);
	pb->audit = side->verdict.audit;
	pb->decided_by = side->verdict.rule ? rule_label(ar, doc, side->verdict.group_index,
							 side->verdict.rule_index)
					    : (char *)"default";
	pb->matches = arena_alloc(ar, (side->n_matches + 1) * sizeof(*pb->matches));
	if (!pb->matches || !pb->remote || !pb->decided_by)
		return NULL;
	for (size_t i = 0; i < side->n_matches; i++)
		if (!(pb->matches[pb->n_matches++] = match_pb(ar, doc, &side->matches[i])))
			return NULL;
	pb->local = img && !strcmp(ep->node, a->cfg.node);
	pb->datapath_verdict = pb->datapath_decided_by = pb->datapath_note = pb->conntrack = "";
	if (pb->local)
		datapath_side(a, doc, revision, img, t, side, ar, pb);
	return pb;
}

int reads_trace(struct agent *a, const Iofence__V1__TraceRequest *req, struct arena *ar,
		ProtobufCMessage **ret, char *details, size_t len)
{
	Iofence__V1__TraceResponse *r = arena_alloc(ar, sizeof(*r));
	struct snapshot *s = engine_current(a->engine);
	const struct policy_document *doc = s ? snapshot_doc(s) : NULL;
	struct policy_image *img = NULL;
	struct policy_trace t = {0};
	char from[PREFIX_STR_MAX], to[PREFIX_STR_MAX];
	int proto = -1, st = GRPC_STATUS_OK, rc;

	if (!doc || !r) {
		snprintf(details, len, "%s", r ? "no policy applied yet" : "out of memory");
		st = r ? GRPC_STATUS_NOT_FOUND : GRPC_STATUS_RESOURCE_EXHAUSTED;
		goto out;
	}
	if (!req->protocol || policy_parse_protocol(req->protocol, &proto) || proto < 0) {
		snprintf(details, len, "protocol \"%s\" is not tcp, udp, sctp, icmp, icmpv6 or "
			 "0..255", req->protocol ? req->protocol : "");
		st = GRPC_STATUS_INVALID_ARGUMENT;
		goto out;
	}
	if (policy_proto_has_ports(proto) && (req->port < 1 || req->port > 65535)) {
		snprintf(details, len, "a port 1..65535 is required with %s", req->protocol);
		st = GRPC_STATUS_INVALID_ARGUMENT;
		goto out;
	}
	rc = policy_trace(doc, req->from, req->to, (uint8_t)proto, (uint16_t)req->port, &t,
			  details, len);
	if (rc) {
		st = rc == -EINVAL ? GRPC_STATUS_INVALID_ARGUMENT : GRPC_STATUS_RESOURCE_EXHAUSTED;
		goto out;
	}
	/*
	 * the image this node enforces, compiled again (the applied one may keep no entries),
	 * with the enforced image's profile numbers
	 */
	if (policy_compile_update(doc, a->cfg.node, snapshot_image(s), POLICY_REUSE_NUMBERS, &img,
				  NULL, 0))
		img = NULL;
	iofence__v1__trace_response__init(r);
	r->revision = snapshot_revision(s);
	r->node = a->cfg.node;
	prefix_format(&t.from, true, from);
	prefix_format(&t.to, true, to);
	r->from = arena_strdup(ar, from);
	r->to = arena_strdup(ar, to);
	r->verdict = "allow";
	r->sides = arena_alloc(ar, 2 * sizeof(*r->sides));
	if (!r->from || !r->to || !r->sides) {
		st = GRPC_STATUS_RESOURCE_EXHAUSTED;
		goto out;
	}
	for (size_t i = 0; i < t.n_sides; i++) {
		Iofence__V1__TraceSide *side = side_pb(a, doc, r->revision, img, &t, &t.sides[i], ar);

		if (!side) {
			snprintf(details, len, "out of memory");
			st = GRPC_STATUS_RESOURCE_EXHAUSTED;
			goto out;
		}
		r->sides[r->n_sides++] = side;
		if (!strcmp(side->verdict, "deny") && !side->audit)
			r->verdict = "deny";
	}
	*ret = &r->base;
out:
	policy_image_free(img);
	policy_trace_free(&t);
	snapshot_unref(s);
	return st;
}
