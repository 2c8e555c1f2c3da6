"""The charts rendered for real: Helm's own engine with the values the program hands each chart,
then every object validated as the stack's Kubernetes version will receive it.

The real charts render wherever their packages are cached (`make chart-data` with the chart
repositories in reach); a machine that takes the schemas from a reference folder has none, and
there the machinery is proven on a chart made here.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from components.chart_versions import CHARTS
from tests.program.chart_render import invalid_objects, rendered_objects
from tests.program.conftest import EXAMPLE_STACKS, release
from tools import chart_data

RELEASES = {"jupyterhub": ("jupyterhub", "binderhub"), "binderhub-service": ("binderhub", "binderhub"),
            "cert-manager": ("cert-manager", "cert-manager"), "traefik": ("traefik", "traefik")}
CACHED = [(stack, chart) for stack in EXAMPLE_STACKS for chart in RELEASES
          if (chart_data.cached(chart) / f"{CHARTS[chart].chart}-{CHARTS[chart].version}.tgz").is_file()]


@pytest.mark.parametrize(("stack", "chart"), CACHED)
def test_the_real_chart_renders_to_objects_kubernetes_accepts(example_runs, stack, chart):
    name, namespace = RELEASES[chart]
    _, values = release(example_runs, stack, name)
    package = (chart_data.cached(chart) / f"{CHARTS[chart].chart}-{CHARTS[chart].version}.tgz").read_bytes()
    objects = rendered_objects(package, values, name, namespace)
    assert objects
    version = example_runs[stack][0].outputs["kubernetesVersion"]
    assert invalid_objects(objects, version) == []


PROBE_VALUES = {"replicaCount": 2, "service": {"port": 8080}}


@pytest.fixture(scope="module")
def probe(tmp_path_factory) -> bytes:
    """A chart made with Helm's own starter (a Deployment, a Service, a hook test pod), packaged."""
    import helm_python as helm

    folder = tmp_path_factory.mktemp("probe")
    helm.Chart.create("probe", folder)
    return Path(helm.package(folder / "probe", destination=folder)).read_bytes()


def test_a_package_renders_with_the_values_given_and_without_its_hooks(probe):
    objects = rendered_objects(probe, PROBE_VALUES, "demo", "apps")
    kinds = sorted(document["kind"] for document in objects)
    assert "Deployment" in kinds
    assert "Service" in kinds
    assert all("helm.sh/hook" not in (d["metadata"].get("annotations") or {}) for d in objects)  # its test pod
    (deployment,) = [d for d in objects if d["kind"] == "Deployment"]
    assert deployment["spec"]["replicas"] == 2
    assert invalid_objects(objects, "1.31") == []


def test_an_object_kubernetes_would_refuse_is_reported(probe):
    objects = rendered_objects(probe, {**PROBE_VALUES, "replicaCount": "two"}, "demo", "apps")
    (problem,) = invalid_objects(objects, "1.31")
    assert problem.startswith("Deployment demo-probe:")
