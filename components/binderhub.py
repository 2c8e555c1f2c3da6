"""BinderHub (2i2c's binderhub-service chart, release `binderhub`) beside JupyterHub.

BinderHub builds images from repositories and starts them on the hub as the signed-in
user: it reaches the hub's API with the `binder` service token from the hub's own Secret.
`config.*` is an open object in the chart's schema, so the names here are checked by tests.
"""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as kubernetes

from components.charts import chart
from components.cluster import HUB_NAMESPACE, Cluster
from components.ingress import Ingress
from components.jupyterhub import BINDER_CLIENT_ID, ingress_values, url_scheme
from components.secrets import StackSecrets
from components.settings import Settings


def binderhub_values(settings: Settings, secrets: StackSecrets, cluster: Cluster, ingress: Ingress) -> dict:
    scheme = url_scheme(settings)
    hub_url = f"{scheme}://{settings.domains.hub}/"
    binder_url = f"{scheme}://{settings.domains.binder}/"
    registry = cluster.registry
    # Without a registry (a local cluster), images stay on the node that built them.
    use_registry = bool(registry.url)
    config = {
        "BinderHub": {
            "base_url": "/",
            "hub_url": hub_url,
            "badge_base_url": binder_url,
            "enable_api_only_mode": False,
            "auth_enabled": True,
            "image_prefix": registry.image_prefix,
            # buildPodsRegistryCredentials count only with use_registry set in the values themselves
            "use_registry": use_registry,
        },
        "RepoProvider": {"banned_specs": list(settings.binder.banned_specs),
                         "allowed_specs": list(settings.binder.allowed_specs)},
        "KubernetesBuildExecutor": {"node_selector": cluster.build.node_selector},
    }
    if use_registry:
        config["DockerRegistry"] = {"url": registry.url, "username": registry.username,
                                    "password": registry.password}
    if secrets.get("github_api_token") is not None:
        config["GitHubRepoProvider"] = {"access_token": secrets["github_api_token"]}
    values = {
        "config": config,
        "service": {"type": "ClusterIP"},
        "networkPolicy": {"enabled": True},
        "ingress": ingress_values(ingress, settings.domains.binder, "binder-tls"),
        "nodeSelector": cluster.core.node_selector,
        "tolerations": list(cluster.core.tolerations),
        "dockerApi": {"nodeSelector": cluster.build.node_selector, "tolerations": list(cluster.build.tolerations)},
        "extraEnv": [
            {"name": "JUPYTERHUB_API_TOKEN",
             "valueFrom": {"secretKeyRef": {"name": "hub", "key": "hub.services.binder.apiToken"}}},
            {"name": "JUPYTERHUB_API_URL", "value": f"{hub_url}hub/api"},
            {"name": "JUPYTERHUB_BASE_URL", "value": hub_url},
            {"name": "JUPYTERHUB_CLIENT_ID", "value": BINDER_CLIENT_ID},
            {"name": "JUPYTERHUB_OAUTH_CALLBACK_URL", "value": f"{binder_url}oauth_callback"},
        ],
    }
    if use_registry:
        values["buildPodsRegistryCredentials"] = {"server": registry.url, "username": registry.username,
                                                  "password": registry.password}
    return values


def install_binderhub(settings: Settings, secrets: StackSecrets, cluster: Cluster, ingress: Ingress, *,
                      opts: pulumi.ResourceOptions) -> pulumi.Resource:
    if settings.registry.type == "harbor" and cluster.ingress_address is not None:
        _registry_egress(cluster.ingress_address, opts)
    return chart(settings, "binderhub-service", HUB_NAMESPACE,
                 binderhub_values(settings, secrets, cluster, ingress), opts, release="binderhub")


def _registry_egress(address: pulumi.Input[str], opts: pulumi.ResourceOptions) -> None:
    """Let docker-api push to Harbor in this cluster. The chart's own policy allows egress to
    public addresses only, and Harbor answers at the ingress address, which may be private
    (a MetalLB pool, a tenant network). Network policies add up: this one only widens."""
    kubernetes.networking.v1.NetworkPolicy(
        "binderhub-registry-egress",
        metadata={"name": "binderhub-registry-egress", "namespace": HUB_NAMESPACE},
        spec={
            "podSelector": {"matchLabels": {"app.kubernetes.io/name": "binderhub-service",
                                            "app.kubernetes.io/instance": "binderhub",
                                            "app.kubernetes.io/component": "docker-api"}},
            "policyTypes": ["Egress"],
            "egress": [{"to": [{"ipBlock": {"cidr": pulumi.Output.concat(address, "/32")}}],
                        "ports": [{"port": 443, "protocol": "TCP"}]}],
        },
        opts=opts)
