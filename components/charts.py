"""Helm charts, installed with kubernetes.helm.v4.Chart at the versions of components/chart_versions.py.

helm.v4.Chart shows each object in `pulumi preview` and lets policies see it; it skips
Helm hooks and has no `lookup` (docs/architecture.md), which the values account for.
"""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as kubernetes

from components.chart_versions import CHARTS, override_field
from components.settings import Charts


def chart_version(charts: Charts, name: str) -> str:
    """The pinned version of chart `name`, or the stack's override (its `charts` settings)."""
    override = getattr(charts, override_field(name))
    return override or CHARTS[name].version


def chart(charts: Charts, name: str, namespace: str, values: dict, opts: pulumi.ResourceOptions, *,
          release: str | None = None) -> kubernetes.helm.v4.Chart:
    """Install chart `name` as release `release` (default: the chart's name) into `namespace`."""
    source = CHARTS[name]
    release = release or name
    return kubernetes.helm.v4.Chart(
        release,
        name=release,
        namespace=namespace,
        chart=source.chart,
        version=chart_version(charts, name),
        repository_opts={"repo": source.repository},
        values=values,
        opts=opts,
    )
