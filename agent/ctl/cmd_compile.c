// SPDX-License-Identifier: Apache-2.0
/*
 * iofencectl compile -f FILE --node NAME [-o json|stats]: the map image the node's agent
 * would load, as JSON (every entry) or statistics (entries per map and per endpoint).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "client.h"
#include "ctl.h"
#include "bpf/datapath_maps.h"
#include "policy/image.h"
#include "policy/prefix.h"

static void print_prefix(const uint8_t *addr, unsigned family, unsigned len)
{
	struct policy_prefix p = {.family = (uint8_t)family, .len = (uint8_t)len};
	char buf[PREFIX_STR_MAX];

	memcpy(p.addr, addr, family == 4 ? 4 : 16);
	prefix_format(&p, false, buf);
	printf("\"%s\"", buf);
}

static const char *action_name(unsigned action)
{
	return action == IOF_ACT_ALLOW ? "allow" : "deny";
}

/* Names are validated (no quotes or control characters can reach here unescaped). */
static void print_json_string(const char *s)
{
	putchar('"');
	for (; s && *s; s++) {
		if (*s == '"' || *s == '\\')
			printf("\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			printf("\\u%04x", *s);
		else
			putchar(*s);
	}
	putchar('"');
}

static void print_remote(size_t i, const uint8_t *addr, unsigned family, uint32_t len,
			 uint32_t profile, uint32_t remote_class)
{
	printf("%s\n    {\"prefix\": ", i ? "," : "");
	print_prefix(addr, family, len);
	printf(", \"profile\": %u, \"class\": %u}", profile, remote_class);
}

/* A family's remote prefixes: the trie's entries, then the host table's. */
#define PRINT_REMOTES(img, fam, trie_arr, n_trie, host_arr, n_host)                                \
	do {                                                                                       \
		for (size_t i = 0; i < (n_trie); i++)                                              \
			print_remote(i, (trie_arr)[i].key.addr, fam, (trie_arr)[i].key.prefixlen,  \
				     (trie_arr)[i].trie, (trie_arr)[i].val.remote_class);          \
		for (size_t i = 0; i < (n_host); i++)                                              \
			print_remote((n_trie) + i, (host_arr)[i].key.addr, fam,                    \
				     fam == 4 ? 32 : 128, (host_arr)[i].key.profile,               \
				     (host_arr)[i].val.remote_class);                              \
	} while (0)

static void print_json(const struct policy_document *doc, const struct policy_image *img)
{
	printf("{\n  \"revision\": %llu,\n  \"endpoints\": [", (unsigned long long)img->revision);
	for (size_t i = 0; i < img->n_endpoints; i++) {
		printf("%s\n    {\"index\": %zu, \"name\": ", i ? "," : "", i);
		print_json_string(img->endpoints[i].name);
		printf(", \"profile\": %u}", img->endpoints[i].profile);
	}
	printf("\n  ],\n  \"rules\": [");
	for (size_t i = 0; i < img->n_rules; i++) {
		const struct image_rule *r = &img->rules[i];

		printf("%s\n    {\"id\": %zu, \"group\": ", i ? "," : "", i);
		print_json_string(doc->groups[r->group_index].name);
		printf(", \"index\": %zu, \"line\": %u}", r->rule_index,
		       doc->groups[r->group_index].rules[r->rule_index].line);
	}
	printf("\n  ],\n  \"remote4\": [");
	PRINT_REMOTES(img, 4, img->remote4, img->n_remote4, img->host4, img->n_host4);
	printf("\n  ],\n  \"remote6\": [");
	PRINT_REMOTES(img, 6, img->remote6, img->n_remote6, img->host6, img->n_host6);
	printf("\n  ],\n  \"policy\": [");
	for (size_t i = 0; i < img->n_policy; i++) {
		const struct iof_policy_key *k = &img->policy[i].key;
		const struct iof_policy_val *v = &img->policy[i].val;

		printf("%s\n    {\"prefixlen\": %u, \"dir\": \"%s\", \"profile\": %u, "
		       "\"part\": \"%s\", \"class\": %u, \"proto\": %u, \"dport\": %u, "
		       "\"action\": \"%s\", \"flags\": %u, \"rule\": %d, \"rank\": %u}",
		       i ? "," : "", k->prefixlen, k->dir == IOF_DIR_INGRESS ? "ingress" : "egress",
		       img->policy[i].trie / IOF_POLICY_PARTS,
		       img->policy[i].trie % IOF_POLICY_PARTS == IOF_POLICY_PART_ANY ? "any"
										     : "class",
		       layout_policy_class(k), k->proto, ntohs(k->dport), action_name(v->action),
		       v->flags, v->rule_id == IOF_RULE_NONE ? -1 : (int)v->rule_id, v->rank);
	}
	printf("\n  ],\n  \"prefilter\": [");
	for (size_t i = 0; i < img->n_prefilter; i++) {
		char buf[PREFIX_STR_MAX];

		prefix_format(&img->prefilter[i].prefix, false, buf);
		printf("%s\n    {\"interface\": ", i ? "," : "");
		print_json_string(img->prefilter[i].interface);
		printf(", \"deny\": \"%s\"}", buf);
	}
	printf("\n  ]\n}\n");
}

size_t ctl_map_fill(const struct policy_image *img, struct ctl_map_fill out[CTL_MAPS])
{
	const struct ctl_map_fill maps[CTL_MAPS] = {
	    {"endpoints", img->n_endpoints, IOF_MAX_ENDPOINTS},
	    {"rules", img->n_rules, IOF_MAX_RULES},
	    {"iof_remote4", policy_image_remotes(img, 4), IOF_MAX_REMOTE_ENTRIES},
	    {"iof_remote6", policy_image_remotes(img, 6), IOF_MAX_REMOTE_ENTRIES},
	    {"iof_policy", img->n_policy, IOF_MAX_POLICY_ENTRIES},
	    {"iof_any_ports", img->n_any_ports, IOF_MAX_ANY_PORTS},
	    {"iof_any_group", img->n_any_groups, IOF_MAX_PROFILES * IOF_ANY_GROUPS},
	    {"iof_prefilter", img->n_prefilter, IOF_MAX_PREFILTER_ENTRIES},
	};

	memcpy(out, maps, sizeof(maps));
	return policy_image_entries(img) + img->n_prefilter;
}

void ctl_print_fill(const struct policy_image *img, const char *indent)
{
	struct ctl_map_fill fill[CTL_MAPS];

	ctl_map_fill(img, fill);
	printf("%s%-14s %10s %10s %6s\n", indent, "map", "entries", "capacity", "fill");
	for (size_t i = 0; i < CTL_MAPS; i++)
		printf("%s%-14s %10zu %10u %5.1f%%\n", indent, fill[i].map, fill[i].entries,
		       fill[i].capacity, 100.0 * (double)fill[i].entries / fill[i].capacity);
}

static void print_stats(const struct policy_image *img, double ms)
{
	struct ctl_map_fill fill[CTL_MAPS];
	size_t total = ctl_map_fill(img, fill);

	printf("compiled in %.1f ms\n", ms);
	ctl_print_fill(img, "");
	printf("remote classes %zu, profiles %zu, map entries in all %zu\n", img->n_remote_classes,
	       img->n_profiles, total);
	printf("\n%-24s %8s %14s\n", "endpoint", "profile", "policy entries");
	for (size_t i = 0; i < img->n_endpoints; i++) {
		size_t n = 0;

		for (size_t k = 0; k < img->n_policy; k++)
			n += img->policy[k].trie / IOF_POLICY_PARTS == img->endpoints[i].profile;
		printf("%-24s %8u %14zu\n", img->endpoints[i].name, img->endpoints[i].profile, n);
	}
}

/* A node no endpoint or prefilter names compiles to an empty image: say so. */
static void warn_unknown_node(const struct policy_document *doc, const char *file,
			      const char *node)
{
	for (size_t i = 0; i < doc->n_endpoints; i++)
		if (!strcmp(doc->endpoints[i].node, node))
			return;
	for (size_t i = 0; i < doc->n_prefilters; i++)
		if (!strcmp(doc->prefilters[i].node, node))
			return;
	fprintf(stderr, "%s: warning: node %s: no endpoint and no prefilter is on this node (the "
		"image is empty)\n", file, node);
}

int cmd_compile(int argc, char **argv)
{
	const char *file, *node, *output;
	struct policy_document *doc = NULL;
	struct policy_image *img = NULL;
	struct timespec t0, t1;
	struct ctl_opts o;
	char msg[200] = "";
	int r;

	r = ctl_parse(argc, argv, "compile", &o);
	if (r >= 0)
		return r;
	file = o.file;
	node = o.node;
	output = o.output ? o.output : "stats";
	if (!file || !node) {
		fprintf(stderr, "iofencectl compile: -f FILE and --node NAME are required (see "
				"iofencectl compile --help)\n");
		ctl_opts_free(&o);
		return CTL_USER_ERROR;
	}
	r = ctl_load_policy(file, &doc);
	if (r) {
		ctl_opts_free(&o);
		return r;
	}
	warn_unknown_node(doc, file, node);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	r = policy_compile(doc, node, &img, msg, sizeof(msg));
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (r == -E2BIG) {
		fprintf(stderr, "%s: too large for node %s: %s\n", file, node, msg);
		r = CTL_USER_ERROR;
	} else if (r) {
		fprintf(stderr, "%s: cannot compile: %s\n", file, strerror(-r));
		r = CTL_SYSTEM_ERROR;
	} else {
		if (!strcmp(output, "json"))
			print_json(doc, img);
		else
			print_stats(img, (double)(t1.tv_sec - t0.tv_sec) * 1e3 +
					     (double)(t1.tv_nsec - t0.tv_nsec) / 1e6);
		r = CTL_OK;
	}
	policy_image_free(img);
	policy_document_free(doc);
	ctl_opts_free(&o);
	return r;
}
