#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
# Traffic of test_start_enforced.sh (standard library only):
#   start_traffic.py send HOST PORT PPS SECONDS [OUT]  UDP datagrams from one socket (one
#                                                flow); the number sent to OUT on SIGTERM
#   start_traffic.py recv PORT OUT               counts datagrams, answers each one (the
#                                                workload replies), writes their arrival
#                                                times (kernel receive timestamps, realtime:
#                                                a busy receiver reads late) to OUT on SIGTERM
#   start_traffic.py linkup IF NEWNAME MASTER    renames IF, enslaves it to MASTER and sets
#                                                it up with one RTM_NEWLINK (run it in the
#                                                node's namespace with nsenter);
#                                                prints the time (realtime) just before it
#                                                was sent: the link cannot have carried a
#                                                packet earlier (a `date` after `ip` can run
#                                                long after the link came up on a busy box)
import os
import signal
import socket
import struct
import sys
import time

SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)


def send(host, port, pps, seconds, out=None):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setblocking(False)
    sent = 0

    def stop(*_):
        if out:
            with open(out, "w") as f:
                f.write("%d\n" % sent)
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    gap = 1.0 / pps
    end = time.monotonic() + seconds
    nxt = time.monotonic()
    while time.monotonic() < end:
        try:
            s.sendto(b"x" * 32, (host, port))
            sent += 1
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
    stop()


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


def linkup(ifname, newname, master):
    index, master_index = socket.if_nametoindex(ifname), socket.if_nametoindex(master)

    def attr(kind, data):
        a = struct.pack("HH", 4 + len(data), kind) + data
        return a + b"\0" * (-len(a) % 4)

    IFLA_IFNAME, IFLA_MASTER, RTM_NEWLINK, IFF_UP = 3, 10, 16, 1
    body = struct.pack("BxHiII", socket.AF_UNSPEC, 0, index, IFF_UP, IFF_UP)
    body += attr(IFLA_IFNAME, newname.encode() + b"\0") + attr(IFLA_MASTER, struct.pack("I", master_index))
    msg = struct.pack("IHHII", 16 + len(body), RTM_NEWLINK, 1 | 4, 1, 0) + body  # REQUEST|ACK
    s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0)
    t = time.time()
    s.send(msg)
    err = struct.unpack("i", s.recv(4096)[16:20])[0]
    if err:
        sys.exit("linkup %s: %s" % (ifname, os.strerror(-err)))
    print("%.6f" % t)


if __name__ == "__main__":
    if sys.argv[1] == "linkup":
        linkup(*sys.argv[2:5])
    elif sys.argv[1] == "send":
        send(sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5]),
             sys.argv[6] if len(sys.argv) > 6 else None)
    else:
        recv(int(sys.argv[2]), sys.argv[3])
