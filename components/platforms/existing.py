"""An existing cluster (kind, minikube, k3d, or any managed cluster) through a kubeconfig context."""

from __future__ import annotations

import os
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as kubernetes

from components.cluster import HUB_DB_CLASS, USER_HOMES_CLASS, Cluster, Placement, VolumeBackup
from components.secrets import StackSecrets
from components.settings import Existing, Settings
from components.storage import StorageClasses, StorageClassesArgs


@dataclass(frozen=True)
class ExistingClusterArgs:
    existing: Existing

    @classmethod
    def of(cls, settings: Settings, secrets: StackSecrets) -> ExistingClusterArgs:
        return cls(settings.existing)


class ExistingCluster(Cluster):
    TYPE = "persistent-binderhub:platform:ExistingCluster"

    def __init__(self, name: str, args: ExistingClusterArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(name, opts)
        existing = args.existing
        # The provider takes a kubeconfig path as readily as its content, and without one finds
        # it as kubectl does. Nothing is read now, so an offline render needs no cluster.
        path = os.path.expanduser(existing.kubeconfig) if existing.kubeconfig else None
        provider = kubernetes.Provider(f"{name}-kubernetes", kubeconfig=path, context=existing.context,
                                       opts=self.child())
        if existing.storage_class is None:
            StorageClasses("storage", StorageClassesArgs(existing.storage_provisioner, existing.storage_parameters,
                                                         wait_for_first_consumer=True),
                           self.child(provider=provider))
        anywhere = Placement()
        self.hand_over(
            provider=provider, kubeconfig=pulumi.Output.secret(path or "$KUBECONFIG or ~/.kube/config"),
            kubernetes_version=existing.kubernetes_version, core=anywhere, user=anywhere,
            ingress_on_node_ports=True, volume_backup=VolumeBackup(snapshot_driver=existing.snapshot_driver),
            storage_classes=((existing.storage_class,) * 2 if existing.storage_class
                             else (USER_HOMES_CLASS, HUB_DB_CLASS)))


def build(settings: Settings, secrets: StackSecrets) -> Cluster:
    return ExistingCluster("cluster", ExistingClusterArgs.of(settings, secrets))
