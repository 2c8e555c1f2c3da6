"""OpenStack Magnum: a cluster template, the cluster, and core and user node groups."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as kubernetes
import pulumi_openstack as openstack

from components.cluster import Cluster, Placement
from components.secrets import StackSecrets
from components.settings import Magnum, Settings
from components.storage import StorageClasses, StorageClassesArgs

# Magnum (its Cluster API driver) does not pass node-group labels on to the nodes, but
# labels each node with the name of its group.
NODE_GROUP_LABEL = "capi.stackhpc.com/node-group"


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
        template = openstack.containerinfra.ClusterTemplate(
            f"{name}-template",
            coe="kubernetes",
            image=magnum.image,
            flavor=magnum.node_groups.core.flavor,
            master_flavor=magnum.master_flavor,
            network_driver=magnum.network_driver,
            external_network_id=magnum.external_network,
            floating_ip_enabled=False,
            # The API server is reached (by Pulumi, by operators) through its load balancer's
            # floating IP; the nodes themselves stay private.
            master_lb_enabled=True,
            labels={"kube_tag": f"v{magnum.kubernetes_version}", "cinder_csi_enabled": "true",
                    "auto_scaling_enabled": "true", "master_lb_floating_ip_enabled": "true", **magnum.labels},
            opts=self.child(provider=cloud))
        cluster = openstack.containerinfra.Cluster(
            name,
            cluster_template_id=template.id,
            master_count=magnum.master_count,
            node_count=1,  # Magnum's default worker group; the node groups below do the work
            keypair=keypair.name,
            opts=self.child(provider=cloud, additional_secret_outputs=["kubeconfig"]))
        # Magnum fails on parallel node-group changes: each group waits for the one before.
        previous: pulumi.Resource = cluster
        groups = []
        for purpose, group in (("core", magnum.node_groups.core), ("user", magnum.node_groups.user)):
            previous = openstack.containerinfra.NodeGroup(
                f"{name}-{purpose}", name=purpose, cluster_id=cluster.id, flavor_id=group.flavor,
                node_count=group.min_nodes, min_node_count=group.min_nodes, max_node_count=group.max_nodes,
                opts=self.child(previous, provider=cloud, ignore_changes=["nodeCount"]))  # the autoscaler's
            groups.append(previous)
        address = openstack.networking.FloatingIp(
            f"{name}-ingress", pool=magnum.external_network, description="The ingress of the persistent BinderHub",
            opts=self.child(provider=cloud, protect=True))
        kubeconfig = pulumi.Output.secret(cluster.kubeconfig.apply(lambda config: config["raw_config"]))
        provider = kubernetes.Provider(f"{name}-kubernetes", kubeconfig=kubeconfig, opts=self.child(*groups))
        StorageClasses("storage", StorageClassesArgs("cinder.csi.openstack.org"), self.child(provider=provider))
        self.hand_over(
            provider=provider, kubeconfig=kubeconfig, kubernetes_version=magnum.kubernetes_version.rsplit(".", 1)[0],
            core=Placement({NODE_GROUP_LABEL: "core"}), user=Placement({NODE_GROUP_LABEL: "user"}),
            ingress_address=address.address, depends_on=groups)


def build(settings: Settings, secrets: StackSecrets) -> Cluster:
    return MagnumCluster("cluster", MagnumClusterArgs.of(settings, secrets))
