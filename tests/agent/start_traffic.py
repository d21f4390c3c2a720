#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
# Traffic of test_start_enforced.sh (standard library only):
#   start_traffic.py send HOST PORT PPS SECONDS  UDP datagrams from one socket (one flow)
#   start_traffic.py recv PORT OUT               counts datagrams, answers each one (the
#                                                workload replies), writes their arrival
#                                                times (kernel receive timestamps, realtime:
#                                                a busy receiver reads late) to OUT on SIGTERM
import signal
import socket
import struct
import sys
import time

SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)


def send(host, port, pps, seconds):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setblocking(False)
    gap = 1.0 / pps
    end = time.monotonic() + seconds
    nxt = time.monotonic()
    while time.monotonic() < end:
        try:
            s.sendto(b"x" * 32, (host, port))
        except OSError:
            pass  # no route or neighbour while the link is down
        try:
            while True:
                s.recv(64)  # drain the replies
        except OSError:
            pass
        nxt += gap
        d = nxt - time.monotonic()
        if d > 0:
            time.sleep(d)


def recv(port, out):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
    s.bind(("0.0.0.0", port))
    times = []

    def stop(*_):
        with open(out, "w") as f:
            f.write("\n".join("%.6f" % t for t in times) + "\n")
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    while True:
        d, anc, _, a = s.recvmsg(64, 64)
        t = time.time()
        for level, kind, data in anc:
            if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(data) >= 16:
                sec, nsec = struct.unpack("qq", data[:16])
                t = sec + nsec / 1e9
        times.append(t)
        try:
            s.sendto(d, a)
        except OSError:
            pass


if __name__ == "__main__":
    if sys.argv[1] == "send":
        send(sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5]))
    else:
        recv(int(sys.argv[2]), sys.argv[3])
