"""Helm charts, installed with kubernetes.helm.v4.Chart; every chart's version pinned here.

helm.v4.Chart shows each object in `pulumi preview` and lets policies see it; it skips
Helm hooks and has no `lookup` (see ARCHITECTURE.md), which the values account for.
A stack can try another version through its `charts` settings.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as kubernetes

from components.settings import Charts


@dataclass(frozen=True)
class ChartSource:
    repository: str
    chart: str
    version: str


CHARTS = {
    "jupyterhub": ChartSource("https://jupyterhub.github.io/helm-chart/", "jupyterhub", "4.4.0"),
    "binderhub-service": ChartSource("https://2i2c.org/binderhub-service", "binderhub-service",
                                     "0.1.0-0.dev.git.336.hca79dc0"),
    "cert-manager": ChartSource("https://charts.jetstack.io", "cert-manager", "v1.21.1"),
    "traefik": ChartSource("https://traefik.github.io/charts", "traefik", "41.3.0"),
    "harbor": ChartSource("https://helm.goharbor.io", "harbor", "1.19.1"),
    "nfs-subdir-external-provisioner": ChartSource(
        "https://kubernetes-sigs.github.io/nfs-subdir-external-provisioner/", "nfs-subdir-external-provisioner",
        "4.0.18"),
    "metallb": ChartSource("https://metallb.github.io/metallb", "metallb", "0.15.2"),
    "cilium": ChartSource("https://helm.cilium.io", "cilium", "1.18.2"),
    "calico": ChartSource("https://docs.tigera.io/calico/charts", "tigera-operator", "v3.30.3"),
}


def chart_version(charts: Charts, name: str) -> str:
    """The pinned version of chart `name`, or the stack's override (its `charts` settings)."""
    override = getattr(charts, name.replace("-", "_"))
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
