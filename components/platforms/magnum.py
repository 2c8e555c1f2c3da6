"""OpenStack Magnum (its Cluster API driver): a cluster template, the cluster, and core and user node groups."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as kubernetes
import pulumi_openstack as openstack
from pulumi_command import local

from components.cluster import Cluster, Placement, VolumeBackup
from components.secrets import StackSecrets
from components.settings import Magnum, Settings
from components.storage import StorageClasses, StorageClassesArgs

# Magnum (its Cluster API driver) does not pass node-group labels on to the nodes, but
# labels each node with the name of its group.
NODE_GROUP_LABEL = "capi.stackhpc.com/node-group"
CINDER_DRIVER = "cinder.csi.openstack.org"  # Cinder volumes: the user volumes, and their snapshots


@dataclass(frozen=True)
class MagnumClusterArgs:
    magnum: Magnum
    application_credential_secret: pulumi.Output[str]

    @classmethod
    def of(cls, settings: Settings, secrets: StackSecrets) -> MagnumClusterArgs:
        return cls(settings.magnum, secrets["openstack_application_credential_secret"])


class MagnumCluster(Cluster):
    TYPE = "persistent-binderhub:platform:MagnumCluster"

    def __init__(self, name: str, args: MagnumClusterArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(name, opts)
        magnum = args.magnum
        cloud = openstack.Provider(
            f"{name}-openstack", auth_url=magnum.auth_url, region=magnum.region,
            application_credential_id=magnum.application_credential_id,
            application_credential_secret=args.application_credential_secret, opts=self.child())
        keypair = openstack.compute.Keypair(f"{name}-keypair", public_key=magnum.keypair_public_key,
                                            opts=self.child(provider=cloud))
        template = self._template(name, magnum, cloud)
        cluster = openstack.containerinfra.Cluster(
            name,
            cluster_template_id=template.id,
            master_count=magnum.master_count,
            node_count=1,  # Magnum's default worker group; the node groups below do the work
            keypair=keypair.name,
            # A new template would replace the cluster: Magnum's upgrade action moves it instead.
            opts=self.child(provider=cloud, protect=True, ignore_changes=["clusterTemplateId"],
                            additional_secret_outputs=["kubeconfig"]))
        environment = _credentials(magnum, args.application_credential_secret)
        previous: pulumi.Resource = local.Command(
            f"{name}-upgrade", create=pulumi.Output.concat(_ACTIONS, " upgrade ", cluster.id, " ", template.id),
            environment=environment, opts=self.child(cluster))
        # Magnum fails on parallel node-group changes: each group waits for the one before.
        groups = []
        for purpose, group in (("core", magnum.node_groups.core), ("user", magnum.node_groups.user)):
            grown = local.Command(
                f"{name}-{purpose}-grow",
                create=pulumi.Output.concat(_ACTIONS, " grow ", cluster.id, f" {purpose} {group.min_nodes}"),
                environment=environment, opts=self.child(previous))
            previous = openstack.containerinfra.NodeGroup(
                f"{name}-{purpose}", name=purpose, cluster_id=cluster.id, flavor_id=group.flavor,
                node_count=group.min_nodes, min_node_count=group.min_nodes, max_node_count=group.max_nodes,
                # Another flavor is a new group under the same name: the old one goes first.
                opts=self.child(grown, provider=cloud, delete_before_replace=True,
                                ignore_changes=["nodeCount"]))  # the autoscaler's
            groups.append(previous)
        address = openstack.networking.FloatingIp(
            f"{name}-ingress", pool=magnum.external_network, description="The ingress of the persistent BinderHub",
            opts=self.child(provider=cloud, protect=True))
        kubeconfig = pulumi.Output.secret(cluster.kubeconfig.apply(lambda config: config["raw_config"]))
        provider = kubernetes.Provider(f"{name}-kubernetes", kubeconfig=kubeconfig, opts=self.child(*groups))
        # Cinder's zone, which may be named otherwise than Nova's.
        StorageClasses("storage", StorageClassesArgs(CINDER_DRIVER,
                                                     {"availability": magnum.volume_availability_zone}),
                       self.child(provider=provider))
        self.hand_over(
            provider=provider, kubeconfig=kubeconfig, kubernetes_version=self._image_version(magnum, cloud),
            core=Placement({NODE_GROUP_LABEL: "core"}), user=Placement({NODE_GROUP_LABEL: "user"}),
            ingress_address=address.address, volume_backup=VolumeBackup(snapshot_driver=CINDER_DRIVER),
            depends_on=groups)

    def _template(self, name: str, magnum: Magnum, cloud) -> openstack.containerinfra.ClusterTemplate:
        """A template of its own for each version of the settings: Magnum refuses to change a
        template in use, so a change makes a new one (and the upgrade action moves the cluster)."""
        inputs = {
            "coe": "kubernetes",
            "image": magnum.image,
            "flavor": magnum.node_groups.core.flavor,
            "master_flavor": magnum.master_flavor,
            "network_driver": magnum.network_driver,
            "external_network_id": magnum.external_network,
            "floating_ip_enabled": False,
            # The API server is reached (by Pulumi, by operators) through its load balancer's
            # floating IP; the nodes themselves stay private.
            "master_lb_enabled": True,
            "labels": {"auto_scaling_enabled": "true", "master_lb_floating_ip_enabled": "true", **magnum.labels},
        }
        digest = hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()[:8]
        return openstack.containerinfra.ClusterTemplate(
            f"{name}-template", name=f"persistent-binderhub-{digest}", **inputs,
            opts=self.child(provider=cloud, replace_on_changes=["*"]))

    def _image_version(self, magnum: Magnum, cloud) -> pulumi.Output[str]:
        """The minor Kubernetes version the nodes run: the Cluster API driver takes it from the
        image's `kube_version` property (such as v1.31.4)."""
        image = openstack.images.get_image_output(name=magnum.image, most_recent=True,
                                                  opts=pulumi.InvokeOutputOptions(provider=cloud, parent=self))
        return image.properties.apply(
            lambda properties: ".".join((properties or {}).get("kube_version", "").lstrip("v").split(".")[:2]))


# Magnum's upgrade and resize actions, which the provider lacks (stdlib only: any python3 runs
# it, from the project root where Pulumi runs the program).
_ACTIONS = "python3 components/platforms/magnum_actions.py"


def _credentials(magnum: Magnum, secret: pulumi.Output[str]) -> dict[str, pulumi.Input[str]]:
    return {"OS_AUTH_URL": magnum.auth_url, "OS_REGION_NAME": magnum.region,
            "OS_APPLICATION_CREDENTIAL_ID": magnum.application_credential_id,
            "OS_APPLICATION_CREDENTIAL_SECRET": pulumi.Output.secret(secret)}


def build(settings: Settings, secrets: StackSecrets) -> Cluster:
    return MagnumCluster("cluster", MagnumClusterArgs.of(settings, secrets))
