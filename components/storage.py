"""The storage classes of user volumes and the hub database: data outlives its claims."""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as kubernetes

from components.cluster import HUB_DB_CLASS, USER_HOMES_CLASS


class StorageClasses(pulumi.ComponentResource):
    """`user-homes` and `hub-db`: reclaimPolicy Retain, so deleting a claim never deletes the
    data, and expandable, so a volume can grow in place."""

    def __init__(self, name: str, *, provisioner: str, parameters: dict[str, str] | None = None,
                 wait_for_first_consumer: bool, opts: pulumi.ResourceOptions):
        super().__init__("persistent-binderhub:storage:StorageClasses", name, None, opts)
        for class_name in (USER_HOMES_CLASS, HUB_DB_CLASS):
            kubernetes.storage.v1.StorageClass(
                class_name,
                metadata={"name": class_name, "labels": {"app.kubernetes.io/part-of": "persistent-binderhub"}},
                provisioner=provisioner,
                parameters=parameters or None,
                reclaim_policy="Retain",
                allow_volume_expansion=True,
                # Where the provisioner supports it, create a volume only once its pod is scheduled,
                # in that pod's zone.
                volume_binding_mode="WaitForFirstConsumer" if wait_for_first_consumer else "Immediate",
                opts=pulumi.ResourceOptions(parent=self),
            )
        self.register_outputs({})
