#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
# Traffic helper of the demo and the agent tests (standard library only):
#   probe.py serve tcp|udp PORT...      echo servers on every address (until killed)
#   probe.py tcp HOST PORT [TIMEOUT]    exit 0 if a connection is accepted and echoes, 1 if not
#   probe.py udp HOST PORT [TIMEOUT]    exit 0 if a datagram is echoed back, 1 if not
#   probe.py flood HOST PORT SECONDS    send UDP datagrams as fast as possible (new source
#                                       port each time: every one is a new flow)
#   probe.py burst HOST PORT N          send N UDP datagrams from one socket (one flow)
#   probe.py hold HOST PORT SECONDS     keep a TCP connection echoing every 50 ms; exit 0 if it
#                                       lived SECONDS, 3 once an echo is 1 s late ("cut")
import socket
import sys
import threading
import time


def family(host):
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def serve_tcp(port):
    s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    s.bind(("::", port))
    s.listen(128)

    def echo(c):
        try:
            while True:
                d = c.recv(4096)
                if not d:
                    break
                c.sendall(d)
        except OSError:
            pass
        c.close()

    while True:
        c, _ = s.accept()
        threading.Thread(target=echo, args=(c,), daemon=True).start()


def serve_udp(port):
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    s.bind(("::", port))
    while True:
        d, a = s.recvfrom(4096)
        s.sendto(d, a)


def probe_tcp(host, port, timeout):
    try:
        with socket.create_connection((host, port), timeout=timeout) as c:
            c.settimeout(timeout)
            c.sendall(b"ping")
            return 0 if c.recv(16) == b"ping" else 1
    except OSError:
        return 1


def probe_udp(host, port, timeout):
    s = socket.socket(family(host), socket.SOCK_DGRAM)
    s.settimeout(timeout)
    try:
        s.sendto(b"ping", (host, port))
        d, _ = s.recvfrom(16)
        return 0 if d == b"ping" else 1
    except OSError:
        return 1
    finally:
        s.close()


def hold(host, port, seconds):
    try:
        c = socket.create_connection((host, port), timeout=2)
    except OSError:
        return 1
    c.settimeout(1.0)
    end = time.time() + seconds
    n = 0
    while time.time() < end:
        msg = b"%08d" % n
        try:
            c.sendall(msg)
            if c.recv(16) != msg:
                return 3
        except OSError:
            return 3
        n += 1
        time.sleep(0.05)
    return 0


def flood(host, port, seconds):
    end = time.time() + seconds
    n = 0
    while time.time() < end:
        s = socket.socket(family(host), socket.SOCK_DGRAM)
        try:
            s.sendto(b"x", (host, port))
        except OSError:
            pass
        s.close()
        n += 1
    print("sent", n, flush=True)
    return 0


def burst(host, port, n):
    s = socket.socket(family(host), socket.SOCK_DGRAM)
    for _ in range(n):
        s.sendto(b"x", (host, port))
        time.sleep(0.002)
    s.close()
    return 0


def main(argv):
    if len(argv) >= 3 and argv[0] == "serve":
        kind, ports = argv[1], [int(p) for p in argv[2:]]
        fn = serve_tcp if kind == "tcp" else serve_udp
        ts = [threading.Thread(target=fn, args=(p,), daemon=True) for p in ports]
        for t in ts:
            t.start()
        print("serving", kind, *ports, flush=True)
        for t in ts:
            t.join()
        return 0
    if argv and argv[0] in ("tcp", "udp") and len(argv) >= 3:
        timeout = float(argv[3]) if len(argv) > 3 else 1.0
        fn = probe_tcp if argv[0] == "tcp" else probe_udp
        return fn(argv[1], int(argv[2]), timeout)
    if argv and argv[0] == "burst" and len(argv) == 4:
        return burst(argv[1], int(argv[2]), int(argv[3]))
    if argv and argv[0] == "flood" and len(argv) == 4:
        return flood(argv[1], int(argv[2]), float(argv[3]))
    if argv and argv[0] == "hold" and len(argv) == 4:
        return hold(argv[1], int(argv[2]), float(argv[3]))
    print(__doc__ or "usage: see the header of probe.py", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
