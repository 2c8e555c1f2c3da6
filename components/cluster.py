"""What every platform hands the rest of the program, so nothing downstream knows which it is."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import pulumi

from components.component import Component

if TYPE_CHECKING:
    import pulumi_kubernetes as kubernetes

# Where the hub, the proxy and BinderHub run; the charts (and registry pull secrets) go here.
HUB_NAMESPACE = "binderhub"
VELERO_NAMESPACE = "velero"
VELERO_SERVICE_ACCOUNT = "velero-server"  # the Velero server's, which Workload Identity binds on GKE
MONITORING_NAMESPACE = "monitoring"
PROMETHEUS_URL = f"http://monitoring-prometheus.{MONITORING_NAMESPACE}.svc:9090"  # kube-prometheus-stack's
USER_HOMES_CLASS = "user-homes"
HUB_DB_CLASS = "hub-db"
NODE_PURPOSE = "hub.jupyter.org/node-purpose"
DEDICATED = "hub.jupyter.org/dedicated"


@dataclass(frozen=True)
class Placement:
    """Where one kind of workload runs: a node selector and the taints it tolerates."""

    node_selector: dict[str, str] = field(default_factory=dict)
    tolerations: tuple[dict[str, str], ...] = ()

    def chart_values(self) -> dict:
        """This placement as chart values: `nodeSelector` and `tolerations`, as most charts name them."""
        return {"nodeSelector": dict(self.node_selector),
                "tolerations": [dict(toleration) for toleration in self.tolerations]}

    @classmethod
    def dedicated(cls, label: str, purpose: str, taint_key: str = DEDICATED) -> Placement:
        """Nodes labelled `label=purpose` and tainted `<taint_key>=user:NoSchedule`: the taint z2jh's
        user pods and BinderHub's build pods tolerate (spelled with `/` or, where a platform does not
        take `/` in taint keys, `_`), on user and build nodes."""
        return cls({label: purpose}, ({"key": taint_key, "operator": "Equal", "value": "user",
                                       "effect": "NoSchedule"},))


@dataclass(frozen=True)
class RegistryAccess:
    """The registry BinderHub pushes built images to and the nodes pull them from."""

    url: pulumi.Input[str]  # the registry API, for BinderHub's DockerRegistry.url ("" without one)
    image_prefix: pulumi.Input[str]  # BinderHub's image_prefix: where built images go
    username: pulumi.Input[str] | None = None
    password: pulumi.Output[str] | None = None  # always a Pulumi secret
    pull_secret: bool = False  # user pods pull with a pull secret (nodes cannot pull on their own)
    plain_http: bool = False  # it speaks plain HTTP (a laptop's registry on the cluster's own network)
    # NetworkPolicy egress rules that let builds push, where the chart's own policy (public
    # addresses only) would block them: Harbor in this cluster, behind the ingress.
    push_egress: tuple[dict, ...] = ()


@dataclass(frozen=True)
class BackupTarget:
    """An object store Velero keeps backups in, made by the platform (GKE's bucket)."""

    provider: str  # Velero's object-store plugin: gcp or aws (any S3 API)
    bucket: pulumi.Input[str]
    config: dict  # the BackupStorageLocation's provider config
    service_account_annotations: dict = field(default_factory=dict)  # Workload Identity: no key
    credentials: pulumi.Output[str] | None = None  # the plugin's credentials file (`cloud`), a secret


@dataclass(frozen=True)
class VolumeBackup:
    """How a backup gets every user volume's contents, idle volumes (most, at any time) included."""

    snapshot_driver: str | None = None  # a CSI driver that snapshots: snapshots, moved to the object store
    nfs_export: tuple[str, str] | None = None  # (server, path) behind every volume: backed up whole


class Cluster(Component):
    """What every platform component is to the rest of the program: the cluster it made.

    Each platform (components/platforms/) subclasses it and ends by calling `hand_over`.
    """

    provider: kubernetes.Provider
    kubeconfig: pulumi.Output[str]  # a secret: kubeconfig content (or, for an existing cluster, its path)
    kubernetes_version: str  # minor version, such as "1.31", for validating what is applied
    core: Placement  # the hub, the proxy, BinderHub
    user: Placement  # user servers
    build: Placement  # image builds
    ingress_address: pulumi.Input[str] | None  # the address the ingress controller is exposed on
    # The entry point is the nodes' fixed ports (an existing, often local, cluster has no load
    # balancer to give it an address), not a LoadBalancer Service.
    ingress_on_node_ports: bool
    storage_classes: tuple[str, str]  # user homes, hub database
    platform_registry: RegistryAccess | None  # the platform's own (GKE's Artifact Registry), when chosen
    backup_target: BackupTarget | None  # the platform's own object store for backups (GKE's bucket), when chosen
    volume_backup: VolumeBackup  # how backups reach the user volumes' contents
    depends_on: list[pulumi.Resource]  # what must exist before workloads

    def hand_over(self, *, provider: kubernetes.Provider, kubeconfig: pulumi.Output[str], kubernetes_version: str,
                  core: Placement, user: Placement, build: Placement | None = None,
                  ingress_address: pulumi.Input[str] | None = None, ingress_on_node_ports: bool = False,
                  storage_classes: tuple[str, str] = (USER_HOMES_CLASS, HUB_DB_CLASS),
                  platform_registry: RegistryAccess | None = None, backup_target: BackupTarget | None = None,
                  volume_backup: VolumeBackup = VolumeBackup(),
                  depends_on: list[pulumi.Resource] | None = None) -> None:
        """Set what the rest of the program reads (`build` defaults to the user nodes) and
        register the outputs."""
        self.provider, self.kubeconfig, self.kubernetes_version = provider, kubeconfig, kubernetes_version
        self.core, self.user, self.build = core, user, build or user
        self.ingress_address, self.ingress_on_node_ports = ingress_address, ingress_on_node_ports
        self.storage_classes, self.platform_registry = storage_classes, platform_registry
        self.backup_target, self.volume_backup = backup_target, volume_backup
        self.depends_on = list(depends_on or [])
        self.register_outputs({"kubeconfig": kubeconfig, "ingress_address": ingress_address})
