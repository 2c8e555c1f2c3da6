"""Advice that does not block a deploy: known security releases, private nodes, registry cleanup."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from .model import Rule, Stack, Violation

# Chart releases that fixed a security issue, with the date and advisory: a stack on an older
# release of that chart is told. Only releases whose advisory is published are listed.
SECURITY_RELEASES = (
    ("cert-manager", "1.16.2", "2024-12", "GHSA-r4pg-vg54-wxx4 (CVE-2024-12401): denial of service through "
                                          "crafted PEM data; 1.15.4 and 1.12.14 fix it too"),
    ("jupyterhub", "4.3.3", "2026-03", "JupyterHub 5.4.4's security release"),
)


def charts_past_security_releases(stack: Stack, config: Mapping[str, Any]) -> Iterator[Violation]:
    for chart, fixed, date, advisory in SECURITY_RELEASES:
        for release in stack.charts(chart):
            version = _numbers(release.props.get("version"))
            if version is not None and version < _numbers(fixed):
                yield Violation(f"Chart {chart} {release.props.get('version')} is older than {fixed} ({date}), "
                                f"which fixed {advisory}. Upgrade it in components/chart_versions.py.",
                                release.urn)


def _numbers(version: object) -> tuple[int, ...] | None:
    match = re.match(r"v?([0-9]+)\.([0-9]+)\.([0-9]+)", version) if isinstance(version, str) else None
    return tuple(int(part) for part in match.groups()) if match else None


def gke_nodes_are_private(stack: Stack, config: Mapping[str, Any]) -> Iterator[Violation]:
    for cluster in stack.of_type("gcp:container/cluster:Cluster"):
        if cluster.get("privateClusterConfig.enablePrivateNodes") is not True:
            yield Violation(f"GKE cluster {cluster.name} gives its nodes public addresses: every node is reachable "
                            f"from the internet. Make the nodes private (privateClusterConfig.enablePrivateNodes) "
                            f"with Cloud NAT for egress.", cluster.urn)


def registry_has_cleanup_policy(stack: Stack, config: Mapping[str, Any]) -> Iterator[Violation]:
    for repository in stack.of_type("gcp:artifactregistry/repository:Repository"):
        if not repository.get("cleanupPolicies"):
            yield Violation(f"Artifact Registry repository {repository.name} has no cleanup policy: every image "
                            f"BinderHub ever built is kept and paid for. Add cleanupPolicies.", repository.urn)


RULES = (
    Rule("charts-past-security-releases", "Each chart is at or past its last known security release.",
         charts_past_security_releases, advisory=True),
    Rule("gke-nodes-are-private", "GKE nodes have no public addresses.", gke_nodes_are_private, advisory=True),
    Rule("registry-has-cleanup-policy", "Artifact Registry repositories have a cleanup policy.",
         registry_has_cleanup_policy, advisory=True),
)
