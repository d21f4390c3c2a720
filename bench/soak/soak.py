#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
# The soak's traffic and applies (bench/soak/run.sh sets up the namespaces and the agent).
#   soak.py run PYDIR SOCK AGENT_PID NS_A ADDR_A NS_B ADDR_B APPLIES RATE P1 P2
#   soak.py send DST RATE STOPFILE OUT   /   soak.py recv STOPFILE OUT   (in a namespace)
# UDP flows both ways, four classes by port: 7001 allowed by both policies, 7002 by P1 only,
# 7003 by P2 only, 7004 by neither. Every packet carries a sequence number. While the flows
# run, APPLIES applies alternate P2, P1, ...; afterwards every packet must have been judged
# once: delivered (7001 all, 7004 none) or counted in the datapath's drop counters, the
# drops adding up to the packets sent minus those delivered. The agent's RSS is sampled every
# 1,000 applies.
import json
import os
import socket
import subprocess
import sys
import time

PORTS = (7001, 7002, 7003, 7004)


def send(dst, rate, stopfile, out):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sent = {p: 0 for p in PORTS}
    interval = 1.0 / float(rate)
    nxt = time.monotonic()
    seq = 0
    while not os.path.exists(stopfile):
        for p in PORTS:
            s.sendto(b"%d" % seq, (dst, p))
            sent[p] += 1
        seq += 1
        nxt += interval * len(PORTS)
        delay = nxt - time.monotonic()
        if delay > 0:
            time.sleep(delay)
    json.dump(sent, open(out, "w"))


def recv(stopfile, out):
    socks = []
    for p in PORTS:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        s.bind(("0.0.0.0", p))
        s.setblocking(False)
        socks.append((p, s))
    got = {p: 0 for p in PORTS}
    dup = 0
    seen = {p: set() for p in PORTS}
    import select
    idle_since = None
    while True:
        r, _, _ = select.select([s for _, s in socks], [], [], 0.2)
        for p, s in socks:
            if s in r:
                while True:
                    try:
                        data = s.recv(64)
                    except BlockingIOError:
                        break
                    if data in seen[p]:
                        dup += 1
                    seen[p].add(data)
                    got[p] += 1
        if os.path.exists(stopfile):
            if not r:
                idle_since = idle_since or time.monotonic()
                if time.monotonic() - idle_since > 0.5:
                    break
            else:
                idle_since = None
    json.dump({"got": got, "dup": dup}, open(out, "w"))


