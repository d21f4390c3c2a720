#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The gRPC API from a Python grpcio client (stubs generated at build time): every RPC, error
# codes, a malformed message, a cancelled stream, sd_notify readiness and SIGTERM.
set -u
IOFENCED=$1 CTL=$2 SRC=$3 BIN=$4
[ -f "$BIN/py/iofence/v1/agent_pb2_grpc.py" ] || { echo "SKIP: no Python stubs"; exit 249; }
/usr/bin/python3 -c 'import grpc' 2>/dev/null || { echo "SKIP: no python3-grpcio"; exit 249; }
exec /usr/bin/python3 "$(dirname "$0")/grpc_api.py" "$IOFENCED" "$BIN/py"
