"""Every chart the deployment installs, and its pinned version: the one table of chart versions.

A stack may try another version of a chart through its `charts` settings (one key per entry
here, camelCase: `binderhubService`). Each entry is one `ChartSource(repository, chart,
version)` call in the form renovate.json's custom manager reads, so a dependency bot proposes
a bump as a change of this table alone.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ChartSource:
    repository: str
    chart: str
    version: str


# Keep each entry in this form: renovate.json matches it.
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
    "velero": ChartSource("https://vmware-tanzu.github.io/helm-charts", "velero", "12.1.0"),
    "kube-prometheus-stack": ChartSource("https://prometheus-community.github.io/helm-charts", "kube-prometheus-stack",
                                         "88.5.3"),
}


def override_field(name: str) -> str:
    """The field of the `charts` settings that overrides chart `name` (`binderhub-service` -> `binderhub_service`)."""
    return name.replace("-", "_")
