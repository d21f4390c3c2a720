// SPDX-License-Identifier: Apache-2.0
/* One differential case (tests/lib/check.h). */
#include "check.h"
#include "policy/prefix.h"

static void describe(FILE *out, const struct policy_packet *pkt, uint32_t ep, const char *why)
{
	char addr[PREFIX_STR_MAX];

	prefix_format(&pkt->remote, true, addr);
	fprintf(out, "mismatch (%s): endpoint %u %s remote %s proto %u dport %u\n", why, ep,
		pkt->direction == POLICY_INGRESS ? "ingress" : "egress", addr, pkt->proto,
		pkt->dport);
}

int check_image_case(const struct policy_document *doc, const struct policy_image *img,
		     uint32_t local, const struct policy_packet *pkt, struct check_stats *st,
		     FILE *out)
{
	const struct policy_endpoint *ep = &doc->endpoints[img->endpoints[local].doc_index];
	struct policy_verdict want;
	struct image_verdict got;
	struct image_packet ip = {.endpoint_index = local, .direction = pkt->direction,
				  .remote = pkt->remote, .proto = pkt->proto, .dport = pkt->dport};

	policy_evaluate(doc, ep, pkt, &want);
	if (policy_image_lookup(img, &ip, &got)) {
		describe(out, pkt, local, "lookup missed");
		return -1;
	}
	st->cases++;
	st->by_rule += want.rule != NULL;
	st->denied += want.action == POLICY_DENY;
	st->both_parts += got.class_part && got.any_part;
	st->listed += got.listed;
	if (got.lookups > IOF_NEW_FLOW_LOOKUPS_MAX) {
		describe(out, pkt, local, "more lookups than IOF_NEW_FLOW_LOOKUPS_MAX");
		return -1;
	}
	if (got.action != want.action || got.audit != want.audit ||
	    got.is_default != (want.rule == NULL)) {
		describe(out, pkt, local, "verdict");
		fprintf(out, "  evaluator: action %d audit %d default %d; image: %d %d %d\n",
			want.action, want.audit, want.rule == NULL, got.action, got.audit,
			got.is_default);
		return -1;
	}
	if (want.rule && (got.rule_id >= img->n_rules ||
			  img->rules[got.rule_id].group_index != want.group_index ||
			  img->rules[got.rule_id].rule_index != want.rule_index)) {
		describe(out, pkt, local, "deciding rule");
		fprintf(out, "  evaluator: group %zu rule %zu; image rule id %u\n",
			want.group_index, want.rule_index, got.rule_id);
		return -1;
	}
	return 0;
}

int check_coverage(const struct check_stats *st, FILE *out)
{
	if (st->cases && st->by_rule && st->denied)
		return 0;
	fprintf(out, "coverage: %llu cases, %llu decided by a rule, %llu denied: too little\n",
		st->cases, st->by_rule, st->denied);
	return -1;
}
