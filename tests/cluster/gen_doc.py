#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
# A policy of GROUPS security groups with RULES rules each (ports from PORT up), two endpoints
# per node of NODES: the large documents of the cluster tests and bench/cluster. Each endpoint
# is in two groups, or with "all" in every group (each node's image then holds every rule).
#   gen_doc.py GROUPS RULES PORT [NODES [all]]
import sys

groups, rules, port = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
nodes = int(sys.argv[4]) if len(sys.argv) > 4 else 2
every_group = len(sys.argv) > 5 and sys.argv[5] == "all"
out = ["defaults: {ingress: deny, egress: allow}", "securityGroups:"]
for g in range(groups):
    out.append(f"  - name: g{g}")
    out.append("    rules:")
    for r in range(rules):
        n = g * rules + r
        out.append(f"      - {{direction: ingress, protocol: tcp, ports: [{port + r % 1000}], "
                   f"cidr: 10.{100 + n // 65536 % 100}.{n // 256 % 256}.{n % 256}/32}}")


def ep_groups(j):
    if every_group:
        return [f"g{g}" for g in range(groups)]
    return sorted({f"g{j % groups}", f"g{groups - 1}"})


out.append("endpoints:")
for i in range(nodes):
    for j in range(2):
        out.append(f"  - {{name: n{i}-w{j}, node: node-{i}, interface: w{i}x{j}, "
                   f"addresses: [10.{60 + i // 250}.{i % 250}.{j + 2}], "
                   f"groups: [{', '.join(ep_groups(j))}]}}")
print("\n".join(out))
