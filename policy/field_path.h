/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Field paths of error messages (securityGroups[0].rules[3].ports[1]) built as snprintf into
 * a FIELD_PATH_LEN buffer would build them, truncation included, at a fraction of its cost:
 * the parsers make one for every item and key of a document and use few of them.
 */
#ifndef IOFENCE_POLICY_FIELD_PATH_H
#define IOFENCE_POLICY_FIELD_PATH_H

#include <stddef.h>
#include <string.h>

#define FIELD_PATH_LEN 160

/* Appends len bytes of s at *at; what does not fit is cut off. */
static inline void field_path_put(char out[FIELD_PATH_LEN], size_t *at, const char *s, size_t len)
{
	size_t room = FIELD_PATH_LEN - 1 - *at;

	memcpy(out + *at, s, len < room ? len : room);
	*at += len < room ? len : room;
	out[*at] = '\0';
}

/* out = "<path>[<i>]" */
static inline void field_path_index(char out[FIELD_PATH_LEN], const char *path, size_t i)
{
	char digits[24];
	size_t at = 0, d = sizeof(digits);

	do
		digits[--d] = (char)('0' + i % 10);
	while ((i /= 10) != 0);
	field_path_put(out, &at, path, strlen(path));
	field_path_put(out, &at, "[", 1);
	field_path_put(out, &at, digits + d, sizeof(digits) - d);
	field_path_put(out, &at, "]", 1);
}

/* out = "<path>.<key>", or "<key>" at the top (path ""). */
static inline void field_path_key(char out[FIELD_PATH_LEN], const char *path, const char *key)
{
	size_t at = 0;

	field_path_put(out, &at, path, strlen(path));
	if (*path)
		field_path_put(out, &at, ".", 1);
	field_path_put(out, &at, key, strlen(key));
}

#endif /* IOFENCE_POLICY_FIELD_PATH_H */
