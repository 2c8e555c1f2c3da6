"""Backups, rehearsed offline: Velero's values against the chart's schema, the schedules and their
retention, the bucket's protection, every idle user volume covered on every platform, and restore
mode ordering the restore before the hub without creating any empty user claim."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from components.backups import EXPORT_POD, SNAPSHOT_CLASS
from components.errors import OperatorError
from components.sops import TEST_AGE_KEY_FILE, run_sops
from tests.program.chart_schemas import schema_errors
from tools.offline import CHART_TYPE, REPO, OfflineRun, run_program

BACKED_UP = ("example-gke", "example-magnum", "example-kubeadm")
STORAGE_CLASS = "kubernetes:storage.k8s.io/v1:StorageClass"


@pytest.fixture
def runs(example_runs) -> dict[str, OfflineRun]:
    return {stack: run for stack, (run, _) in example_runs.items()}


def _velero(run: OfflineRun) -> dict:
    return run.named(CHART_TYPE, "velero").inputs["values"]


def _project(tmp_path: Path, stack: str, extra: str) -> Path:
    for folder in ("stacks", "secrets"):
        shutil.copytree(REPO / folder, tmp_path / folder)
    stack_file = tmp_path / "stacks" / f"Pulumi.{stack}.yaml"
    stack_file.write_text(stack_file.read_text() + extra)
    return tmp_path


@pytest.mark.parametrize("stack", BACKED_UP)
def test_velero_values_pass_the_charts_schema(runs, stack):
    assert schema_errors("velero", _velero(runs[stack])) == []
    assert runs[stack].named(CHART_TYPE, "velero").inputs["version"] == "12.1.0"


def test_the_local_stack_backs_nothing_up_unless_asked(runs):
    assert not [r for r in runs["local"].of_type(CHART_TYPE) if r.name == "velero"]


@pytest.mark.parametrize("stack", BACKED_UP)
def test_user_volumes_daily_and_the_hub_database_more_often_each_kept(runs, stack):
    schedules = _velero(runs[stack])["schedules"]
    volumes, database = schedules["user-volumes"], schedules["hub-database"]
    assert (volumes["schedule"], volumes["template"]["ttl"]) == ("0 2 * * *", "720h")
    assert (database["schedule"], database["template"]["ttl"]) == ("0 */6 * * *", "168h")
    for schedule in (volumes, database):
        assert schedule["template"]["includedNamespaces"] == ["binderhub"]
        assert schedule["useOwnerReferencesInBackup"] is False  # a schedule's deletion keeps its backups
    assert "labelSelector" not in volumes["template"]  # every claim, idle ones included
    assert database["template"]["labelSelector"] == {"matchLabels": {"component": "hub"}}


@pytest.mark.parametrize("stack", ["example-gke", "example-magnum"])
def test_idle_volumes_are_snapshotted_and_the_data_moved_to_the_store(runs, stack):
    run = runs[stack]
    values = _velero(run)
    user_homes = run.named(STORAGE_CLASS, "user-homes").inputs["provisioner"]
    (snapshot_class,) = values["extraObjects"]
    assert snapshot_class["kind"] == "VolumeSnapshotClass"
    assert snapshot_class["driver"] == user_homes  # the driver of the user volumes themselves
    assert snapshot_class["metadata"] == {"name": SNAPSHOT_CLASS,
                                          "labels": {"velero.io/csi-volumesnapshot-class": "true"}}
    assert values["configuration"]["features"] == "EnableCSI"
    assert values["deployNodeAgent"] is True  # the data mover runs there
    for schedule in values["schedules"].values():
        assert schedule["template"]["snapshotMoveData"] is True  # off the cluster: a lost zone keeps them


def test_on_nfs_the_whole_export_is_backed_up_from_a_pod_that_mounts_it(runs):
    run = runs["example-kubeadm"]
    values = _velero(run)
    nfs = run.named(CHART_TYPE, "nfs-subdir-external-provisioner").inputs["values"]["nfs"]
    (export,) = [r for r in run.of_type("kubernetes:apps/v1:Deployment") if r.inputs["metadata"]["name"] == EXPORT_POD]
    assert export.inputs["metadata"]["namespace"] == "binderhub"  # inside what the schedules back up
    template = export.inputs["spec"]["template"]
    assert template["metadata"]["annotations"] == {"backup.velero.io/backup-volumes": "export"}
    assert template["spec"]["volumes"] == [{"name": "export", "nfs": {"server": nfs["server"], "path": nfs["path"],
                                                                       "readOnly": True}}]
    assert values["extraObjects"] == []
    assert values["configuration"]["defaultVolumesToFsBackup"] is True
    assert values["schedules"]["user-volumes"]["template"]["defaultVolumesToFsBackup"] is True


def test_gke_keeps_backups_in_a_protected_versioned_bucket_only_velero_writes(runs):
    run = runs["example-gke"]
    bucket = run.named("gcp:storage/bucket:Bucket", "cluster-backups")
    assert bucket.options["protect"] is True
    assert bucket.inputs["name"] == "example-binder-123-backups"
    assert bucket.inputs["location"] == "EU"  # not the cluster's region alone
    assert bucket.inputs["versioning"] == {"enabled": True}
    assert bucket.inputs["uniformBucketLevelAccess"] is True
    assert bucket.inputs["publicAccessPrevention"] == "enforced"
    assert {"action": {"type": "Delete"}, "condition": {"age": 31}} in bucket.inputs["lifecycleRules"]
    (member,) = run.of_type("gcp:storage/bucketIAMMember:BucketIAMMember")
    assert member.inputs["role"] == "roles/storage.objectAdmin"
    bindings = {r.inputs["role"]: r.inputs["member"] for r in run.of_type("gcp:serviceaccount/iAMMember:IAMMember")}
    assert bindings["roles/iam.workloadIdentityUser"] == \
        "serviceAccount:example-binder-123.svc.id.goog[velero/velero-server]"
    values = _velero(run)
    assert values["credentials"] == {"useSecret": False}  # Workload Identity: no key anywhere
    assert "iam.gke.io/gcp-service-account" in values["serviceAccount"]["server"]["annotations"]
    (location,) = values["configuration"]["backupStorageLocation"]
    assert location["provider"] == "gcp"
    assert values["initContainers"][0]["image"] == "docker.io/velero/velero-plugin-for-gcp:v1.14.4"


def test_s3_stores_take_their_keys_from_the_secrets_as_a_secret(runs):
    run = runs["example-magnum"]
    (location,) = _velero(run)["configuration"]["backupStorageLocation"]
    assert location["provider"] == "aws"
    assert location["config"] == {"region": "default", "s3Url": "https://object.cloud.example.org",
                                  "s3ForcePathStyle": "true"}
    assert location["credential"] == {"name": "velero-cloud", "key": "cloud"}
    secret = run.named("kubernetes:core/v1:Secret", "backups-credentials")
    assert secret.inputs["stringData"] == "[secret]"  # the whole of it, never the keys in the clear


def test_a_consistent_copy_of_the_sqlite_hub_database_before_each_backup(runs):
    hub = runs["example-gke"].named(CHART_TYPE, "jupyterhub").inputs["values"]["hub"]
    command = json.loads(hub["annotations"]["pre.hook.backup.velero.io/command"])
    assert command[:2] == ["python3", "-c"]
    assert "backup(" in command[2]
    assert "annotations" not in runs["example-kubeadm"].named(CHART_TYPE, "jupyterhub").inputs["values"]["hub"]


@pytest.mark.parametrize("stack", BACKED_UP)
def test_restore_mode_restores_the_user_claims_before_the_hub_and_makes_none(tmp_path, stack):
    restore_mode = "  persistent-binderhub:restore:\n    fromBackup: user-volumes-20261130\n"
    run = run_program(stack, _project(tmp_path, stack, restore_mode))
    (restore,) = run.of_type("kubernetes:velero.io/v1:Restore")
    assert restore.inputs["spec"]["backupName"] == "user-volumes-20261130"
    assert restore.inputs["spec"]["labelSelector"] == {"matchLabels": {"component": "singleuser-storage"}}
    assert restore.inputs["metadata"]["annotations"] == {"pulumi.com/waitFor": "jsonpath={.status.phase}=Completed"}
    assert run.named(CHART_TYPE, "velero").urn in restore.options["dependsOn"]
    assert restore.urn in run.named(CHART_TYPE, "jupyterhub").options["dependsOn"]
    assert not run.of_type("kubernetes:core/v1:PersistentVolumeClaim")  # users' claims come from the backup


@pytest.mark.parametrize(("extra", "message"), [
    ("  persistent-binderhub:restore:\n    fromBackup: nightly\n", "the stack has no backups block"),
    ("  persistent-binderhub:backups:\n    store: {type: gcs, gcs: {bucket: lab-backups}}\n",
     "'gcs' (a bucket the stack makes) needs platform 'gke'"),
    ("  persistent-binderhub:backups:\n    store: {type: s3, s3: {url: 'https://s3.example.org', bucket: b-1}}\n"
     "    volumes: {schedule: 'daily', retention: 720h}\n", "a cron schedule of five fields"),
])
def test_backup_settings_mistakes_are_named(tmp_path, extra, message):
    project = _project(tmp_path, "local", extra)
    with pytest.raises(OperatorError, match=re.escape(message)):
        run_program("local", project)


S3_BACKUPS = ("  persistent-binderhub:backups:\n"
              "    store: {type: s3, s3: {url: 'https://s3.example.org', bucket: b-1}}\n")


def test_an_existing_cluster_backs_up_only_what_it_can_reach_idle(tmp_path):
    with pytest.raises(OperatorError, match="would see only the volumes of running servers"):
        run_program("local", _project(tmp_path / "local-path", "local", S3_BACKUPS))
    project = _snapshotting_local(tmp_path / "csi")
    for key in ("backup_access_key_id", "backup_secret_access_key"):
        run_sops(["set", "secrets/local.sops.yaml", f'["{key}"]', '"a-key-for-this-test-only"'], cwd=project,
                 age_key_file=TEST_AGE_KEY_FILE)
    values = run_program("local", project).named(CHART_TYPE, "velero").inputs["values"]
    assert values["extraObjects"][0]["driver"] == "rbd.csi.ceph.com"
    assert values["schedules"]["user-volumes"]["template"]["snapshotMoveData"] is True


def test_s3_backups_need_their_keys_in_the_secrets(tmp_path):
    with pytest.raises(OperatorError, match="'backup_access_key_id' is missing"):
        run_program("local", _snapshotting_local(tmp_path))


def _snapshotting_local(tmp_path: Path) -> Path:
    """The local stack on a cluster whose CSI driver takes snapshots, backing up to S3."""
    project = _project(tmp_path, "local", S3_BACKUPS)
    stack_file = project / "stacks" / "Pulumi.local.yaml"
    stack_file.write_text(stack_file.read_text().replace(
        "    storageProvisioner: rancher.io/local-path\n",
        "    storageProvisioner: rbd.csi.ceph.com\n    snapshotDriver: rbd.csi.ceph.com\n"))
    return project
