"""The whole deployment of one stack, built from its settings and secrets.

The platform (components/platforms/) makes the cluster; everything after it reads only the
`Cluster` interface, so nothing downstream knows which platform it runs on.
"""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as kubernetes

from components.backups import Backups, BackupsArgs
from components.binderhub import BinderHub, BinderHubArgs
from components.cluster import HUB_NAMESPACE
from components.endpoints import Endpoints
from components.generated_secrets import GeneratedSecrets
from components.ingress import Ingress, IngressArgs
from components.jupyterhub import JupyterHub, JupyterHubArgs
from components.monitoring import MonitoringArgs, MonitoringStack
from components.platforms import build_cluster
from components.registry import PullSecret, PullSecretArgs, choose_registry
from components.secrets import StackSecrets
from components.settings import Settings


def deploy(settings: Settings, secrets: StackSecrets) -> None:
    """Register every resource of the stack and export what operators need to know."""
    generated = GeneratedSecrets("chart-secrets")
    cluster = build_cluster(settings, secrets)
    provider = cluster.provider
    # Protected: it holds every user's volume claim (policy data-resources-protected).
    namespace = kubernetes.core.v1.Namespace(HUB_NAMESPACE, metadata={"name": HUB_NAMESPACE},
                                             opts=pulumi.ResourceOptions(provider=provider, protect=True,
                                                                         depends_on=cluster.depends_on))
    ingress = Ingress("ingress", IngressArgs.of(settings, cluster),
                      pulumi.ResourceOptions(provider=provider, depends_on=cluster.depends_on))
    registry = choose_registry(settings, secrets, cluster, ingress)
    if registry.pull_secret:
        PullSecret("registry-pull", PullSecretArgs(registry),
                   pulumi.ResourceOptions(provider=provider, depends_on=[namespace]))
    made = {"cluster": cluster, "registry": registry, "ingress": ingress}
    # Before the hub: in restore mode, the users' volumes come back before anyone can launch.
    backups = Backups("backups", BackupsArgs.of(settings, secrets, cluster),
                      pulumi.ResourceOptions(provider=provider, depends_on=[namespace, *cluster.depends_on])
                      ) if settings.backups else None
    monitoring = MonitoringStack("monitoring", MonitoringArgs.of(settings, secrets, cluster, ingress),
                                 pulumi.ResourceOptions(provider=provider, depends_on=cluster.depends_on)
                                 ) if settings.monitoring else None
    metrics_token = monitoring.hub_metrics_token if monitoring else None
    hub = JupyterHub("jupyterhub", JupyterHubArgs.of(settings, secrets, generated=generated, **made,
                                                     metrics_token=metrics_token),
                     pulumi.ResourceOptions(provider=provider, depends_on=[namespace, *ingress.ready,
                                                                          *(backups.ready if backups else [])]))
    # BinderHub reads its token from the hub's Secret, which the jupyterhub release makes.
    BinderHub("binderhub", BinderHubArgs.of(settings, secrets, **made),
              pulumi.ResourceOptions(provider=provider, depends_on=[hub.release]))
    endpoints = Endpoints.of(settings)
    pulumi.export("hubUrl", endpoints.hub_url)
    pulumi.export("binderUrl", endpoints.binder_url)
    pulumi.export("kubeconfig", cluster.kubeconfig)
    pulumi.export("imagePrefix", registry.image_prefix)
    pulumi.export("kubernetesVersion", cluster.kubernetes_version)
    if cluster.ingress_address is not None:
        pulumi.export("ingressAddress", cluster.ingress_address)
