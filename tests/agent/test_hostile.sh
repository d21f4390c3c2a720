#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Hostile Apply requests (nesting 100k deep in YAML and JSON, many keys, anchors, %TAG
# directives, bytes that are not text; 200 KB each) are refused with INVALID_ARGUMENT and a
# file:line; an apply whose deadline passed while queued, or whose client cancelled, is not
# started; a valid apply sent while slow hostile reads are in flight is answered before them
# (order of completion); the valid policy applied after them is enforced; with the default
# read budget, a request whose bytes drip in is answered before its sender is done, and a
# large valid document applies. Times are printed, not asserted
# (bench/hostile/run.sh measures them under load).
source "$(dirname "$0")/lib.sh" hostile "$@"
BIN=$4
[ -f "$BIN/py/iofence/v1/agent_pb2_grpc.py" ] || skip "no Python stubs"
/usr/bin/python3 -c 'import grpc' 2>/dev/null || skip "no python3-grpcio"

cli_srv 78
serve srv tcp 8080 9000

cli_srv_policy 78 "" "{direction: ingress, protocol: tcp, ports: [8080], group: client}" >"$TMP/valid.yaml"

# No wall-clock read budget: the slow hostile reads last their whole CPU budget however busy
# the machine is, so that a valid apply sent after them is answered first on any machine.
start_agent a n n1 --apply-read-wall-ms 0
/usr/bin/python3 "$(dirname "$0")/grpc_hostile.py" "$BIN/py" "$TMP/a/sock" "$TMP/a/log" check \
	"$TMP/valid.yaml" || fail "hostile requests"
tcp_ok cli 10.78.0.3 8080
tcp_blocked cli 10.78.0.3 9000

# With the default read budget: a request that drips in is answered within it (its clock
# starts with the call, not when the message is in), and a large valid document applies.
node m
start_agent b m n1 --apply-read-wall-ms 800
/usr/bin/python3 "$(dirname "$0")/grpc_hostile.py" "$BIN/py" "$TMP/b/sock" "$TMP/b/log" budget ||
	fail "read budget"
