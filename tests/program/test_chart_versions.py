"""The one table of chart versions: what a dependency bot reads, and what the settings offer."""

from __future__ import annotations

import json
import re

from components.chart_versions import CHARTS
from components.settings import Charts, parse_settings
from tools.offline import REPO
from tools.stackfile import read_stack_config


def _renovate_matches() -> list[dict[str, str]]:
    """What renovate.json's custom manager extracts from the table, as Renovate would."""
    config = json.loads((REPO / "renovate.json").read_text())
    (manager,) = [m for m in config["customManagers"] if m["datasourceTemplate"] == "helm"]
    assert re.search(manager["managerFilePatterns"][0].strip("/"), "components/chart_versions.py")
    (pattern,) = manager["matchStrings"]
    python_pattern = pattern.replace("(?<", "(?P<")  # JavaScript's named groups, in Python's spelling
    text = (REPO / "components" / "chart_versions.py").read_text()
    return [match.groupdict() for match in re.finditer(python_pattern, text)]


def test_the_dependency_bot_reads_every_chart_of_the_table_exactly():
    found = sorted((m["registryUrl"], m["depName"], m["currentValue"]) for m in _renovate_matches())
    assert found == sorted((c.repository, c.chart, c.version) for c in CHARTS.values())


def test_the_charts_settings_offer_one_override_per_chart_of_the_table():
    aliases = {field.alias for field in Charts.model_fields.values()}
    assert aliases == {"jupyterhub", "binderhubService", "certManager", "traefik", "harbor",
                       "nfsSubdirExternalProvisioner", "metallb", "cilium", "calico", "velero",
                       "kubePrometheusStack"}
    assert len(aliases) == len(CHARTS)


def test_an_override_replaces_the_pinned_version_on_that_stack_only():
    from components.charts import chart_version

    config = read_stack_config(REPO, "local")
    config["persistent-binderhub:charts"] = {"binderhubService": "0.1.0-0.dev.git.400.habcdef0"}
    settings = parse_settings(config, "local")
    assert chart_version(settings.charts, "binderhub-service") == "0.1.0-0.dev.git.400.habcdef0"
    assert chart_version(settings.charts, "jupyterhub") == CHARTS["jupyterhub"].version
