// SPDX-License-Identifier: Apache-2.0
/*
 * Jobs of the engine and the answer an apply gets: its status, details and the errors
 * trailer, within gRPC's metadata limit.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <grpc/status.h>

#include "job.h"
#include "log.h"

void job_free(struct job *job)
{
	if (!job)
		return;
	if (job->req)
		iofence__v1__apply_request__free_unpacked(job->req, NULL);
	free(job->request);
	policy_document_free(job->doc);
	if (job->delta)
		iofence__v1__policy_delta__free_unpacked(job->delta, NULL);
	free(job->details);
	free(job->errors);
	free(job->cgroup);
	for (size_t i = 0; i < job->n_warnings; i++)
		free(job->warnings[i]);
	free(job->warnings);
	free(job);
}

void job_set_status(struct job *job, int status, const char *fmt, ...)
{
	va_list ap;

	job->status = status;
	free(job->details);
	va_start(ap, fmt);
	if (vasprintf(&job->details, fmt, ap) < 0)
		job->details = NULL;
	va_end(ap);
}

bool job_gone(const struct job *job, uint64_t now)
{
	return (job->abandoned && job->abandoned(job->ctx)) ||
	       (job->deadline_usec && now >= job->deadline_usec);
}

void job_refuse_unstarted(struct job *job)
{
	/* a passed deadline cancels the call too: it is named first */
	bool late = job->deadline_usec && monotonic_usec() >= job->deadline_usec;

	job_set_status(job, late ? GRPC_STATUS_DEADLINE_EXCEEDED : GRPC_STATUS_CANCELLED,
		       "apply not started: %s", late ? "deadline passed" : "the client cancelled");
	log_warn("%s", job->details);
}

/*
 * Where the read stopped: the parser's last error (a line, and how much of the text was
 * read), else the request's size ("" when neither is known).
 */
static void stopped_at(const struct job *job, const struct policy_errors *errs, char *where,
		       size_t len)
{
	where[0] = 0;
	if (errs && errs->n) {
		where[0] = ':';
		where[1] = ' ';
		policy_error_format(&errs->items[errs->n - 1], where + 2, len - 2);
	} else if (job->request_bytes) {
		snprintf(where, len, " (a %zu-byte request)", job->request_bytes);
	}
}

void job_refuse_late(struct job *job, const struct policy_errors *errs, uint64_t spent_usec)
{
	char where[600];

	stopped_at(job, errs, where, sizeof(where));
	if (job_gone(job, monotonic_usec()))
		job_set_status(job, GRPC_STATUS_DEADLINE_EXCEEDED,
			       "apply stopped after %.0f ms: the client's deadline passed%s",
			       spent_usec / 1e3, where);
	else
		job_set_status(job, GRPC_STATUS_RESOURCE_EXHAUSTED,
			       "apply stopped: the document was not read within the read budget "
			       "of %d ms of CPU time%s",
			       APPLY_READ_BUDGET_MS, where);
	log_warn("%s", job->details);
}

void job_refuse_slow(struct job *job, const struct policy_errors *errs, uint64_t cpu_usec)
{
	char where[600];

	stopped_at(job, errs, where, sizeof(where));
	if (!cpu_usec)
		job_set_status(job, GRPC_STATUS_RESOURCE_EXHAUSTED,
			       "apply not started: the read budget of %d ms from the call's start "
			       "had passed when a reader took it (the node is busy)%s",
			       job->read_wall_ms, where);
	else
		job_set_status(job, GRPC_STATUS_RESOURCE_EXHAUSTED,
			       "apply stopped: the document was not read within the read budget "
			       "of %d ms from the call's start, having had %.0f ms of CPU time "
			       "(the node is short of CPU)%s",
			       job->read_wall_ms, cpu_usec / 1e3, where);
	log_warn("%s", job->details);
}

/*
 * The status details and the errors trailer share gRPC's 8 KiB metadata limit (a client
 * refuses the whole answer past it): details up to DETAILS_MAX bytes as sent (percent-encoded
 * where not printable ASCII), the trailer's packed errors up to TRAILER_MAX (base64 on the
 * wire: 4/3 of it).
 */
#define DETAILS_MAX 3500
#define TRAILER_MAX 2048

/* Bytes s takes in grpc-message, which percent-encodes all but printable ASCII. */
static size_t details_len(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		n += (unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e || *s == '%' ? 3 : 1;
	return n;
}

void job_set_validation_errors(struct job *job, const struct policy_errors *errs)
{
	Iofence__V1__ValidationErrors msg = IOFENCE__V1__VALIDATION_ERRORS__INIT;
	Iofence__V1__ValidationError *items = calloc(errs->n ? errs->n : 1, sizeof(*items));
	Iofence__V1__ValidationError **ptrs = calloc(errs->n ? errs->n : 1, sizeof(*ptrs));
	size_t cap = DETAILS_MAX, len = 0, wire = 0, total = errs->n + errs->dropped, shown = 0;
	size_t listed = 0, packed = 0, item;
	bool full = false;
	char *text = malloc(cap + 200);

	job->status = GRPC_STATUS_INVALID_ARGUMENT;
	if (!items || !ptrs || !text) {
		free(items);
		free(ptrs);
		free(text);
		job_set_status(job, GRPC_STATUS_INVALID_ARGUMENT, "policy refused (out of memory)");
		return;
	}
	text[0] = 0;
	for (size_t i = 0; i < errs->n; i++) {
		const struct policy_error *e = &errs->items[i];
		char line[1024];

		iofence__v1__validation_error__init(&items[i]);
		items[i].file = e->file ? e->file : (char *)"";
		items[i].line = e->line;
		items[i].field = e->field ? e->field : (char *)"";
		items[i].message = e->message ? e->message : (char *)"";
		ptrs[i] = &items[i];
		item = iofence__v1__validation_error__get_packed_size(&items[i]) + 4;
		full = full || packed + item > TRAILER_MAX;
		if (!full) {
			packed += item;
			listed++;
		}
		policy_error_format(e, line, sizeof(line));
		if (wire + details_len(line) + 1 < cap) {
			wire += details_len(line) + 1;
			len += (size_t)sprintf(text + len, "%s%s", len ? "\n" : "", line);
			shown++;
		}
	}
	if (shown < total)
		sprintf(text + len, "%s... and %zu more error%s", len ? "\n" : "", total - shown,
			total - shown == 1 ? "" : "s");
	msg.n_errors = listed;
	msg.errors = ptrs;
	msg.more = (uint32_t)(total - listed);
	job->errors_len = iofence__v1__validation_errors__get_packed_size(&msg);
	job->errors = malloc(job->errors_len ? job->errors_len : 1);
	if (job->errors)
		iofence__v1__validation_errors__pack(&msg, job->errors);
	else
		job->errors_len = 0;
	free(job->details);
	job->details = text;
	free(items);
	free(ptrs);
}
