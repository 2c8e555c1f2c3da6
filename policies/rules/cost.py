"""What a stack may cost at most: user servers with limits, node pools with an upper bound."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from .model import Rule, Stack, Violation


def servers_and_pools_are_bounded(stack: Stack, config: Mapping[str, Any]) -> Iterator[Violation]:
    for hub in stack.charts("jupyterhub"):
        for resource in ("cpu", "memory"):
            if hub.value(f"singleuser.{resource}.limit") in (None, ""):
                yield Violation(f"User servers have no {resource} limit (singleuser.{resource}.limit): one user "
                                f"could take a whole node. Set servers.{resource}Limit in the stack's settings.",
                                hub.urn)
    for pool in stack.of_type("gcp:container/nodePool:NodePool"):
        autoscaling = pool.get("autoscaling")
        if autoscaling is not None and not (autoscaling.get("maxNodeCount") or autoscaling.get("totalMaxNodeCount")):
            yield Violation(f"Node pool {pool.name} autoscales without an upper bound: set its maximum node count "
                            f"in the stack's settings.", pool.urn)
    for group in stack.of_type("openstack:containerinfra/nodeGroup:NodeGroup"):
        if not group.get("maxNodeCount"):
            yield Violation(f"Node group {group.name} has no maxNodeCount: the autoscaler could grow it without "
                            f"bound. Set its maximum node count in the stack's settings.", group.urn)


RULES = (
    Rule("servers-and-pools-are-bounded", "User servers have CPU and memory limits; node pools have an upper "
         "autoscaling bound.", servers_and_pools_are_bounded),
)
