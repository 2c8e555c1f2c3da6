"""The whole deployment of one stack, built from its settings and secrets."""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as kubernetes

from components.binderhub import install_binderhub
from components.cluster import HUB_NAMESPACE, Cluster
from components.generated_secrets import GeneratedSecrets
from components.ingress import Ingress
from components.jupyterhub import install_jupyterhub, url_scheme
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
    hub = install_jupyterhub(settings, secrets, cluster, generated, ingress, opts=pulumi.ResourceOptions(
        provider=cluster.provider, depends_on=[namespace, *ingress.ready]))
    # BinderHub reads its token from the hub's Secret, which the jupyterhub release makes.
    install_binderhub(settings, secrets, cluster, ingress,
                      opts=pulumi.ResourceOptions(provider=cluster.provider, depends_on=[hub]))
    scheme = url_scheme(settings)
    pulumi.export("hubUrl", f"{scheme}://{settings.domains.hub}/")
    pulumi.export("binderUrl", f"{scheme}://{settings.domains.binder}/")
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
