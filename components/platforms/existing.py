"""An existing cluster (kind, minikube, k3d, or any managed cluster) through a kubeconfig context."""

from __future__ import annotations

import os

import pulumi
import pulumi_kubernetes as kubernetes

from components.cluster import HUB_DB_CLASS, USER_HOMES_CLASS, Cluster, Placement
from components.registry import build_registry
from components.secrets import StackSecrets
from components.settings import Settings
from components.storage import StorageClasses


class ExistingCluster(pulumi.ComponentResource):
    def __init__(self, name: str, settings: Settings, secrets: StackSecrets):
        super().__init__("persistent-binderhub:platform:ExistingCluster", name, None)
        existing = settings.existing
        # The provider takes a kubeconfig path as readily as its content, and without one finds
        # it as kubectl does. Nothing is read now, so an offline render needs no cluster.
        path = os.path.expanduser(existing.kubeconfig) if existing.kubeconfig else None
        self.provider = kubernetes.Provider(
            f"{name}-kubernetes", kubeconfig=path, context=existing.context,
            opts=pulumi.ResourceOptions(parent=self))
        workloads = pulumi.ResourceOptions(parent=self, provider=self.provider)
        if existing.storage_class is None:
            StorageClasses("storage", provisioner=existing.storage_provisioner,
                           parameters=existing.storage_parameters, wait_for_first_consumer=True, opts=workloads)
        anywhere = Placement()
        self.cluster = Cluster(
            provider=self.provider,
            kubeconfig=pulumi.Output.secret(path or "$KUBECONFIG or ~/.kube/config"),
            kubernetes_version=existing.kubernetes_version,
            registry=build_registry(settings, secrets, workloads),
            core=anywhere, user=anywhere, build=anywhere, ingress_on_node_ports=True,
            storage_classes=((existing.storage_class, existing.storage_class) if existing.storage_class
                             else (USER_HOMES_CLASS, HUB_DB_CLASS)),
        )
        self.register_outputs({})


def build(settings: Settings, secrets: StackSecrets) -> Cluster:
    return ExistingCluster("cluster", settings, secrets).cluster
