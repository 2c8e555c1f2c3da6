"""Monitoring, offline: the chart's values on every example stack, the hub's metrics token with
read:metrics alone, the alerts checked and fired by promtool, the dashboard valid, the README's
operations section naming what each alert points to."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from components.errors import OperatorError
from components.monitoring import DATA, alert_rules
from tools.offline import CHART_TYPE, REPO, OfflineRun, run_program

MONITORED = ("example-gke", "example-magnum", "example-kubeadm")
DASHBOARDS = sorted((DATA / "dashboards").glob("*.json"))


def _promtool() -> str:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.fail("promtool is missing: make test-deps installs Debian's prometheus package")
    return promtool


@pytest.fixture
def runs(example_runs) -> dict[str, OfflineRun]:
    return {stack: run for stack, (run, _) in example_runs.items()}


def _values(run: OfflineRun, release: str) -> dict:
    return run.named(CHART_TYPE, release).inputs["values"]


def test_the_alert_rules_pass_promtool_and_each_fires_on_sample_series(tmp_path):
    check = subprocess.run([_promtool(), "check", "rules", str(DATA / "alerts.yaml")], capture_output=True,
                           text=True, check=False)
    assert check.returncode == 0, check.stdout + check.stderr
    tested = subprocess.run([_promtool(), "test", "rules", str(DATA / "alerts_test.yaml")], capture_output=True,
                            text=True, check=False)
    assert tested.returncode == 0, tested.stdout + tested.stderr
    alerts = {rule["alert"] for group in alert_rules() for rule in group["rules"]}
    fired = set(re.findall(r"alertname: (\w+)", (DATA / "alerts_test.yaml").read_text()))
    assert fired == alerts  # every alert has its unit test


def test_every_alert_says_what_how_bad_and_where_the_readme_says_what_to_do():
    readme = (REPO / "README.md").read_text()
    section = readme.split("## Monitoring", 1)[1].split("\n## ", 1)[0]
    for group in alert_rules():
        for rule in group["rules"]:
            assert rule["labels"]["severity"] in ("critical", "warning"), rule["alert"]
            assert rule["annotations"]["summary"]
            topic = re.fullmatch(r"README\.md#monitoring \((.+)\)", rule["annotations"]["runbook"]).group(1)
            assert f"**{topic.capitalize()}**" in section, f"the README's monitoring section has no {topic!r}"


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.name)
def test_the_dashboards_are_grafana_json_whose_queries_parse(path, tmp_path):
    dashboard = json.loads(path.read_text())
    assert dashboard["uid"]
    assert dashboard["title"]
    assert dashboard["schemaVersion"] >= 36
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    exprs = [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]
    assert exprs
    # promtool parses each query as the expression of a recording rule.
    rules = {"groups": [{"name": "dashboard", "rules": [{"record": f"dashboard:query_{i}", "expr": expr}
                                                        for i, expr in enumerate(exprs)]}]}
    (tmp_path / "queries.yaml").write_text(yaml.safe_dump(rules))
    check = subprocess.run([_promtool(), "check", "rules", str(tmp_path / "queries.yaml")], capture_output=True,
                           text=True, check=False)
    assert check.returncode == 0, check.stdout + check.stderr


@pytest.mark.parametrize("stack", MONITORED)
def test_prometheus_keeps_its_data_and_grafana_is_closed_and_behind_tls(runs, stack):
    values = _values(runs[stack], "monitoring")
    spec = values["prometheus"]["prometheusSpec"]
    assert spec["retention"] == "15d"
    claim = spec["storageSpec"]["volumeClaimTemplate"]["spec"]
    assert (claim["storageClassName"], claim["resources"]["requests"]["storage"]) == ("hub-db", "20Gi")
    grafana = values["grafana"]
    assert grafana["adminPassword"] == "[secret]"
    assert grafana["grafana.ini"]["auth.anonymous"] == {"enabled": False}
    (host,) = grafana["ingress"]["hosts"]
    assert host.startswith("grafana.")
    assert grafana["ingress"]["tls"] == [{"hosts": [host], "secretName": "grafana-tls"}]
    # No Helm-hook Jobs: the admission webhooks' certificates come from cert-manager.
    assert values["prometheusOperator"]["admissionWebhooks"] == {"certManager": {"enabled": True},
                                                                 "patch": {"enabled": False}}
    assert values["additionalPrometheusRulesMap"]["persistent-binderhub"]["groups"] == alert_rules()


@pytest.mark.parametrize("stack", MONITORED)
def test_the_hub_is_scraped_with_a_token_that_reads_metrics_only(runs, stack):
    run = runs[stack]
    (hub_job,) = [job for job in _values(run, "monitoring")["prometheus"]["prometheusSpec"]["additionalScrapeConfigs"]
                  if job["job_name"] == "jupyterhub"]
    assert hub_job["metrics_path"] == "/hub/metrics"
    assert hub_job["authorization"]["credentials_file"] == "/etc/prometheus/secrets/hub-metrics-token/token"
    assert run.named("kubernetes:core/v1:Secret", "monitoring-hub-token").inputs["stringData"] == "[secret]"
    hub = _values(run, "jupyterhub")["hub"]
    assert hub["services"]["prometheus"] == {"apiToken": "[secret]"}
    assert hub["loadRoles"]["metrics"] == {"services": ["prometheus"], "scopes": ["read:metrics"]}
    assert hub["networkPolicy"]["ingress"][0]["ports"] == [{"port": 8081}]
    assert hub["config"]["PersistentBinderSpawner"]["usage_prometheus_url"] == \
        "http://monitoring-prometheus.monitoring.svc:9090"


def test_traefik_cert_manager_and_velero_are_scraped_too(runs):
    monitors = _values(runs["example-gke"], "monitoring")["prometheus"]["additionalPodMonitors"]
    assert {m["name"]: m["namespaceSelector"]["matchNames"] for m in monitors} == {
        "traefik": ["traefik"], "cert-manager": ["cert-manager"], "velero": ["velero"]}


def test_the_dashboards_reach_grafanas_sidecar(runs):
    maps = [r for r in runs["example-gke"].of_type("kubernetes:core/v1:ConfigMap") if r.name.startswith("monitoring-")]
    assert [m.inputs["metadata"]["labels"] for m in maps] == [{"grafana_dashboard": "1"}] * len(DASHBOARDS)
    assert json.loads(maps[0].inputs["data"]["persistent-binderhub.json"])["uid"] == "persistent-binderhub"


def test_alerts_go_where_the_settings_say(runs):
    gke = _values(runs["example-gke"], "monitoring")["alertmanager"]["config"]
    assert gke["receivers"][0]["email_configs"][0]["to"] == "binder-ops@example.org"
    magnum = _values(runs["example-magnum"], "monitoring")["alertmanager"]["config"]
    assert magnum["receivers"][0]["webhook_configs"] == [{"url": "https://alerts.cloud.example.org/binder",
                                                          "send_resolved": True}]
    assert _values(runs["example-kubeadm"], "monitoring")["alertmanager"]["config"]["receivers"] == [
        {"name": "operators"}]


def test_the_local_stack_monitors_nothing_unless_asked(runs):
    assert not [r for r in runs["local"].of_type(CHART_TYPE) if r.name == "monitoring"]
    spawner = _values(runs["local"], "jupyterhub")["hub"]["config"]["PersistentBinderSpawner"]
    assert "usage_prometheus_url" not in spawner


def test_slack_alerts_need_their_webhook_in_the_secrets(tmp_path):
    for folder in ("stacks", "secrets"):
        shutil.copytree(REPO / folder, tmp_path / folder)
    stack_file = tmp_path / "stacks" / "Pulumi.local.yaml"
    stack_file.write_text(stack_file.read_text() + "  persistent-binderhub:monitoring:\n"
                          "    grafanaHost: grafana.127.0.0.1.nip.io\n"
                          "    alerts: {type: slack, slack: {channel: '#ops'}}\n")
    with pytest.raises(OperatorError, match="'alerts_slack_webhook_url' is missing"):
        run_program("local", Path(tmp_path))
