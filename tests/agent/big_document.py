# SPDX-License-Identifier: Apache-2.0
"""The large policy the agent API tests apply, as a PolicyDocument message (grpc_api.py,
grpc_hostile.py). The caller puts the generated Python stubs on sys.path first."""
from iofence.v1 import agent_pb2 as pb


def big_document(rev, n, endpoint, interface):
    """big_policy() as the PolicyDocument message iofencectl would send: read in ~1/10 of the
    text's time, so that the agent's read budget is not what a loaded test machine tests."""
    doc = pb.PolicyDocument(revision=rev, has_revision=True)
    group = doc.security_groups.add(name="big")
    for i in range(n):
        rule = group.rules.add(direction=pb.DIRECTION_INGRESS, protocol=6, has_protocol=True,
                               cidr="10.%d.%d.0/24" % ((i >> 16) & 255, (i >> 8) & 255))
        rule.ports.add(lo=1 + i % 60000)
    doc.endpoints.add(name=endpoint, node="n1", interface=interface, addresses=["10.99.0.1"],
                      groups=["big"])
    return doc
