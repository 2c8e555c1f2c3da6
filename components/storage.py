"""The storage classes of user volumes and the hub database: data outlives its claims."""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
import pulumi_kubernetes as kubernetes

from components.cluster import HUB_DB_CLASS, USER_HOMES_CLASS
from components.component import Component


@dataclass(frozen=True)
class StorageClassesArgs:
    provisioner: str  # the cluster's CSI driver or volume provisioner
    parameters: dict[str, str] = field(default_factory=dict)  # the provisioner's own
    # Where the provisioner supports it, a volume is made only once its pod is scheduled, in that pod's zone.
    wait_for_first_consumer: bool = True
    allow_expansion: bool = True  # only where the provisioner can grow a volume


class StorageClasses(Component):
    """`user-homes` and `hub-db`: reclaimPolicy Retain, so deleting a claim never deletes the
    data, and expandable where the provisioner can, so a volume can grow in place."""

    TYPE = "persistent-binderhub:storage:StorageClasses"

    def __init__(self, name: str, args: StorageClassesArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(name, opts)
        for class_name in (USER_HOMES_CLASS, HUB_DB_CLASS):
            kubernetes.storage.v1.StorageClass(
                class_name,
                metadata={"name": class_name, "labels": {"app.kubernetes.io/part-of": "persistent-binderhub"}},
                provisioner=args.provisioner,
                parameters=args.parameters or None,
                reclaim_policy="Retain",
                allow_volume_expansion=args.allow_expansion,
                volume_binding_mode="WaitForFirstConsumer" if args.wait_for_first_consumer else "Immediate",
                opts=self.child(),
            )
        self.register_outputs({})
