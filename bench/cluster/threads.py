#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""bench/cluster/threads.py MODES START CSV KIND: one agent's CPU and thread switches per
thread and per mode of a bench/cluster run (run.sh --threads 1).

MODES: lines "MODE START END CHANGES" (unix times; CHANGES 0 for the idle time) written by
run.sh; START: the unix time perf stat started; CSV: its `-I 1000 -x, --per-thread -e
task-clock,context-switches` output. Each 1 s interval is counted in the mode it ends in.
Prints, per mode, the busiest threads (name-TID, as the kernel names them) and the whole
process: CPU ms and switches per change (idle: per second), as measured and less the thread's
idle rate over the mode's time.
"""
import collections
import sys


def main():
    modes_file, start_file, csv_file, kind = sys.argv[1:5]
    modes = []
    for line in open(modes_file):
        m, t0, t1, n = line.split()
        modes.append((m, float(t0), float(t1), int(float(n))))
    start = float(open(start_file).read())
    # mode -> thread -> [cpu ms, switches]
    use = collections.defaultdict(lambda: collections.defaultdict(lambda: [0.0, 0.0]))
    for line in open(csv_file):
        f = line.strip().split(',')
        if len(f) < 5 or f[0].startswith('#'):
            continue
        try:
            t = start + float(f[0])
        except ValueError:
            continue
        value = 0.0 if 'not' in f[2] else float(f[2])
        for m, t0, t1, _ in modes:
            if t0 < t <= t1 + 0.5:
                use[m][f[1]][0 if f[4] == 'task-clock' else 1] += value
                break
    idle = next(((t1 - t0, use['idle']) for m, t0, t1, _ in modes if m == 'idle'), None)
    for m, t0, t1, n in modes:
        wall = t1 - t0
        per = n if n > 0 else wall
        unit = 'per_change' if n > 0 else 'per_s'
        rows = dict(use[m])
        rows['ALL'] = [sum(v[0] for v in rows.values()), sum(v[1] for v in rows.values())]
        total = rows['ALL'][0] or 1
        for th, (ms, sw) in sorted(rows.items(), key=lambda kv: -kv[1][0]):
            if th != 'ALL' and ms < 0.02 * total:
                continue
            line = (f'RESULT threads agent={kind} mode={m} thread={th} cpu_ms_{unit}={ms / per:.3f}'
                    f' switches_{unit}={sw / per:.2f}')
            if n > 0 and idle:
                iw, iu = idle
                if th == 'ALL':
                    ims, isw = sum(v[0] for v in iu.values()), sum(v[1] for v in iu.values())
                else:
                    ims, isw = iu.get(th, [0.0, 0.0])
                line += (f' less_idle_cpu_ms={(ms - ims / iw * wall) / n:.3f}'
                         f' less_idle_switches={(sw - isw / iw * wall) / n:.2f}')
            print(line)


if __name__ == '__main__':
    main()
