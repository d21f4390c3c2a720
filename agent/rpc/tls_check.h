/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Client-side mTLS diagnosis: what gRPC reports as "failed to connect" or "Socket closed",
 * named. Before connecting, the client's own material is checked (files parse, key matches
 * certificate, certificate allows clientAuth and is in date); after a failed call, one TLS
 * handshake of our own to the agent classifies the refusal (plaintext port, server
 * certificate of another CA or for another name, client certificate missing or refused).
 */
#ifndef IOFENCE_AGENT_RPC_TLS_CHECK_H
#define IOFENCE_AGENT_RPC_TLS_CHECK_H

#include <stddef.h>

#include "rpc.h"

/*
 * rpc_tls_check_local() - check the client's TLS files without connecting
 * Return: 0, or -EINVAL with a sentence naming the file and the problem in @why.
 */
int rpc_tls_check_local(const struct rpc_tls *tls, char *why, size_t len);

/*
 * rpc_tls_diagnose() - why a call to HOST:PORT @addr failed, as far as TLS is concerned
 * @tls: the material the call used (tls->ca NULL: the call was plaintext)
 * @timeout_ms: bound of the connect and of each handshake step
 *
 * Return: 1 with a sentence in @why when a TLS cause was found; 0 when the agent cannot be
 * reached at all or TLS is not the problem (the caller keeps gRPC's message).
 */
int rpc_tls_diagnose(const char *addr, const struct rpc_tls *tls, int timeout_ms, char *why,
		     size_t len);

#endif /* IOFENCE_AGENT_RPC_TLS_CHECK_H */
