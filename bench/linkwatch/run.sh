#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# bench/linkwatch: how soon an endpoint's interface is enforced, beside what the scheduler
# and the kernel allow, with HOGS busy loops (nice 0) sharing the CPUs:
#  - the wake-up floor: bench_wakeprobe at SCHED_OTHER and SCHED_FIFO, quiet and loaded;
#  - the attach floor: bench_attachprobe, a SCHED_FIFO (then SCHED_OTHER) thread attaching a
#    trivial program to veths that appear up, tcx links against legacy tc (clsact + cls_bpf);
#    last with the creator of the veths at SCHED_FIFO too, so that its own wait for a CPU
#    before the link comes up is not counted;
#  - exec to main(): `iofenced-agent --version` (the agent's dynamic linking) and `iofenced
#    --version` (the small start program, then the agent) against /bin/true;
#  - tests/agent/test_start_enforced.sh with the link watcher at SCHED_FIFO 1 and at normal
#    priority: STARTS interfaces that appear up (last denied datagram after the link came
#    up); with the watcher at SCHED_FIFO, RESTARTS agent starts with the interface up for each
#    way of starting (start program raising itself to SCHED_FIFO 1, staying at normal
#    priority, exec'd at SCHED_FIFO 1 by its parent), taken in turn (last denied datagram
#    after the exec).
#   bench/linkwatch/run.sh BUILD_DIR [STARTS=100] [HOGS=4] [RESTARTS=20]
# APPLY_RULES (default 0): applies of that many rules back to back during the starts.
# ATTACHES (default 300): interfaces per way of attaching in bench_attachprobe.
set -u
BUILD=$(cd "${1:?usage: run.sh BUILD_DIR [STARTS] [HOGS] [RESTARTS]}" && pwd)
STARTS=${2:-100}
HOGS=${3:-4}
RESTARTS=${4:-20}
SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
IOFENCED=$BUILD/agent/iofenced/iofenced
CTL=$BUILD/agent/ctl/iofencectl
PROBE=$BUILD/bench/linkwatch/bench_wakeprobe
ATTACH=$BUILD/bench/linkwatch/bench_attachprobe
ATTACHES=${ATTACHES:-300}
HOG=()
[ "$(id -u)" = 0 ] || { echo "run.sh: needs root"; exit 2; }

hogs_start() {
	for _ in $(seq "$HOGS"); do
		nice -n 0 sh -c 'while :; do :; done' &
		HOG+=($!)
	done
}
hogs_stop() {
	[ ${#HOG[@]} = 0 ] && return
	kill "${HOG[@]}" 2>/dev/null
	wait "${HOG[@]}" 2>/dev/null
	HOG=()
}
trap hogs_stop EXIT

exec_times() { # exec_times CMD...: p50/p99 of 40 runs (fork, exec, exit)
	/usr/bin/python3 - "$@" <<'PY'
import subprocess, sys, time
v = []
for _ in range(40):
    t = time.monotonic()
    subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL)
    v.append((time.monotonic() - t) * 1000)
v.sort()
print("p50 %.1f ms, p99 %.1f ms, max %.1f ms" % (v[20], v[int(0.99 * 40)], v[-1]))
PY
}

floors() { # floors LABEL: wake-up and attach floors, exec times
	echo "$1 $("$PROBE" --samples 1000)"
	echo "$1 $("$PROBE" --samples 1000 --fifo 1)"
	"$ATTACH" --samples "$ATTACHES" --fifo 1 | sed "s/^/$1 /"
	"$ATTACH" --samples "$ATTACHES" | sed "s/^/$1 /"
	"$ATTACH" --samples "$ATTACHES" --fifo 1 --creator-fifo 1 | sed "s/^/$1 /"
	echo "$1 exec to exit: /bin/true $(exec_times /bin/true); iofenced-agent --version $(exec_times "$IOFENCED-agent" --version); iofenced --version $(exec_times "$IOFENCED" --version)"
}
starts() { # starts PRIO RESTARTS: link appear and agent starts, watcher at PRIO
	echo "link watcher --attach-rt-priority $1 (load average $(cut -d' ' -f1-3 /proc/loadavg)):"
	AGENT_ARGS="--attach-rt-priority $1" APPLY_RULES=${APPLY_RULES:-0} \
		RESTART_VARIANTS="fifo normal fifo-exec" \
		bash "$SRC/tests/agent/test_start_enforced.sh" "$IOFENCED" "$CTL" "$SRC" "$BUILD" 3 \
		"$STARTS" "$2" 2>&1 | grep -E '^\[start\] (agent|without)|FAIL'
}

echo "$(uname -r), $(nproc) CPUs, $(date -u +%FT%TZ), load average $(cut -d' ' -f1-3 /proc/loadavg)"
floors "quiet: "
hogs_start
sleep 1
if [ "$HOGS" -gt 0 ]; then
	echo "$HOGS busy loops at nice 0 (load average $(cut -d' ' -f1-3 /proc/loadavg)):"
	floors "loaded:"
fi
starts 1 $((3 * RESTARTS))
starts 0 0
hogs_stop
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
