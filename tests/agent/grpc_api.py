#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
# Python grpcio client against iofenced (--datapath none: the API, not the enforcement):
# readiness via NOTIFY_SOCKET, Apply (document and source), INVALID_ARGUMENT with the
# iofence-errors-bin trailer, FAILED_PRECONDITION, GetStatus, GetPolicy (current, kept,
# unknown), GetCounters, WatchFlows cancelled mid-way, a malformed message, an unknown method,
# reads answered while a large apply is compiling, SIGTERM exit 0.
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

IOFENCED, PYDIR = sys.argv[1], sys.argv[2]
sys.path.insert(0, PYDIR)
import grpc  # noqa: E402
from iofence.v1 import agent_pb2 as pb  # noqa: E402
from iofence.v1 import agent_pb2_grpc as pbg  # noqa: E402
from big_document import big_document  # noqa: E402

failures = []


def check(cond, what):
    print(("ok: " if cond else "FAIL: ") + what, flush=True)
    if not cond:
        failures.append(what)


POLICY = """revision: {rev}
defaults: {{ingress: deny, egress: allow}}
securityGroups:
  - name: web
    rules:
      - {{direction: ingress, protocol: tcp, ports: [80], group: clients}}
  - name: clients
    rules: []
endpoints:
  - {{name: web-1, node: n1, interface: veth-web1, addresses: [10.20.1.5], groups: [web]}}
  - {{name: cl-1, node: n1, interface: veth-cl1, addresses: [10.20.2.5], groups: [clients]}}
"""


def big_policy(rev, n):
    rules = "\n".join(
        "      - {direction: ingress, protocol: tcp, ports: [%d], cidr: 10.%d.%d.0/24}"
        % (1 + i % 60000, (i >> 16) & 255, (i >> 8) & 255)
        for i in range(n))
    return ("revision: %d\nsecurityGroups:\n  - name: big\n    rules:\n%s\nendpoints:\n"
            "  - {name: e, node: n1, interface: veth-e, addresses: [10.99.0.1], groups: [big]}\n"
            % (rev, rules))



def main():
    tmp = tempfile.mkdtemp(prefix="iofag-grpc.")
    sock = os.path.join(tmp, "sock")
    notify = os.path.join(tmp, "notify")
    ns = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    ns.bind(notify)
    ns.settimeout(20)
    env = dict(os.environ, NOTIFY_SOCKET=notify)
    log = open(os.path.join(tmp, "log"), "w")
    agent = subprocess.Popen([IOFENCED, "--datapath", "none", "--node", "n1", "--state",
                              os.path.join(tmp, "state.db"), "--listen", "unix:" + sock,
                              "--log-level", "debug"], env=env, stderr=log)
    try:
        msg = b""
        while b"READY=1" not in msg:
            msg = ns.recv(4096)
        check(True, "sd_notify READY=1 received")
        check(oct(os.stat(sock).st_mode & 0o777) == "0o600", "socket mode 0600")
        run(sock)
        agent.send_signal(signal.SIGTERM)
        check(agent.wait(20) == 0, "SIGTERM: exit 0")
        check(not os.path.exists(sock), "socket removed at exit")
    finally:
        if agent.poll() is None:
            agent.kill()
            agent.wait()
        log.close()
        if failures:
            print(open(os.path.join(tmp, "log")).read()[-4000:])
        subprocess.run(["rm", "-rf", tmp])
    print("PASS" if not failures else "FAILED: %d" % len(failures))
    sys.exit(1 if failures else 0)


