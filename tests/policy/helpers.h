/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Shared helpers of the policy unit tests: parse text expecting success or an exact list of
 * `file:line: field: message` errors. Include after <cmocka.h>'s prerequisites.
 */
#ifndef IOFENCE_TESTS_POLICY_HELPERS_H
#define IOFENCE_TESTS_POLICY_HELPERS_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "policy/errors.h"
#include "policy/model.h"

/* Parses text as "t.yaml"; fails the test (printing the errors) unless it is valid. */
struct policy_document *parse_ok(const char *text);

/* Parses a file under tests/policy/data; fails the test unless it is valid. */
struct policy_document *parse_data_file(const char *name);

/* All errors as "file:line: field: message" lines joined by '\n' (malloc'd). */
char *errors_text(const struct policy_errors *errs);

/* Parses text as "t.yaml", expecting -EINVAL and exactly these errors (lines joined by '\n'). */
void assert_parse_errors(const char *text, const char *expected);

/* A host address for tests: "10.0.0.1" or "fd00::1". */
struct policy_prefix addr(const char *text);

#endif /* IOFENCE_TESTS_POLICY_HELPERS_H */
