/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Decoding a protobuf message with a bound on the memory it takes. protobuf-c allocates every
 * sub-message: an empty element of a repeated message field is 2 bytes on the wire and a
 * ~100-byte struct plus a pointer once decoded, so a request of empty rules takes ~77 times
 * its size at its peak: a request at the message limit (RPC_MAX_REQUEST, 24 MiB) ~1.8 GiB.
 * The smallest valid rule (a direction only: 4 bytes) takes ~39 times its size, the most of
 * any valid element. Without gRPC, so that the request fuzzer decodes as the server does.
 */
#ifndef IOFENCE_AGENT_RPC_DECODE_H
#define IOFENCE_AGENT_RPC_DECODE_H

#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#include "policy/read_clock.h"

/*
 * A decode may hold RPC_DECODE_FACTOR times the message's wire size plus RPC_DECODE_SLACK
 * bytes (malloc's usable sizes, its scratch space included), and never more than
 * RPC_DECODE_MAX (a 13 MiB message of the smallest valid rules, or of any text).
 */
#define RPC_DECODE_FACTOR 48
#define RPC_DECODE_SLACK ((size_t)1 << 20)
#define RPC_DECODE_MAX ((size_t)512 << 20)

/*
 * rpc_decode() - the message of desc in data[0..len), allocated with malloc (free it with
 * protobuf_c_message_free_unpacked(msg, NULL)). NULL with errno E2BIG when it would take more
 * than its bound, EBADMSG when it does not parse.
 */
ProtobufCMessage *rpc_decode(const ProtobufCMessageDescriptor *desc, size_t len,
			     const uint8_t *data);

/*
 * rpc_decode_until() - rpc_decode() that also gives up (NULL, errno ETIME) once the read is
 * past clock (policy/read_clock.h; NULL: never), looked at every RPC_DECODE_CLOCK_EVERY
 * allocations: the densest messages (an empty rule every 2 bytes) cost ~200 ns of CPU a byte
 * to decode, four times what the densest text costs to parse, so a decode is held to the read
 * budget like a parse (docs/AGENT.md, "Bounds").
 */
#define RPC_DECODE_CLOCK_EVERY 1024
ProtobufCMessage *rpc_decode_until(const ProtobufCMessageDescriptor *desc, size_t len,
				   const uint8_t *data, const struct read_clock *clock);

#endif /* IOFENCE_AGENT_RPC_DECODE_H */
