"""The whole deployment of one stack, built from its settings and secrets."""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as kubernetes

from components.binderhub import BinderHub, BinderHubArgs
from components.cluster import HUB_NAMESPACE, Cluster
from components.endpoints import Endpoints
from components.generated_secrets import GeneratedSecrets
from components.ingress import Ingress
from components.jupyterhub import JupyterHub, JupyterHubArgs
from components.platforms import build_cluster
from components.registry import PullSecret
from components.secrets import StackSecrets
from components.settings import Settings


def build_platform(settings: Settings, secrets: StackSecrets) -> None:
    """Register every resource of the stack and export what operators need to know."""
    generated = GeneratedSecrets("chart-secrets")
    cluster = build_cluster(settings, secrets)
    namespace = _hub_namespace(cluster)
    ingress = Ingress("ingress", settings, cluster)
    hub = JupyterHub("jupyterhub", JupyterHubArgs.of(settings, secrets, cluster, generated, ingress),
                     pulumi.ResourceOptions(provider=cluster.provider, depends_on=[namespace, *ingress.ready]))
    # BinderHub reads its token from the hub's Secret, which the jupyterhub release makes.
    BinderHub("binderhub", BinderHubArgs.of(settings, secrets, cluster, ingress),
              pulumi.ResourceOptions(provider=cluster.provider, depends_on=[hub.release]))
    endpoints = Endpoints.of(settings)
    pulumi.export("hubUrl", endpoints.hub_url)
    pulumi.export("binderUrl", endpoints.binder_url)
    pulumi.export("kubeconfig", cluster.kubeconfig)
    pulumi.export("imagePrefix", cluster.registry.image_prefix)
    pulumi.export("kubernetesVersion", cluster.kubernetes_version)
    if cluster.ingress_address is not None:
        pulumi.export("ingressAddress", cluster.ingress_address)


def _hub_namespace(cluster: Cluster) -> kubernetes.core.v1.Namespace:
    namespace = kubernetes.core.v1.Namespace(
        HUB_NAMESPACE, metadata={"name": HUB_NAMESPACE},
        opts=pulumi.ResourceOptions(provider=cluster.provider, depends_on=cluster.depends_on))
    if cluster.registry.private:
        PullSecret("registry-pull", cluster.registry,
                   pulumi.ResourceOptions(provider=cluster.provider, depends_on=[namespace]))
    return namespace
