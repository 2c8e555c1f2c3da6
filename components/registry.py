"""The registry BinderHub pushes to, chosen in one place whatever the platform, and the pull
secret user pods pull its private images with.

- artifact-registry: the platform's own (GKE makes it, see components/platforms/gke.py);
- harbor: Harbor in the cluster, behind the ingress (components/harbor.py);
- external: any registry, its password in the stack's SOPS file;
- local: a plain-HTTP registry on a laptop cluster's own network (kind's local registry, which
  `make up STACK=local` runs), reached by builds and nodes alike.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as kubernetes

from components.cluster import HUB_NAMESPACE, Cluster, RegistryAccess
from components.component import Component
from components.harbor import Harbor, HarborArgs
from components.ingress import Ingress
from components.secrets import StackSecrets
from components.settings import Settings

PULL_SECRET = "binder-registry-pull"  # noqa: S105 (the Secret's name, not a secret)


def choose_registry(settings: Settings, secrets: StackSecrets, cluster: Cluster, ingress: Ingress) -> RegistryAccess:
    """The stack's registry. Harbor is made here, after the ingress that serves it."""
    registry = settings.registry
    if registry.type == "artifact-registry":
        return cluster.platform_registry  # the settings allow it only where the platform makes one
    if registry.type == "external":
        external = registry.external
        return RegistryAccess(url=external.url, image_prefix=external.image_prefix, username=external.username,
                              password=secrets["registry_password"], pull_secret=True)
    if registry.type == "harbor":
        # Before its component existed, Harbor was a child of the platform's: the alias keeps it in place.
        return Harbor("harbor", HarborArgs.of(settings, secrets, cluster, ingress), pulumi.ResourceOptions(
            provider=cluster.provider, depends_on=ingress.ready, aliases=[pulumi.Alias(parent=cluster)])).access
    local = registry.local
    port = int(local.host.partition(":")[2] or 80)  # plain HTTP: port 80 unless the host names one
    return RegistryAccess(url=f"http://{local.host}", image_prefix=f"{local.host}/binder-", plain_http=True,
                          push_egress=({"to": [{"ipBlock": {"cidr": local.network}}],
                                        "ports": [{"port": port, "protocol": "TCP"}]},))


@dataclass(frozen=True)
class PullSecretArgs:
    registry: RegistryAccess
    namespace: str = HUB_NAMESPACE


class PullSecret(Component):
    """The docker-registry Secret user pods pull private images with (chart hooks, which could
    make one, are skipped by helm.v4.Chart)."""

    TYPE = "persistent-binderhub:registry:PullSecret"

    def __init__(self, name: str, args: PullSecretArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(name, opts)
        registry = args.registry
        config = pulumi.Output.all(registry.url, registry.username, registry.password).apply(
            lambda values: _docker_config(*values))
        kubernetes.core.v1.Secret(
            name,
            metadata={"name": PULL_SECRET, "namespace": args.namespace},
            type="kubernetes.io/dockerconfigjson",
            string_data={".dockerconfigjson": pulumi.Output.secret(config)},
            opts=self.child(),
        )
        self.register_outputs({})


def _docker_config(url: str, username: str, password: str) -> str:
    host = url.removeprefix("https://").removeprefix("http://").rstrip("/")
    token = base64.b64encode(f"{username}:{password}".encode()).decode()
    return json.dumps({"auths": {host: {"username": username, "password": password, "auth": token}}},
                      sort_keys=True)
