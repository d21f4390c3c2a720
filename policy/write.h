/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Writing a policy document as YAML or JSON text in CONTRACT.md's format, such that
 * policy_parse_buffer() reads it back into an equal document (policy_document_equal()).
 */
#ifndef IOFENCE_POLICY_WRITE_H
#define IOFENCE_POLICY_WRITE_H

#include <stdbool.h>
#include <stdio.h>

#include "model.h"

enum policy_format {
	POLICY_FORMAT_YAML = 0,
	POLICY_FORMAT_JSON = 1,
};

/**
 * policy_write() - serialize a document. Every setting is written explicitly (defaults,
 * actions, priorities, protocols); per-endpoint overrides only when set.
 *
 * Return: 0; -EINVAL for an unknown format; -EIO if writing failed; -ENOMEM.
 */
int policy_write(const struct policy_document *doc, enum policy_format fmt, FILE *out);

/* As policy_write() into a malloc'd NUL-terminated buffer (*ret_len excludes the NUL). */
int policy_write_buffer(const struct policy_document *doc, enum policy_format fmt,
			char **ret_text, size_t *ret_len);

/*
 * True if two documents say the same thing: every field of the model except source lines
 * and the resolved group indexes.
 */
bool policy_document_equal(const struct policy_document *a, const struct policy_document *b);

/* True if two rules say the same thing (name included; source line not). */
bool policy_rule_equal(const struct policy_rule *a, const struct policy_rule *b);

#endif /* IOFENCE_POLICY_WRITE_H */
