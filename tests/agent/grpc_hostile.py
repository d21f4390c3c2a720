#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
# Hostile Apply requests against a running iofenced (unix socket), from Python grpcio.
#   grpc_hostile.py PYDIR SOCK LOG check   : each hostile shape refused with INVALID_ARGUMENT
#       and a file:line, an apply whose deadline passed in the queue or whose client cancelled
#       is not started (the agent's log says so), then the valid policy (argv[5]) is applied.
#   grpc_hostile.py PYDIR SOCK LOG budget : against an agent with the default read budget: a
#       request whose bytes drip in is answered within the budget, not at the sender's pace
#       (order: the answer comes before the sender is done), and a large valid document applies.
#   grpc_hostile.py PYDIR SOCK LOG burst N SIZE : N clients send the densest text of SIZE bytes
#       (a list item every two bytes, read whole) at once; prints how each was answered.
#   grpc_hostile.py PYDIR SOCK LOG bench SECONDS THREADS SIZE POLICY_A POLICY_B : THREADS
#       clients send hostile requests of SIZE bytes for SECONDS while valid applies alternate
#       between the two policies every 0.25 s; prints the answer times (no assertion): first
#       the floor (valid applies and GetStatus with nothing hostile), then the flood, then the
#       time a valid policy of about SIZE bytes takes alone.
import os
import re
import socket
import sys
import threading
import time

PYDIR, SOCK, LOG, MODE = sys.argv[1:5]
sys.path.insert(0, PYDIR)
import grpc  # noqa: E402
from iofence.v1 import agent_pb2 as pb  # noqa: E402
from iofence.v1 import agent_pb2_grpc as pbg  # noqa: E402
from big_document import big_document  # noqa: E402

failures = []
MAX_REQUEST = 24 << 20  # the agent's message limit (RPC_MAX_REQUEST, agent/rpc/rpc.h)


def check(cond, what):
    print(("ok: " if cond else "FAIL: ") + what, flush=True)
    if not cond:
        failures.append(what)


