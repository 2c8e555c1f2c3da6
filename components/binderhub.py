"""BinderHub (2i2c's binderhub-service chart, release `binderhub`) beside JupyterHub.

BinderHub builds images from repositories and starts them on the hub as the signed-in
user: it reaches the hub's API with the `binder` service token from the hub's own Secret.
`config.*` is an open object in the chart's schema, so the names here are checked by tests.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as kubernetes

from components.charts import chart
from components.cluster import HUB_NAMESPACE, Cluster, RegistryAccess
from components.component import FROM_ROOT, Component
from components.endpoints import Endpoints
from components.ingress import Ingress
from components.jupyterhub import BINDER_CLIENT_ID, HUB_LOCAL_URL, ingress_values
from components.secrets import StackSecrets
from components.settings import Binder, Charts, Settings


@dataclass(frozen=True)
class BinderHubArgs:
    """What BinderHub needs: its part of the settings, and what the rest of the program made."""

    endpoints: Endpoints
    binder: Binder
    charts: Charts
    secrets: StackSecrets
    cluster: Cluster
    registry: RegistryAccess
    ingress: Ingress

    @classmethod
    def of(cls, settings: Settings, secrets: StackSecrets, *, cluster: Cluster, registry: RegistryAccess,
           ingress: Ingress) -> BinderHubArgs:
        return cls(Endpoints.of(settings), settings.binder, settings.charts, secrets, cluster, registry, ingress)


class BinderHub(Component):
    """The binderhub-service release, and what its builds need to reach the registry."""

    TYPE = "persistent-binderhub:hub:BinderHub"

    def __init__(self, name: str, args: BinderHubArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(name, opts)
        child = self.child(aliases=FROM_ROOT)
        if args.registry.push_egress:
            _registry_egress(list(args.registry.push_egress), child)
        self.release = chart(args.charts, "binderhub-service", HUB_NAMESPACE, binderhub_values(args),
                             child, release="binderhub")
        self.register_outputs({})


def binderhub_values(args: BinderHubArgs) -> dict:
    hub_url, binder_url = args.endpoints.hub_url, args.endpoints.binder_url
    cluster, secrets, registry = args.cluster, args.secrets, args.registry
    credentials = {"username": registry.username, "password": registry.password} if registry.username else {}
    config = {
        "BinderHub": {
            "base_url": "/",
            "hub_url": hub_url,  # where browsers are sent to their servers
            "hub_url_local": HUB_LOCAL_URL,  # where BinderHub itself talks to the hub
            "badge_base_url": binder_url,
            "enable_api_only_mode": False,
            "auth_enabled": True,
            "image_prefix": registry.image_prefix,
            # buildPodsRegistryCredentials count only with use_registry set in the values themselves
            "use_registry": True,
        },
        "RepoProvider": {"banned_specs": list(args.binder.banned_specs),
                         "allowed_specs": list(args.binder.allowed_specs)},
        "KubernetesBuildExecutor": {"node_selector": cluster.build.node_selector},
    }
    config["DockerRegistry"] = {"url": registry.url, **credentials}
    if secrets.get("github_api_token") is not None:
        config["GitHubRepoProvider"] = {"access_token": secrets["github_api_token"]}
    values = {
        "config": config,
        "service": {"type": "ClusterIP"},
        "networkPolicy": {"enabled": True},
        "ingress": ingress_values(args.ingress, args.endpoints.binder_host, "binder-tls"),
        **cluster.core.chart_values(),
        "dockerApi": {**cluster.build.chart_values(),
                      # docker-api pushes to a plain-HTTP registry only when told it may
                      **({"extraArgs": [f"--insecure-registry={registry.image_prefix.split('/')[0]}"]}
                         if registry.plain_http else {})},
        "extraEnv": [
            {"name": "JUPYTERHUB_API_TOKEN",
             "valueFrom": {"secretKeyRef": {"name": "hub", "key": "hub.services.binder.apiToken"}}},
            # The API in the cluster (the binderhub pod carries the label the hub's network policy
            # admits); the public URLs only where a browser follows them.
            {"name": "JUPYTERHUB_API_URL", "value": f"{HUB_LOCAL_URL}hub/api"},
            {"name": "JUPYTERHUB_BASE_URL", "value": hub_url},
            {"name": "JUPYTERHUB_CLIENT_ID", "value": BINDER_CLIENT_ID},
            {"name": "JUPYTERHUB_OAUTH_CALLBACK_URL", "value": f"{binder_url}oauth_callback"},
        ],
    }
    if credentials:
        values["buildPodsRegistryCredentials"] = {"server": registry.url, **credentials}
    return values


def _registry_egress(rules: list[dict], opts: pulumi.ResourceOptions) -> None:
    """Let docker-api push to the registry along `rules`, which the chart's own policy (public
    addresses only) would block. Network policies add up: this one only widens."""
    kubernetes.networking.v1.NetworkPolicy(
        "binderhub-registry-egress",
        metadata={"name": "binderhub-registry-egress", "namespace": HUB_NAMESPACE},
        spec={
            "podSelector": {"matchLabels": {"app.kubernetes.io/name": "binderhub-service",
                                            "app.kubernetes.io/instance": "binderhub",
                                            "app.kubernetes.io/component": "docker-api"}},
            "policyTypes": ["Egress"],
            "egress": rules,
        },
        opts=opts)
