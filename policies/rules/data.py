"""User data: volumes kept, users never culled, the resources that hold data protected."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from .model import Rule, Stack, Violation, walk

DATA_CLASSES = ("user-homes", "hub-db")  # the StorageClasses of user volumes and the hub database
STORAGE_CLASS = "kubernetes:storage.k8s.io/v1:StorageClass"
_DELETE_PVC_CODE = re.compile(r"\bdelete_pvc\s*=\s*True\b")
# Types whose deletion loses data or an address users and DNS depend on.
PROTECTED_TYPES = {
    "gcp:artifactregistry/repository:Repository": "the registry of every built image",
    "gcp:compute/address:Address": "the ingress's static address, which DNS points at",
    "gcp:storage/bucket:Bucket": "a bucket of backups",
    "openstack:networking/floatingIp:FloatingIp": "the ingress's floating IP, which DNS points at",
    "openstack:objectstorage/container:Container": "a container of backups",
}


def storage_keeps_volumes(stack: Stack, config: Mapping[str, Any]) -> Iterator[Violation]:
    for storage_class in stack.of_type(STORAGE_CLASS):
        name = storage_class.get("metadata.name", storage_class.name)
        if name not in DATA_CLASSES:
            continue
        if storage_class.get("reclaimPolicy") != "Retain":
            yield Violation(f"StorageClass {name} has reclaimPolicy {storage_class.get('reclaimPolicy', 'Delete')!r}: "
                            f"a deleted claim would delete the volume with it. Set reclaimPolicy: Retain.",
                            storage_class.urn)
        if storage_class.get("allowVolumeExpansion") is not True:
            yield Violation(f"StorageClass {name} does not allow volume expansion: a full volume could only be "
                            f"replaced, not grown. Set allowVolumeExpansion: true.", storage_class.urn)


def hub_keeps_users_and_volumes(stack: Stack, config: Mapping[str, Any]) -> Iterator[Violation]:
    for hub in stack.charts("jupyterhub"):
        if hub.value("cull.users") is True:
            yield Violation("The JupyterHub chart culls users (cull.users: true): an idle user would be deleted, "
                            "and with them their record of projects. Set cull.users: false.", hub.urn)
        for path, value in walk(hub.value("hub.config") or {}):
            if path.endswith(".delete_pvc") and value is True:
                yield Violation(f"The JupyterHub chart sets hub.config.{path}: true: deleting a user would delete "
                                f"their volume with every project. Remove it (the spawner keeps volumes).", hub.urn)
        for name, code in (hub.value("hub.extraConfig") or {}).items():
            if isinstance(code, str) and _DELETE_PVC_CODE.search(code):
                yield Violation(f"hub.extraConfig.{name} sets delete_pvc = True: deleting a user would delete "
                                f"their volume with every project. Remove that line.", hub.urn)
        if hub.value("singleuser.storage.type") not in ("dynamic", "static"):
            yield Violation(f"The JupyterHub chart gives users no persistent storage (singleuser.storage.type: "
                            f"{hub.value('singleuser.storage.type')!r}): every project would be lost at its "
                            f"server's stop. Set singleuser.storage.type: dynamic.", hub.urn)


def data_resources_protected(stack: Stack, config: Mapping[str, Any]) -> Iterator[Violation]:
    holding = {**{harbor.props.get("namespace"): "every built image's volume" for harbor in stack.charts("harbor")},
               **{hub.props.get("namespace"): "every user's volume claim" for hub in stack.charts("jupyterhub")}}
    for namespace in stack.of_type("kubernetes:core/v1:Namespace"):
        name = namespace.get("metadata.name", namespace.name)
        if name in holding and not namespace.protect:
            yield Violation(f"Namespace {name} holds {holding[name]} and is not protected: a rename in code would "
                            f"delete it, and the claims with it. Register it with protect=True.", namespace.urn)
    for resource in stack.of_type(*PROTECTED_TYPES):
        if not resource.protect:
            yield Violation(f"{resource.type} {resource.name} is {PROTECTED_TYPES[resource.type]} and is not "
                            f"protected: a rename in code would delete it. Register it with protect=True.",
                            resource.urn)
    for harbor in stack.charts("harbor"):
        if not harbor.protect:
            yield Violation(f"The Harbor release {harbor.name} holds every built image and is not protected: a "
                            f"rename in code would delete it. Register it with protect=True.", harbor.urn)


def monitoring_keeps_data_and_grafana_closed(stack: Stack, config: Mapping[str, Any]) -> Iterator[Violation]:
    retained = {c.get("metadata.name", c.name) for c in stack.of_type(STORAGE_CLASS)
                if c.get("reclaimPolicy") == "Retain"}
    for release in stack.charts("kube-prometheus-stack"):
        storage = release.value("prometheus.prometheusSpec.storageSpec.volumeClaimTemplate.spec.storageClassName")
        if storage not in retained:
            yield Violation(f"Prometheus keeps its data {'on ' + repr(storage) if storage else 'in the pod only'}, "
                            f"not on a StorageClass of this stack that retains volumes: its history would go with "
                            f"the pod or the claim. Give prometheus.prometheusSpec.storageSpec a Retain class "
                            f"(the program uses hub-db).", release.urn)
        grafana = release.value("grafana") or {}  # its keys hold dots ("grafana.ini"): read them whole
        if (grafana.get("grafana.ini") or {}).get("auth.anonymous", {}).get("enabled") is True:
            yield Violation("Grafana lets anonymous users in (grafana.ini auth.anonymous.enabled): every dashboard, "
                            "user names included, would be public. Set it to false.", release.urn)
        if not grafana.get("adminPassword"):
            yield Violation("Grafana has no admin password of its own, so the chart's well-known default applies: "
                            "set grafana.adminPassword (the program generates one).", release.urn)


RULES = (
    Rule("storage-keeps-volumes", "The user-homes and hub-db StorageClasses keep released volumes (Retain) "
         "and allow expansion.", storage_keeps_volumes),
    Rule("hub-keeps-users-and-volumes", "JupyterHub never culls users, never deletes a user's volume, and gives "
         "users persistent storage.", hub_keeps_users_and_volumes),
    Rule("data-resources-protected", "The namespace of the user volumes, registries, static addresses and "
         "backup buckets are protected from deletion.", data_resources_protected),
    Rule("monitoring-keeps-data-and-grafana-closed", "Prometheus keeps its data on a Retain class; Grafana has "
         "an admin password and no anonymous access.", monitoring_keeps_data_and_grafana_closed),
)