def shapes(size):
    """Hostile sources of about size bytes: name -> text."""
    n = size // 2
    keys = "".join(", k%d: 1" % i for i in range(size // 10))
    anchors = ", ".join("&a%d 1" % i for i in range(size // 9))
    tags = "".join("%%TAG !t%d! tag:x,2000:\n" % i for i in range(size // 24))
    return {
        "YAML flow lists nested": "securityGroups: " + "[" * n + "]" * n,
        "JSON objects nested": '{"securityGroups": ' + '{"a":' * (size // 5) + "1" +
                               "}" * (size // 5) + "}",
        "JSON arrays nested": "[" * n + "]" * n,
        "flow collections never closed": "x: " + "[{a: " * (size // 5),
        "block lists nested": "securityGroups:\n" + "- " * n + "x\n",
        "many unknown keys": "securityGroups:\n  - name: g\n    rules:\n      - {direction: "
                             "ingress" + keys + "}\n",
        "many anchors": "securityGroups: [" + anchors + "]\n",
        "many aliases": "securityGroups: [&a 1" + ", *a" * (size // 4) + "]\n",
        "many %TAG directives": tags + "---\nsecurityGroups: []\n",
        "many errors (bad ports)": "securityGroups:\n  - name: g\n    rules:\n      - "
                                   "direction: ingress\n        protocol: tcp\n        "
                                   "ports: [" + "0, " * (size // 3) + "1]\n",
        "bytes that are not text": "securityGroups: \x01\x02" * (size // 18),
    }


def stub_for():
    ch = grpc.insecure_channel("unix:" + SOCK, options=[
        ("grpc.max_receive_message_length", 256 << 20),
        ("grpc.max_send_message_length", 256 << 20)])
    return ch, pbg.AgentStub(ch)


last_trailer = {}


def apply(stub, text, name, timeout=30):
    """(status code name, details, seconds); the errors trailer in last_trailer (this thread)"""
    t0 = time.monotonic()
    try:
        r = stub.Apply(pb.ApplyRequest(source=text, source_name=name), timeout=timeout)
        return "OK", "revision %d" % r.revision, time.monotonic() - t0
    except grpc.RpcError as e:
        md = dict(e.trailing_metadata() or ())
        last_trailer[threading.get_ident()] = pb.ValidationErrors.FromString(
            md.get("iofence-errors-bin", b""))
        return e.code().name, e.details() or "", time.monotonic() - t0


def big_policy(rev, n):
    rules = "\n".join(
        "      - {direction: ingress, protocol: tcp, ports: [%d], cidr: 10.%d.%d.0/24}"
        % (1 + i % 60000, (i >> 16) & 255, (i >> 8) & 255) for i in range(n))
    return ("revision: %d\nsecurityGroups:\n  - name: big\n    rules:\n%s\nendpoints:\n"
            "  - {name: big, node: n1, interface: none0, addresses: [10.99.0.1], "
            "groups: [big]}\n" % (rev, rules))



def varint(v):
    out = bytearray()
    while True:
        out.append((v & 0x7f) | (0x80 if v > 0x7f else 0))
        v >>= 7
        if not v:
            return bytes(out)


def field(number, payload):
    """A length-delimited protobuf field."""
    return varint(number << 3 | 2) + varint(len(payload)) + payload


def empty_rules_request(n):
    """ApplyRequest{document: {security_groups: [{rules: n empty Rule messages}]}}, as bytes:
    2 bytes a rule on the wire, ~100 once decoded."""
    group = field(2, b"") * n
    return field(1, field(4, group))


def log_has(text):
    with open(LOG) as f:
        return text in f.read()


def wait_for(pred, seconds=30):
    t_end = time.monotonic() + seconds
    while not pred() and time.monotonic() < t_end:
        time.sleep(0.01)


def wait_log(text, seconds=30):
    wait_for(lambda: log_has(text), seconds)


def run_order_of_completion(stub, valid, n=4):
    """Slow hostile reads in flight, then a valid apply: it is not held behind them.
    Order of completion, not time: each hostile text costs the whole read budget (the
    densest a list gets, 16 MB: ~1 s of CPU to read whole), the valid one a few milliseconds.
    Run with no wall-clock read budget (test_hostile.sh), so the CPU budget ends them."""
    slow = ("securityGroups:\n  - name: g\n    rules:\n      - direction: ingress\n"
            "        protocol: tcp\n        ports: [" + "0," * (8 << 20) + "1]\n")
    order = []
    lock = threading.Lock()

    def note(what):
        def done(_):
            with lock:
                order.append(what)
        return done

    futs = []
    for k in range(n):
        f = stub.Apply.future(pb.ApplyRequest(source=slow, source_name="slow-%d.yaml" % k),
                              timeout=60)
        f.add_done_callback(note("slow-%d" % k))
        futs.append(f)
    # each read has started, unless it was refused before (a node short of CPU)
    for k in range(n):
        wait_for(lambda: log_has("apply: reading slow-%d.yaml" % k) or futs[k].done())
    in_flight = ["slow-%d" % k for k in range(n) if not futs[k].done()]
    # (another port than the enforced document's: applied, not unchanged)
    code, details, secs = apply(stub, open(valid).read().replace("8080", "8081"),
                                "valid.yaml")
    with lock:
        order.append("valid")
    answers = []
    for f in futs:
        try:
            f.result()
            answers.append(("OK", ""))
        except grpc.RpcError as e:
            answers.append((e.code().name, e.details() or ""))
    codes = ", ".join(c for c, _ in answers)
    check(code == "OK", "valid apply behind %d slow hostile reads: %s %s" % (n, code, details))
    # Taken in arrival order it would come after every one of them. A read that started
    # first may use up its budget while the valid request is still on its way (a loaded
    # node), so the check is the last of them, not each.
    check(in_flight and order.index("valid") < max(order.index(k) for k in in_flight),
          "answered before the last of the %d reads in flight that came before it: %s "
          "(hostile: %s)" % (len(in_flight), ", ".join(order), codes))
    # each stopped by the read budget, saying which and how far it got (or, on a machine fast
    # enough to read them whole, refused for their errors)
    stopped = "of a %d-byte text" % len(slow)
    check(all((c == "RESOURCE_EXHAUSTED" and "read budget of" in d and stopped in d) or
              c == "INVALID_ARGUMENT" for c, d in answers),
          "the slow hostile reads stopped by the read budget: %s: %s" % (codes,
                                                                          answers[0][1][:300]))
    # past the message limit: refused by gRPC as it arrives, naming the limit
    code, details, _ = apply(stub, "#" * (MAX_REQUEST + 1), "huge.yaml")
    check(code == "RESOURCE_EXHAUSTED" and str(MAX_REQUEST) in details,
          "a request past the message limit: %s: %s" % (code, details))


class DripProxy:
    """A unix socket in front of the agent's that passes the client's bytes on at RATE bytes
    a second (the agent's answers at once): a sender that drips its request. It notes how
    many of them were passed on when the agent ended a stream (an HTTP/2 HEADERS frame with
    END_STREAM, or RST_STREAM): a gRPC client reports the status only once it has sent its
    whole message, so the client's own clock would show the sender's pace."""

    def __init__(self, path, target, rate):
        self.path, self.target, self.rate = path, target, rate
        self.forwarded = 0  # client bytes passed on so far
        self.answered_at = None  # self.forwarded when the agent first ended a stream
        self.lsock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.lsock.bind(path)
        self.lsock.listen(4)
        self.closing = False
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):
        while not self.closing:
            try:
                client, _ = self.lsock.accept()
            except OSError:
                return
            agent = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            agent.connect(self.target)
            threading.Thread(target=self.pipe, args=(client, agent, True), daemon=True).start()
            threading.Thread(target=self.pipe, args=(agent, client, False),
                             daemon=True).start()

    def note_frames(self, buf):
        """Reads the agent's HTTP/2 frames in buf (after the 9-byte frame headers); returns
        what is left of buf (a frame not yet whole)."""
        while len(buf) >= 9:
            length = int.from_bytes(buf[:3], "big")
            kind, flags, stream = buf[3], buf[4], int.from_bytes(buf[5:9], "big") & 0x7fffffff
            if len(buf) < 9 + length:
                break
            if stream and ((kind == 1 and flags & 1) or kind == 3) and self.answered_at is None:
                self.answered_at = self.forwarded
            buf = buf[9 + length:]
        return buf

    def pipe(self, src, dst, drip):
        chunk = 4096
        frames = b""
        try:
            while True:
                data = src.recv(chunk)
                if not data:
                    break
                if not drip:
                    frames = self.note_frames(frames + data)
                dst.sendall(data)
                if drip:
                    self.forwarded += len(data)
                    if self.answered_at is None:  # (then the rest at once: a short test)
                        time.sleep(len(data) / self.rate)
        except OSError:
            pass
        for s_ in (src, dst):
            try:
                s_.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def close(self):
        self.closing = True
        self.lsock.close()
        os.unlink(self.path)


def run_budget():
    """The read budget's wall clock starts when the call does: a request whose message drips
    in at 256 KB/s (a 2 MB text: 8 s at that pace) is answered RESOURCE_EXHAUSTED, naming the
    budget, before its sender is done. Order, not time: the proxy had not passed the whole
    request on when the answer came."""
    proxy = DripProxy(SOCK + ".drip", SOCK, 256 << 10)
    ch = grpc.insecure_channel("unix:" + proxy.path)
    stub = pbg.AgentStub(ch)
    text = "securityGroups: []\n#" + "x" * (2 << 20)
    code, details, secs = apply(stub, text, "drip.yaml", timeout=60)
    sent = proxy.answered_at
    check(code == "RESOURCE_EXHAUSTED" and "had not arrived whole" in details,
          "a request dripping in at 256 KB/s: %s: %s" % (code, details))
    check(sent is not None and sent < len(text),
          "answered before its sender was done: %s of %d bytes passed on when the agent "
          "ended the stream (the client saw it after %.1f s, once it had sent them all)" % (
              sent, len(text), secs))
    ch.close()
    proxy.close()
    # the same agent, a large valid document sent at full speed: applied
    ch, stub = stub_for()
    base = stub.GetStatus(pb.GetStatusRequest(), timeout=5).revision
    doc = big_document(base + 1, 30000, "big", "none0")
    try:
        r = stub.Apply(pb.ApplyRequest(document=doc, source_name="big.yaml"), timeout=60)
        check(r.revision == base + 1, "a valid 30k-rule document (%d bytes) applied: revision %d"
              % (doc.ByteSize(), r.revision))
    except grpc.RpcError as e:
        check(False, "a valid 30k-rule document: %s %s" % (e.code().name, e.details()))
    ch.close()


def run_check(valid):
    ch, stub = stub_for()
    for name, text in shapes(200000).items():
        code, details, secs = apply(stub, text, "h.yaml")
        first = details.splitlines()[0] if details else ""
        check(code == "INVALID_ARGUMENT" and re.match(r"^h\.yaml:\d+: \S+: ", first),
              "%s (%d bytes): %s in %.0f ms: %s" % (name, len(text), code, secs * 1e3,
                                                   first[:100]))
        ve = last_trailer.get(threading.get_ident())
        check(ve is not None and len(ve.errors) >= 1 and ve.errors[0].line > 0,
              "%s: the errors trailer lists %d error(s) with lines, %d more" % (
                  name, len(ve.errors) if ve else 0, ve.more if ve else 0))
    # A message that decodes to ~50 times its size: refused before it is decoded whole.
    raw_ch, _ = stub_for()
    raw = raw_ch.unary_unary("/iofence.v1.Agent/Apply", request_serializer=None,
                             response_deserializer=pb.ApplyResponse.FromString)
    try:
        raw(empty_rules_request(100000), timeout=30)
        check(False, "100k empty rules in a message: accepted")
    except grpc.RpcError as e:
        check(e.code() == grpc.StatusCode.INVALID_ARGUMENT and
              "request message refused" in (e.details() or ""),
              "100k empty rules in a message: %s: %s" % (e.code().name, e.details()))
    # 10 MB of empty port ranges: >1 s of CPU to decode (within the memory bound); the read
    # budget stops the decode.
    ranges = field(1, field(4, field(2, b"\x08\x01" + b"\x32\x00" * (5 << 20))))
    try:
        raw(ranges, timeout=30)
        check(False, "10 MB of empty port ranges in a message: accepted")
    except grpc.RpcError as e:
        check(e.code() == grpc.StatusCode.RESOURCE_EXHAUSTED and
              "not decoded within the time allowed" in (e.details() or ""),
              "10 MB of empty port ranges in a message: %s: %s" % (e.code().name,
                                                                   e.details()))
    raw_ch.close()
    # Errors that echo what they refuse: the details and the trailer stay under gRPC's
    # metadata limit (the client would refuse the whole answer otherwise).
    # (the parser stops after 100 errors, which is still more than the answer holds)
    code, details, _ = apply(stub, "securityGroups:\n  - name: g\n    rules:\n" + "".join(
        "      - {direction: ingress, \u00e9%05d: 1}\n" % i for i in range(2000)), "h.yaml")
    ve = last_trailer.get(threading.get_ident())
    check(code == "INVALID_ARGUMENT" and ve.more > 0 and "more errors" in details,
          "2,000 rules with a non-ASCII key: %s, %d errors in the trailer and %d more" % (
              code, len(ve.errors), ve.more))
    apply(stub, open(valid).read(), "valid.yaml")  # the datapath's first write is slower
    run_order_of_completion(stub, valid)
    # Something that holds the worker, then one cancelled and one whose deadline passes while
    # they wait for it.
    base = stub.GetStatus(pb.GetStatusRequest(), timeout=5).revision
    # (read in ~40 ms, then the worker packs, compiles and writes 100k rules: ~0.3 s on a quiet
    # machine, longer on a busy one; an apply read meanwhile waits for the worker. The
    # cancelled one goes first: it takes a few ms, the late one its whole 100 ms deadline.)
    held = stub.Apply.future(pb.ApplyRequest(document=big_document(base + 1, 100000, "big",
                                                                   "none0"),
                                             source_name="held.yaml"), timeout=60)
    wait_log("apply: read held.yaml")
    # (cancelled once read, while the worker still holds the large one)
    cancelled = stub.Apply.future(pb.ApplyRequest(source=big_policy(base + 3, 10),
                                                  source_name="cancelled.yaml"), timeout=60)
    wait_log("apply: read cancelled.yaml")
    cancelled.cancel()
    code, _, _ = apply(stub, big_policy(base + 2, 10), "late.yaml", timeout=0.1)
    check(code == "DEADLINE_EXCEEDED", "apply with a 100 ms deadline behind a large one: %s" %
          code)
    try:
        held.result()
    except grpc.RpcError as e:
        check(False, "the large apply: %s %s" % (e.code().name, e.details()))
    time.sleep(0.3)
    st = stub.GetStatus(pb.GetStatusRequest(), timeout=5)
    check(st.revision == base + 1, "neither the late nor the cancelled apply was applied "
          "(revision %d)" % st.revision)
    check(log_has("apply not started: deadline passed"), "agent log: not started: deadline")
    check(log_has("apply not started: the client cancelled"), "agent log: not started: cancel")
    code, details, secs = apply(stub, open(valid).read(), "valid.yaml")
    check(code == "OK", "the valid policy after them: %s %s in %.0f ms" % (code, details,
                                                                         secs * 1e3))
    ch.close()


def percentile(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p * len(xs)))] if xs else float("nan")


def run_floor(policy_a, policy_b, n=20):
    """The floor at this load: valid applies and GetStatus calls with nothing hostile."""
    ch, stub = stub_for()
    docs = [open(policy_a).read(), open(policy_b).read()]
    applies, reads = [], []
    for k in range(n):
        code, _, secs = apply(stub, docs[k % 2], "valid.yaml")
        if code == "OK":
            applies.append(secs)
        t0 = time.monotonic()
        stub.GetStatus(pb.GetStatusRequest(), timeout=5)
        reads.append(time.monotonic() - t0)
        time.sleep(0.05)
    ch.close()
    print("| floor: valid applies alone | %d | %d OK | %.1f | %.1f | %.1f |" % (
        n, len(applies), percentile(applies, .5) * 1e3, percentile(applies, .99) * 1e3,
        max(applies) * 1e3 if applies else float("nan")))
    print("| floor: GetStatus alone | %d | | %.1f | %.1f | %.1f |" % (
        n, percentile(reads, .5) * 1e3, percentile(reads, .99) * 1e3, max(reads) * 1e3))


def run_bench(seconds, threads, size, policy_a, policy_b):
    texts = list(shapes(size).items())
    print("| requests | count | answered as | p50 ms | p99 ms | max ms |")
    print("|---|---:|---|---:|---:|---:|")
    if threads:  # (0: the hostile requests come from another client, already running)
        run_floor(policy_a, policy_b)
    stop = time.monotonic() + seconds
    hostile = []
    lock = threading.Lock()

    def flood(k):
        ch, stub = stub_for()
        i = k
        while time.monotonic() < stop:
            name, text = texts[i % len(texts)]
            code, _, secs = apply(stub, text, "h.yaml")
            with lock:
                hostile.append((name, code, secs))
            i += 1
        ch.close()

    workers = [threading.Thread(target=flood, args=(k,)) for k in range(threads)]
    for w in workers:
        w.start()
    ch, stub = stub_for()
    docs = [open(policy_a).read(), open(policy_b).read()]
    valid = []
    n = 0
    while time.monotonic() < stop:
        code, details, secs = apply(stub, docs[n % 2], "valid.yaml")
        valid.append((code, secs))
        n += 1
        time.sleep(0.25)
    for w in workers:
        w.join()
    ch.close()
    hs = [s for _, _, s in hostile]
    vs = [s for c, s in valid if c == "OK"]
    codes = sorted(set(c for _, c, _ in hostile))
    if hs:
        print("| hostile, %d B, %d clients | %d | %s | %.1f | %.1f | %.1f |" % (
            size, threads, len(hs), ",".join(codes), percentile(hs, .5) * 1e3,
            percentile(hs, .99) * 1e3, max(hs) * 1e3))
    print("| valid applies among them | %d | %d OK | %.1f | %.1f | %.1f |" % (
        len(valid), len(vs), percentile(vs, .5) * 1e3, percentile(vs, .99) * 1e3,
        max(vs) * 1e3 if vs else float("nan")))
    for name, _ in texts:
        xs = [s for n_, _, s in hostile if n_ == name]
        if xs:
            print("|   %s | %d | | %.1f | %.1f | %.1f |" % (
                name, len(xs), percentile(xs, .5) * 1e3, percentile(xs, .99) * 1e3,
                max(xs) * 1e3))
    check(len(vs) == len(valid), "every valid apply acknowledged")
    # A valid document as large as the hostile ones, alone (after the flood).
    rules = min(100000, max(10, size // 75))  # (the maps hold 131,072 local rules)
    ch, stub = stub_for()
    base = stub.GetStatus(pb.GetStatusRequest(), timeout=5).revision
    text = big_policy(base + 1, rules)
    t0 = time.monotonic()
    try:
        r = stub.Apply(pb.ApplyRequest(source=text, source_name="big.yaml"), timeout=60)
        print("valid policy of %d rules (%d B) alone: acknowledged in %.1f ms (agent: %.1f ms, "
              "compile %.1f ms)" % (rules, len(text), (time.monotonic() - t0) * 1e3,
                                    r.apply_usec / 1e3, r.compile_usec / 1e3))
    except grpc.RpcError as e:  # (the wall-clock read budget on a loaded machine)
        print("valid policy of %d rules (%d B) alone: %s in %.1f ms: %s" % (
            rules, len(text), e.code().name, (time.monotonic() - t0) * 1e3, e.details()))
    ch.close()


def run_burst(n, size):
    text = ("securityGroups:\n  - name: g\n    rules:\n      - direction: ingress\n"
            "        protocol: tcp\n        ports: [" + "0," * (size // 2 - 60) + "1]\n")
    chans = [stub_for() for _ in range(n)]
    t0 = time.monotonic()
    futs = [stub.Apply.future(pb.ApplyRequest(source=text, source_name="burst-%d.yaml" % k),
                              timeout=60) for k, (_, stub) in enumerate(chans)]
    answers = []
    for f in futs:
        try:
            f.result()
            answers.append(("OK", "", time.monotonic() - t0))
        except grpc.RpcError as e:
            answers.append((e.code().name, (e.details() or "")[:90], time.monotonic() - t0))
    for code, details, secs in answers:
        print("%s after %.0f ms: %s" % (code, secs * 1e3, details))
    for ch, _ in chans:
        ch.close()


if MODE == "check":
    run_check(sys.argv[5])
elif MODE == "budget":
    run_budget()
elif MODE == "burst":
    run_burst(int(sys.argv[5]), int(sys.argv[6]))
else:
    run_bench(float(sys.argv[5]), int(sys.argv[6]), int(sys.argv[7]), sys.argv[8], sys.argv[9])
print("PASS" if not failures else "FAILED: %d" % len(failures))
sys.exit(1 if failures else 0)
