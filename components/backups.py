"""Backups of every user's volume and of the hub database: Velero, its object store and schedules,
and, in restore mode, the restore of the user volumes before JupyterHub is installed.

Velero's file-system backup only sees volumes a running pod mounts, and most users' volumes are
idle at any time. So the contents come, per platform (the cluster's `VolumeBackup`), from CSI
snapshots of every claim, moved to the object store (a lost cluster or zone does not take them
with it), or from the NFS export behind every volume, backed up whole from a pod that mounts it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as kubernetes

from components.charts import chart
from components.cluster import HUB_NAMESPACE, VELERO_NAMESPACE, VELERO_SERVICE_ACCOUNT, BackupTarget, Cluster
from components.component import Component
from components.secrets import StackSecrets
from components.settings import Backups as BackupSettings
from components.settings import Charts, Restore, Settings
from components.settings.deployment import S3Store

# Velero 1.18's object-store plugins (velero-plugin-for-gcp/-aws 1.14: their Velero 1.18 line).
PLUGINS = {"gcp": "docker.io/velero/velero-plugin-for-gcp:v1.14.4",
           "aws": "docker.io/velero/velero-plugin-for-aws:v1.14.2"}
SNAPSHOT_CLASS = "velero-snapshots"
CREDENTIALS_SECRET = "velero-cloud"  # noqa: S105 (the name of a Secret, not a secret)
USER_CLAIMS = {"component": "singleuser-storage"}  # KubeSpawner's label on every user's claim
HUB_DB = {"component": "hub"}  # z2jh's label on the hub pod and its hub-db-dir claim
# The NFS export is mounted by this pod, whose volume file-system backup copies whole.
EXPORT_POD = "volume-backup-export"
PAUSE_IMAGE = "registry.k8s.io/pause:3.10"
RESTORE_TIMEOUT = "4h"  # a restore of every user's volume takes long


@dataclass(frozen=True)
class BackupsArgs:
    backups: BackupSettings
    restore: Restore | None
    target: BackupTarget
    cluster: Cluster
    charts: Charts

    @classmethod
    def of(cls, settings: Settings, secrets: StackSecrets, cluster: Cluster) -> BackupsArgs:
        store = settings.backups.store
        target = cluster.backup_target if store.type == "gcs" else s3_target(store.s3, secrets)
        return cls(settings.backups, settings.restore, target, cluster, settings.charts)


def s3_target(s3: S3Store, secrets: StackSecrets) -> BackupTarget:
    """Any S3 API (Swift's, MinIO, Ceph RGW), with the keys of the stack's secrets."""
    credentials = pulumi.Output.all(secrets["backup_access_key_id"], secrets["backup_secret_access_key"]).apply(
        lambda keys: f"[default]\naws_access_key_id={keys[0]}\naws_secret_access_key={keys[1]}\n")
    return BackupTarget("aws", s3.bucket, {"region": s3.region, "s3Url": s3.url,
                                           "s3ForcePathStyle": "true" if s3.path_style else "false"},
                        credentials=pulumi.Output.secret(credentials))


class Backups(Component):
    """Velero in its namespace, its schedules, what reaches idle volumes, and restore mode."""

    TYPE = "persistent-binderhub:backups:Backups"

    def __init__(self, name: str, args: BackupsArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(name, opts)
        namespace = kubernetes.core.v1.Namespace(name, metadata={"name": VELERO_NAMESPACE}, opts=self.child())
        before = [namespace, *self._volume_access(name, args)]
        if args.target.credentials is not None:
            before.append(kubernetes.core.v1.Secret(
                f"{name}-credentials", metadata={"name": CREDENTIALS_SECRET, "namespace": VELERO_NAMESPACE},
                string_data={"cloud": args.target.credentials}, opts=self.child(namespace)))
        self.release = chart(args.charts, "velero", VELERO_NAMESPACE, velero_values(args), self.child(*before))
        # What JupyterHub waits for: Velero, and in restore mode the completed restore.
        self.ready: list[pulumi.Resource] = [self.release]
        if args.restore:
            self.ready.append(self._restore(name, args.restore))
        self.register_outputs({})

    def _volume_access(self, name: str, args: BackupsArgs) -> list[pulumi.Resource]:
        """What lets a backup reach every user volume, idle ones included, beside the chart: the
        export's pod (snapshots need only their class, one of the chart's extraObjects)."""
        access = args.cluster.volume_backup
        if access.nfs_export:
            server, path = access.nfs_export
            return [kubernetes.apps.v1.Deployment(
                f"{name}-export", metadata={"name": EXPORT_POD, "namespace": HUB_NAMESPACE},
                spec={"replicas": 1, "selector": {"matchLabels": {"app": EXPORT_POD}},
                      "template": _export_pod(server, path, args.cluster.core.chart_values())},
                opts=self.child())]
        return []

    def _restore(self, name: str, restore: Restore) -> pulumi.Resource:
        return kubernetes.apiextensions.CustomResource(
            f"{name}-restore", api_version="velero.io/v1", kind="Restore",
            metadata={"name": f"restore-{restore.from_backup}"[:63], "namespace": VELERO_NAMESPACE,
                      # The deployment goes on only once the restore completed.
                      "annotations": {"pulumi.com/waitFor": "jsonpath={.status.phase}=Completed"}},
            spec={"backupName": restore.from_backup, "includedNamespaces": [HUB_NAMESPACE],
                  "includedResources": ["persistentvolumeclaims", "persistentvolumes"],
                  "labelSelector": {"matchLabels": USER_CLAIMS}, "restorePVs": True,
                  "existingResourcePolicy": "none"},
            opts=self.child(self.release, custom_timeouts=pulumi.CustomTimeouts(create=RESTORE_TIMEOUT)))


def _export_pod(server: str, path: str, placement: dict) -> dict:
    """A pod that does nothing but mount the export, read-only, for the file-system backup."""
    return {
        "metadata": {"labels": {"app": EXPORT_POD},
                     "annotations": {"backup.velero.io/backup-volumes": "export"}},
        "spec": {
            **placement,
            "automountServiceAccountToken": False,
            "securityContext": {"runAsNonRoot": True, "runAsUser": 65534, "seccompProfile": {"type": "RuntimeDefault"}},
            "containers": [{"name": "hold", "image": PAUSE_IMAGE,
                            "resources": {"requests": {"cpu": "1m", "memory": "8Mi"}, "limits": {"memory": "16Mi"}},
                            "securityContext": {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                                                "capabilities": {"drop": ["ALL"]}},
                            "volumeMounts": [{"name": "export", "mountPath": "/export", "readOnly": True}]}],
            "volumes": [{"name": "export", "nfs": {"server": server, "path": path, "readOnly": True}}],
        },
    }


def velero_values(args: BackupsArgs) -> dict:
    target, access, backups = args.target, args.cluster.volume_backup, args.backups
    snapshots = access.snapshot_driver is not None
    location = {"name": "default", "provider": target.provider, "bucket": target.bucket, "default": True,
                "config": target.config,
                **({"credential": {"name": CREDENTIALS_SECRET, "key": "cloud"}} if target.credentials else {})}

    def schedule(when, selector: dict | None = None) -> dict:
        template = {"ttl": when.retention, "includedNamespaces": [HUB_NAMESPACE], "storageLocation": "default",
                    "snapshotMoveData": snapshots, "defaultVolumesToFsBackup": not snapshots}
        if selector:
            template["labelSelector"] = {"matchLabels": selector}
        return {"disabled": False, "schedule": when.schedule, "useOwnerReferencesInBackup": False,
                "template": template}

    configuration = {"backupStorageLocation": [location],
                     "volumeSnapshotLocation": [],  # no native cloud snapshots: CSI snapshots, moved to the store
                     "uploaderType": "kopia", "defaultSnapshotMoveData": snapshots,
                     "defaultVolumesToFsBackup": not snapshots}
    if snapshots:
        configuration["features"] = "EnableCSI"
    server_account = {"name": VELERO_SERVICE_ACCOUNT}
    if target.service_account_annotations:
        server_account["annotations"] = dict(target.service_account_annotations)

    return {
        "initContainers": [{"name": f"velero-plugin-for-{target.provider}", "image": PLUGINS[target.provider],
                            "imagePullPolicy": "IfNotPresent",
                            "volumeMounts": [{"mountPath": "/target", "name": "plugins"}]}],
        "configuration": configuration,
        "snapshotsEnabled": False,
        "deployNodeAgent": True,  # the data mover and the file-system backup both run there
        # Every node, dedicated ones included: the volumes are on user nodes, the hub's on core ones.
        "nodeAgent": {"tolerations": [{"operator": "Exists"}]},
        "credentials": {"useSecret": False},  # the location's own secret, or Workload Identity
        "serviceAccount": {"server": server_account},
        # Helm hooks, which helm.v4.Chart skips: the CRDs come from the chart's crds/ folder instead.
        "upgradeCRDs": False,
        "extraObjects": [_snapshot_class(access.snapshot_driver)] if snapshots else [],
        "schedules": {
            "user-volumes": schedule(backups.volumes),
            "hub-database": schedule(backups.hub_database, HUB_DB),
        },
        **args.cluster.core.chart_values(),
    }


def _snapshot_class(driver: str) -> dict:
    """The class Velero snapshots the claims of DRIVER with (its label): each snapshot is only the
    source of the data mover's copy to the object store, deleted after it."""
    return {"apiVersion": "snapshot.storage.k8s.io/v1", "kind": "VolumeSnapshotClass",
            "metadata": {"name": SNAPSHOT_CLASS, "labels": {"velero.io/csi-volumesnapshot-class": "true"}},
            "driver": driver, "deletionPolicy": "Delete"}


def sqlite_copy_hook() -> dict[str, str]:
    """The hub pod's pre-backup hook: an online copy of the SQLite database through SQLite's backup
    API, beside it on the same volume, so that a backup always holds a consistent database."""
    code = ("import sqlite3; s = sqlite3.connect('/srv/jupyterhub/jupyterhub.sqlite'); "
            "d = sqlite3.connect('/srv/jupyterhub/jupyterhub.sqlite.backup'); s.backup(d); d.close(); s.close()")
    return {"pre.hook.backup.velero.io/container": "hub",
            "pre.hook.backup.velero.io/command": json.dumps(["python3", "-c", code]),
            "pre.hook.backup.velero.io/timeout": "5m"}