def run(sock):
    ch = grpc.insecure_channel("unix:" + sock, options=[
        ("grpc.max_receive_message_length", 256 << 20),
        ("grpc.max_send_message_length", 256 << 20)])
    stub = pbg.AgentStub(ch)

    st = stub.GetStatus(pb.GetStatusRequest(), timeout=5)
    check(st.node == "n1" and st.revision == 0, "GetStatus before any apply: revision 0")

    # Apply as a document message (no revision: latest + 1).
    doc = pb.PolicyDocument(
        defaults=pb.Defaults(ingress=pb.ACTION_DENY, egress=pb.ACTION_ALLOW),
        security_groups=[pb.SecurityGroup(name="web", rules=[pb.Rule(
            direction=pb.DIRECTION_INGRESS, action=pb.ACTION_ALLOW, protocol=6,
            ports=[pb.PortRange(lo=80, hi=80)], cidr="10.0.0.0/8")])],
        endpoints=[pb.Endpoint(name="web-1", node="n1", interface="veth-web1",
                               addresses=["10.20.1.5"], groups=["web"])])
    r = stub.Apply(pb.ApplyRequest(document=doc, source_name="py"), timeout=10)
    check(r.revision == 1 and r.node == "n1" and r.endpoints == 1,
          "Apply(document) without revision: revision 1, 1 endpoint")

    r = stub.Apply(pb.ApplyRequest(source=POLICY.format(rev=5), source_name="p.yaml"), timeout=10)
    check(r.revision == 5 and r.endpoints == 2, "Apply(source) revision 5")

    # The enforced document again: unchanged, nothing stored.
    r = stub.Apply(pb.ApplyRequest(source=POLICY.format(rev=5)), timeout=10)
    check(r.unchanged and r.revision == 5, "Apply of the enforced document: unchanged")

    # Stale revision of another document.
    try:
        stub.Apply(pb.ApplyRequest(source=POLICY.format(rev=5).replace("[80]", "[81]")),
                   timeout=10)
        check(False, "stale revision refused")
    except grpc.RpcError as e:
        check(e.code() == grpc.StatusCode.FAILED_PRECONDITION, "stale revision: FAILED_PRECONDITION")

    # Invalid: every error, in the details and in the trailer.
    bad = POLICY.format(rev=6).replace("ports: [80]", "ports: [0]").replace(
        "groups: [clients]", "groups: [nosuch]")
    try:
        stub.Apply(pb.ApplyRequest(source=bad, source_name="bad.yaml"), timeout=10)
        check(False, "invalid document refused")
    except grpc.RpcError as e:
        check(e.code() == grpc.StatusCode.INVALID_ARGUMENT, "invalid: INVALID_ARGUMENT")
        lines = e.details().splitlines()
        check(len(lines) == 2 and all(l.startswith("bad.yaml:") for l in lines),
              "invalid: details list every error as file:line: field: message (%r)" % lines)
        md = dict(e.trailing_metadata() or ())
        ve = pb.ValidationErrors.FromString(md.get("iofence-errors-bin", b""))
        check(len(ve.errors) == 2 and ve.errors[0].file == "bad.yaml" and ve.errors[0].line > 0,
              "invalid: iofence-errors-bin trailer has both errors with lines")
    for req, what in ((pb.ApplyRequest(), "neither"),
                      (pb.ApplyRequest(document=doc, source="x: 1"), "both")):
        try:
            stub.Apply(req, timeout=10)
            check(False, "ApplyRequest with %s refused" % what)
        except grpc.RpcError as e:
            check(e.code() == grpc.StatusCode.INVALID_ARGUMENT,
                  "ApplyRequest with %s document/source: INVALID_ARGUMENT" % what)

    st = stub.GetStatus(pb.GetStatusRequest(), timeout=5)
    check(st.revision == 5 and {e.name for e in st.endpoints} == {"web-1", "cl-1"},
          "GetStatus: revision 5, both endpoints")
    check(any(m.name == "tc/veth-web1/ingress" for m in st.modules), "GetStatus: modules")

    gp = stub.GetPolicy(pb.GetPolicyRequest(), timeout=5)
    check(gp.revision == 5 and gp.source.startswith("revision: 5") and
          list(gp.stored_revisions) == [5, 1], "GetPolicy current: source and kept revisions")
    gp1 = stub.GetPolicy(pb.GetPolicyRequest(revision=1), timeout=5)
    check(gp1.revision == 1 and gp1.document.endpoints[0].name == "web-1",
          "GetPolicy(1): the earlier document")
    try:
        stub.GetPolicy(pb.GetPolicyRequest(revision=3), timeout=5)
        check(False, "GetPolicy of a revision never applied")
    except grpc.RpcError as e:
        check(e.code() == grpc.StatusCode.NOT_FOUND, "GetPolicy(3): NOT_FOUND")

    gc = stub.GetCounters(pb.GetCountersRequest(), timeout=5)
    check(gc.revision == 5 and [(r.group, r.index) for r in gc.rules] == [("web", 0)] and
          len(gc.endpoints) == 2 and any(d.reason == "policy" for d in gc.drops),
          "GetCounters: rules by group/index, endpoints, drop reasons")
    try:
        stub.GetCounters(pb.GetCountersRequest(endpoint="nosuch"), timeout=5)
        check(False, "GetCounters of an unknown endpoint")
    except grpc.RpcError as e:
        check(e.code() == grpc.StatusCode.NOT_FOUND, "GetCounters(nosuch): NOT_FOUND")

    # WatchFlows: a stream cancelled mid-way; the agent keeps serving.
    stream = stub.WatchFlows(pb.WatchFlowsRequest(verdict="deny"))
    got = []

    def reader():
        try:
            for ev in stream:
                got.append(ev)
        except grpc.RpcError as e:
            got.append(e.code())

    t = threading.Thread(target=reader)
    t.start()
    time.sleep(0.5)
    stream.cancel()
    t.join(5)
    check(not t.is_alive() and got and got[-1] == grpc.StatusCode.CANCELLED,
          "WatchFlows cancelled mid-way")
    for i in range(20):  # many short-lived streams leave nothing behind
        s = stub.WatchFlows(pb.WatchFlowsRequest())
        s.cancel()
    check(stub.GetStatus(pb.GetStatusRequest(), timeout=5).revision == 5,
          "agent serves after cancelled streams")

    # Malformed request bytes, and an unknown method.
    raw = ch.unary_unary("/iofence.v1.Agent/Apply")
    try:
        raw(b"\xff\xff\xff\xff\x0f", timeout=5)
        check(False, "malformed message refused")
    except grpc.RpcError as e:
        check(e.code() == grpc.StatusCode.INVALID_ARGUMENT, "malformed message: INVALID_ARGUMENT")
    try:
        ch.unary_unary("/iofence.v1.Agent/Frobnicate")(b"", timeout=5)
        check(False, "unknown method refused")
    except grpc.RpcError as e:
        check(e.code() == grpc.StatusCode.UNIMPLEMENTED, "unknown method: UNIMPLEMENTED")

    # Reads do not wait behind a compile: GetStatus during a 100k-rule apply.
    big = big_document(7, 100000, "e", "veth-e")
    fut = stub.Apply.future(pb.ApplyRequest(document=big, source_name="big.yaml"), timeout=120)
    time.sleep(0.05)
    lat = []
    while not fut.done():
        t0 = time.time()
        stub.GetStatus(pb.GetStatusRequest(), timeout=5)
        lat.append(time.time() - t0)
    r = fut.result()
    check(r.revision == 7, "100k-rule apply acknowledged (%.0f ms)" % (r.apply_usec / 1e3))
    check(lat and max(lat) < 0.5 and len(lat) >= 3,
          "%d GetStatus answered during the apply, max %.1f ms" %
          (len(lat), 1e3 * max(lat) if lat else 0))
    ch.close()


if __name__ == "__main__":
    main()
