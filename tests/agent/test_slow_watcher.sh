#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# A flow watcher that does not read while thousands of verdict events arrive: the agent
# drops its overflow (never blocks: GetStatus stays fast, a fast watcher keeps receiving) and
# tells the slow one how many it lost in events_lost; the metrics count the drops.
source "$(dirname "$0")/lib.sh" slow "$@"
BIN=$4
[ -f "$BIN/py/iofence/v1/agent_pb2_grpc.py" ] || skip "no Python stubs"
/usr/bin/python3 -c 'import grpc' 2>/dev/null || skip "no python3-grpcio"

cli_srv 83
cli_srv_policy 83 1 >"$TMP/p.yaml"
start_agent a n n1 --events-per-sec 1000000 --metrics 127.0.0.1:19107
ctl a apply -f "$TMP/p.yaml" >/dev/null || fail "apply"
"$CTL" flows --follow --agent "$(agent a)" -o json >"$TMP/fast.json" 2>/dev/null &
PIDS+=($!)
/usr/bin/python3 - "$BIN/py" "$(agent a)" "$PFX-cli" "$SRC/deploy/demo/probe.py" <<'PY' >"$TMP/py.out" 2>&1 || { cat "$TMP/py.out"; fail "slow watcher"; }
import subprocess, sys, time
sys.path.insert(0, sys.argv[1])
import grpc
from iofence.v1 import agent_pb2 as pb, agent_pb2_grpc as pbg
# A tiny receive window, so that the agent's queue, not gRPC's buffers, absorbs the burst.
ch = grpc.insecure_channel(sys.argv[2], options=[("grpc.http2.lookahead_bytes", 1024),
    ("grpc.http2.bdp_probe", 0)])
stub = pbg.AgentStub(ch)
stream = stub.WatchFlows(pb.WatchFlowsRequest(verdict="deny"))
it = iter(stream)
time.sleep(0.5)  # the watcher registers; nothing is read during the flood
flood = subprocess.Popen(["nsenter", "--net=/var/run/netns/" + sys.argv[3], "/usr/bin/python3",
                          sys.argv[4], "flood", "10.83.0.3", "7000", "4"], stdout=subprocess.PIPE)
worst = 0
while flood.poll() is None:
    t0 = time.time()
    stub.GetStatus(pb.GetStatusRequest(), timeout=5)
    worst = max(worst, time.time() - t0)
    time.sleep(0.05)
print("flood:", flood.stdout.read().decode().strip(), "GetStatus worst %.1f ms" % (worst * 1e3))
lost, n = 0, 0
deadline = time.time() + 5
for ev in it:
    n += 1
    lost += ev.events_lost
    if lost or time.time() > deadline:
        break
stream.cancel()
gc = stub.GetCounters(pb.GetCountersRequest(), timeout=5)
print("read %d events, told of %d lost; agent counts %d dropped" % (n, lost, gc.events_dropped))
assert worst < 0.5, "GetStatus blocked during the flood"
assert lost > 0, "the slow watcher was not told about lost events"
assert gc.events_dropped > 0
PY
cat "$TMP/py.out"
[ "$(wc -l <"$TMP/fast.json")" -gt 100 ] || fail "the fast watcher starved ($(wc -l <"$TMP/fast.json") events)"
in_ns "$PFX-n" curl -sf http://127.0.0.1:19107/metrics | grep -q '^iofence_flow_events_dropped_total [1-9]' \
	|| fail "metrics do not count the drops"
log "slow watcher told of its losses; fast watcher got $(wc -l <"$TMP/fast.json") events"
