// SPDX-License-Identifier: Apache-2.0
/* Records of the kernel map layout and the tables of an image (policy/layout.h). */
#include <arpa/inet.h>
#include <string.h>

#include "image.h"
#include "layout.h"
#include "prefix.h"

struct layout_table layout_table_of(const struct policy_image *img, enum layout_table_id t)
{
#define RECORDS(arr, count, type, trie_bytes)                                                      \
	.base = img ? (const char *)(arr) : NULL, .n = img ? (count) : 0,                          \
	.rec_size = sizeof(type), .id_size = offsetof(type, val), .key_off = (trie_bytes),         \
	.val_size = sizeof(((type *)0)->val)
	switch (t) {
	case LAYOUT_REMOTE4:
		return (struct layout_table){
		    RECORDS(img->remote4, img->n_remote4, struct layout_remote4, 4),
		    .map = "iof_remote4",
		    .tries = true,
		    .tries_per_slot = IOF_MAX_PROFILES,
		    .trie_max = IOF_MAX_REMOTE_ENTRIES,
		    .trie_name = "iof_remote4_p"};
	case LAYOUT_REMOTE6:
		return (struct layout_table){
		    RECORDS(img->remote6, img->n_remote6, struct layout_remote6, 4),
		    .map = "iof_remote6",
		    .tries = true,
		    .tries_per_slot = IOF_MAX_PROFILES,
		    .trie_max = IOF_MAX_REMOTE_ENTRIES,
		    .trie_name = "iof_remote6_p"};
	case LAYOUT_POLICY:
		return (struct layout_table){
		    RECORDS(img->policy, img->n_policy, struct layout_policy, 4),
		    .map = "iof_policy",
		    .tries = true,
		    .tries_per_slot = IOF_MAX_PROFILES * IOF_POLICY_PARTS,
		    .trie_max = IOF_MAX_POLICY_ENTRIES,
		    .trie_name = "iof_policy_p"};
	case LAYOUT_HOST4:
		return (struct layout_table){
		    RECORDS(img->host4, img->n_host4, struct layout_host4, 0),
		    .map = "iof_remote4_host"};
	case LAYOUT_HOST6:
		return (struct layout_table){
		    RECORDS(img->host6, img->n_host6, struct layout_host6, 0),
		    .map = "iof_remote6_host"};
	default:
		return (struct layout_table){
		    RECORDS(img->any_ports, img->n_any_ports, struct layout_any_port, 0),
		    .map = "iof_any_ports"};
	}
#undef RECORDS
}

bool layout_remote4_entry(uint32_t profile, const struct policy_prefix *p,
			  struct iof_remote_val val, struct layout_remote4 *trie,
			  struct layout_host4 *host)
{
	if (prefix_is_host(p)) {
		*host = (struct layout_host4){.key = {.profile = profile}, .val = val};
		memcpy(host->key.addr, p->addr, sizeof(host->key.addr));
		return true;
	}
	*trie = (struct layout_remote4){
	    .trie = iof_profile_index(0, profile), .key = {.prefixlen = p->len}, .val = val};
	memcpy(trie->key.addr, p->addr, sizeof(trie->key.addr));
	return false;
}

bool layout_remote6_entry(uint32_t profile, const struct policy_prefix *p,
			  struct iof_remote_val val, struct layout_remote6 *trie,
			  struct layout_host6 *host)
{
	if (prefix_is_host(p)) {
		*host = (struct layout_host6){.key = {.profile = profile}, .val = val};
		memcpy(host->key.addr, p->addr, sizeof(host->key.addr));
		return true;
	}
	*trie = (struct layout_remote6){
	    .trie = iof_profile_index(0, profile), .key = {.prefixlen = p->len}, .val = val};
	memcpy(trie->key.addr, p->addr, sizeof(trie->key.addr));
	return false;
}

struct layout_any_port layout_any_port_entry(uint32_t profile, uint8_t dir, uint8_t proto,
					     uint16_t port, struct iof_policy_val val)
{
	return (struct layout_any_port){
	    .key = {.profile = profile, .dir = dir, .proto = proto, .dport = htons(port)},
	    .val = val};
}

struct layout_any_group layout_any_group_entry(uint32_t profile, uint32_t group,
					       struct iof_policy_val val)
{
	return (struct layout_any_group){.index = iof_any_group_index(0, profile, group),
					 .val = val};
}