def rss_mib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def run(pydir, sock, agent_pid, ns_a, addr_a, ns_b, addr_b, applies, rate, p1, p2):
    sys.path.insert(0, pydir)
    import grpc
    from iofence.v1 import agent_pb2 as pb
    from iofence.v1 import agent_pb2_grpc as pbg

    tmp = os.path.dirname(p1)
    stop_send, stop_recv = os.path.join(tmp, "stop-send"), os.path.join(tmp, "stop-recv")
    me = os.path.abspath(__file__)
    ch = grpc.insecure_channel("unix:" + sock)
    stub = pbg.AgentStub(ch)
    docs = [open(p1).read(), open(p2).read()]

    def drops():
        c = stub.GetCounters(pb.GetCountersRequest(), timeout=10)
        return {d.reason: d.packets for d in c.drops}

    procs = []

    def spawn(ns, *args):
        procs.append(subprocess.Popen(["nsenter", "--net=/var/run/netns/" + ns,
                                       "/usr/bin/python3", me] + list(args)))

    rev0 = stub.GetStatus(pb.GetStatusRequest(), timeout=10).revision
    d0 = drops()
    out = {}
    for ns, name in ((ns_a, "a"), (ns_b, "b")):
        out["recv_" + name] = os.path.join(tmp, "recv-%s.json" % name)
        spawn(ns, "recv", stop_recv, out["recv_" + name])
    time.sleep(0.5)
    out["send_a"] = os.path.join(tmp, "send-a.json")
    out["send_b"] = os.path.join(tmp, "send-b.json")
    spawn(ns_a, "send", addr_b, str(rate), stop_send, out["send_a"])
    spawn(ns_b, "send", addr_a, str(rate), stop_send, out["send_b"])
    time.sleep(0.5)
    rss = []
    lat = []
    failed = 0
    unchanged = 0
    t0 = time.monotonic()
    for i in range(1, applies + 1):
        ts = time.monotonic()
        try:
            r = stub.Apply(pb.ApplyRequest(source=docs[i % 2]), timeout=30)
            unchanged += r.unchanged
        except grpc.RpcError as e:
            failed += 1
            print("apply %d: %s %s" % (i, e.code().name, e.details()), flush=True)
        lat.append(time.monotonic() - ts)
        if i % 1000 == 0 or i == applies:
            rss.append((i, rss_mib(agent_pid)))
            print("applies %d: RSS %.1f MiB, %.1f applies/s" % (
                i, rss[-1][1], i / (time.monotonic() - t0)), flush=True)
    secs = time.monotonic() - t0
    # Stop sending, let the last packets land, then stop receiving.
    open(stop_send, "w").close()
    time.sleep(1.0)
    open(stop_recv, "w").close()
    for p in procs:
        p.wait(30)
    d1 = drops()
    revs = stub.GetStatus(pb.GetStatusRequest(), timeout=10).revision - rev0
    sent = {}
    got = {}
    dup = 0
    for a, b in (("send_a", "recv_b"), ("send_b", "recv_a")):
        s = json.load(open(out[a]))
        r = json.load(open(out[b]))
        dup += r["dup"]
        for p in PORTS:
            sent[p] = sent.get(p, 0) + s[str(p)]
            got[p] = got.get(p, 0) + r["got"][str(p)]
    dropped = {k: d1.get(k, 0) - d0.get(k, 0) for k in set(d0) | set(d1)}
    dropped = {k: v for k, v in dropped.items() if v and k != "audit-would-drop"}
    judged_drop = sum(dropped.values())
    expect_drop = sum(sent[p] - got[p] for p in PORTS)
    lat.sort()
    print()
    print("| what | value |")
    print("|---|---:|")
    print("| applies (alternating two policies), failed, unchanged; revisions enforced | "
          "%d, %d, %d; %d |" % (applies, failed, unchanged, revs))
    print("| applies/s; apply p50 / p99 / max ms | %.1f; %.1f / %.1f / %.1f |" % (
        applies / secs, lat[len(lat) // 2] * 1e3, lat[int(len(lat) * .99)] * 1e3,
        lat[-1] * 1e3))
    names = {7001: "allowed by both", 7002: "allowed by P1 only", 7003: "allowed by P2 only",
             7004: "denied by both"}
    for p in PORTS:
        print("| udp/%d (%s): sent, delivered | %d, %d |" % (p, names[p], sent[p], got[p]))
    print("| duplicates delivered | %d |" % dup)
    print("| datapath drops (%s) | %d |" % (
        ", ".join("%s %d" % kv for kv in sorted(dropped.items())), judged_drop))
    print("| sent - delivered - dropped (0: every packet judged once) | %d |" % (
        expect_drop - judged_drop))
    base = [r for i, r in rss if i == 1000] or [rss[0][1]]
    print("| agent RSS at applies %s (MiB) | %s |" % (
        ",".join(str(i) for i, _ in rss), " ".join("%.1f" % r for _, r in rss)))
    growth = rss[-1][1] - base[0]
    print("| RSS growth from apply 1,000 (or the first sample) to the last | %+.1f MiB |" % growth)
    bad = []
    if failed or unchanged or revs != applies:
        bad.append("%d applies failed, %d unchanged, %d revisions" % (failed, unchanged, revs))
    if got[7001] != sent[7001]:
        bad.append("allowed packets lost: %d" % (sent[7001] - got[7001]))
    if got[7004]:
        bad.append("denied packets delivered: %d" % got[7004])
    if dup:
        bad.append("duplicates delivered: %d" % dup)
    if expect_drop != judged_drop:
        bad.append("packets not judged exactly once: %d" % (expect_drop - judged_drop))
    if len(rss) > 1 and abs(growth) > 5:
        bad.append("RSS not flat: %+.1f MiB" % growth)
    print("\n" + ("PASS" if not bad else "FAIL: " + "; ".join(bad)))
    return 1 if bad else 0


if __name__ == "__main__":
    mode = sys.argv[1]
    if mode == "send":
        send(*sys.argv[2:6])
    elif mode == "recv":
        recv(*sys.argv[2:4])
    else:
        a = sys.argv[2:]
        sys.exit(run(a[0], a[1], int(a[2]), a[3], a[4], a[5], a[6], int(a[7]), float(a[8]),
                     a[9], a[10]))
