"""Monitoring: kube-prometheus-stack with this product's scrapes, alerts and dashboard.

Prometheus keeps what it scrapes on the Retain class of the hub database, at a size of its
own; Grafana is behind the hub's ingress on a host of its own, with TLS, a generated admin
password and no anonymous access. The chart's admission webhooks run in cert-manager mode:
their certificates come from cert-manager (installed already) instead of the chart's Helm-hook
Jobs, which helm.v4.Chart skips, so PrometheusRules are still validated as they are applied.
The alerts (monitoring/alerts.yaml) and the dashboard (monitoring/dashboards/) are data in the
repository, checked by promtool and the tests.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pulumi
import pulumi_kubernetes as kubernetes
import pulumi_random as random
import yaml

from components.charts import chart
from components.cluster import HUB_NAMESPACE, MONITORING_NAMESPACE, Cluster
from components.component import Component
from components.ingress import Ingress
from components.jupyterhub import ingress_values
from components.secrets import StackSecrets
from components.settings import Charts, Monitoring, Settings

DATA = Path(__file__).resolve().parents[1] / "monitoring"
HUB_TOKEN_SECRET = "hub-metrics-token"  # noqa: S105 (the name of a Secret, not a secret)
DASHBOARD_LABEL = "grafana_dashboard"


@dataclass(frozen=True)
class MonitoringArgs:
    monitoring: Monitoring
    charts: Charts
    secrets: StackSecrets
    cluster: Cluster
    ingress: Ingress
    backups: bool = False  # Velero runs: its metrics are scraped too

    @classmethod
    def of(cls, settings: Settings, secrets: StackSecrets, cluster: Cluster, ingress: Ingress) -> MonitoringArgs:
        return cls(settings.monitoring, settings.charts, secrets, cluster, ingress, settings.backups is not None)


class MonitoringStack(Component):
    """kube-prometheus-stack in its namespace, the hub's metrics token, and the dashboards.

    For the rest of the program: `hub_metrics_token`, the token of the hub service
    `prometheus` (scope read:metrics), which the hub's configuration must hold too.
    """

    TYPE = "persistent-binderhub:monitoring:Monitoring"

    def __init__(self, name: str, args: MonitoringArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(name, opts)
        namespace = kubernetes.core.v1.Namespace(name, metadata={"name": MONITORING_NAMESPACE}, opts=self.child())
        token = random.RandomPassword(f"{name}-hub-token", length=48, special=False, opts=self.child())
        self.hub_metrics_token = token.result
        admin = random.RandomPassword(f"{name}-grafana-admin", length=32, special=False, opts=self.child())
        token_secret = kubernetes.core.v1.Secret(
            f"{name}-hub-token", metadata={"name": HUB_TOKEN_SECRET, "namespace": MONITORING_NAMESPACE},
            string_data={"token": token.result}, opts=self.child(namespace))
        dashboards = [kubernetes.core.v1.ConfigMap(
            f"{name}-dashboard-{path.stem}",
            metadata={"name": f"dashboard-{path.stem}", "namespace": MONITORING_NAMESPACE,
                      "labels": {DASHBOARD_LABEL: "1"}},
            data={path.name: path.read_text()}, opts=self.child(namespace))
            for path in sorted((DATA / "dashboards").glob("*.json"))]
        self.release = chart(args.charts, "kube-prometheus-stack", MONITORING_NAMESPACE,
                             monitoring_values(args, admin.result),
                             self.child(namespace, token_secret, *dashboards, *args.ingress.ready),
                             release="monitoring")
        self.register_outputs({})


def alert_rules() -> list[dict]:
    return yaml.safe_load((DATA / "alerts.yaml").read_text())["groups"]


def monitoring_values(args: MonitoringArgs, admin_password: pulumi.Output[str]) -> dict:
    monitoring, cluster = args.monitoring, args.cluster
    core = cluster.core.chart_values()
    _, hub_db_class = cluster.storage_classes
    return {
        "fullnameOverride": "monitoring",  # Services named monitoring-prometheus, monitoring-alertmanager
        "crds": {"enabled": True},
        "prometheusOperator": {
            # Certificates from cert-manager, not from the chart's hook Jobs (see the module docstring).
            "admissionWebhooks": {"certManager": {"enabled": True}, "patch": {"enabled": False}},
            **core,
        },
        "prometheus": {"prometheusSpec": {
            "retention": monitoring.retention,
            "storageSpec": {"volumeClaimTemplate": {"spec": {
                "storageClassName": hub_db_class, "accessModes": ["ReadWriteOnce"],
                "resources": {"requests": {"storage": monitoring.storage_size}}}}},
            # Every ServiceMonitor and rule of the cluster, not only the chart's own.
            "serviceMonitorSelectorNilUsesHelmValues": False, "podMonitorSelectorNilUsesHelmValues": False,
            "ruleSelectorNilUsesHelmValues": False,
            "secrets": [HUB_TOKEN_SECRET],
            "additionalScrapeConfigs": scrape_configs(),
            **core,
        }, "additionalPodMonitors": pod_monitors(args.backups)},
        "alertmanager": {"config": alertmanager_config(args), "alertmanagerSpec": core},
        "grafana": {
            "adminPassword": admin_password,
            "grafana.ini": {"auth.anonymous": {"enabled": False},
                            "server": {"root_url": f"https://{monitoring.grafana_host}/"}},
            "ingress": ingress_values(args.ingress, monitoring.grafana_host, "grafana-tls"),
            "sidecar": {"dashboards": {"enabled": True, "label": DASHBOARD_LABEL, "labelValue": "1",
                                       "searchNamespace": MONITORING_NAMESPACE}},
            **core,
        },
        "kube-state-metrics": core,
        "additionalPrometheusRulesMap": {"persistent-binderhub": {"groups": alert_rules()}},
    }


def scrape_configs() -> list[dict]:
    """The hub (with its read:metrics token) and BinderHub, which bring no ServiceMonitor of their own."""
    return [
        {"job_name": "jupyterhub", "metrics_path": "/hub/metrics",
         "authorization": {"credentials_file": f"/etc/prometheus/secrets/{HUB_TOKEN_SECRET}/token"},
         "static_configs": [{"targets": [f"hub.{HUB_NAMESPACE}.svc:8081"]}]},
        {"job_name": "binderhub", "metrics_path": "/metrics",
         "kubernetes_sd_configs": [{"role": "pod", "namespaces": {"names": [HUB_NAMESPACE]}}],
         "relabel_configs": [{"source_labels": ["__meta_kubernetes_pod_label_app_kubernetes_io_name"],
                              "regex": "binderhub-service", "action": "keep"},
                             {"source_labels": ["__meta_kubernetes_pod_container_port_number"],
                              "regex": "8585", "action": "keep"}]},
    ]


# The pods whose own metrics port is scraped: (name, namespace, labels, port name).
POD_METRICS = (
    ("traefik", "traefik", {"app.kubernetes.io/name": "traefik"}, "metrics"),
    ("cert-manager", "cert-manager", {"app.kubernetes.io/name": "cert-manager",
                                      "app.kubernetes.io/component": "controller"}, "http-metrics"),
    ("velero", "velero", {"app.kubernetes.io/name": "velero"}, "http-monitoring"),
)


def pod_monitors(backups: bool) -> list[dict]:
    return [{"name": name, "namespaceSelector": {"matchNames": [namespace]}, "selector": {"matchLabels": labels},
             "podMetricsEndpoints": [{"port": port}]}
            for name, namespace, labels, port in POD_METRICS if backups or name != "velero"]


def alertmanager_config(args: MonitoringArgs) -> dict:
    """Every alert to one receiver, as the settings say (none: Alertmanager's page only)."""
    alerts, secrets = args.monitoring.alerts, args.secrets
    receiver: dict = {"name": "operators"}
    if alerts.type == "email":
        email = alerts.email
        receiver["email_configs"] = [{
            "to": email.to, "from": email.sender, "smarthost": email.smarthost, "send_resolved": True,
            **({"auth_username": email.username} if email.username else {}),
            **({"auth_password": secrets["alerts_smtp_password"]} if secrets.get("alerts_smtp_password") else {})}]
    elif alerts.type == "slack":
        receiver["slack_configs"] = [{"api_url": secrets["alerts_slack_webhook_url"],
                                      "channel": alerts.slack.channel, "send_resolved": True}]
    elif alerts.type == "webhook":
        receiver["webhook_configs"] = [{"url": alerts.webhook.url, "send_resolved": True}]
    return {"route": {"receiver": "operators", "group_by": ["alertname", "namespace"]},
            "receivers": [receiver]}
