"""Google Kubernetes Engine: network, cluster, node pools, Artifact Registry and a static IP."""

from __future__ import annotations

import base64
import math
from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp
import pulumi_kubernetes as kubernetes

from components.cluster import (
    NODE_PURPOSE,
    VELERO_NAMESPACE,
    VELERO_SERVICE_ACCOUNT,
    BackupTarget,
    Cluster,
    Placement,
    RegistryAccess,
    VolumeBackup,
)
from components.secrets import StackSecrets
from components.settings import ArtifactRegistry, Backups, Gke, NodePool, Settings
from components.settings.platforms import regional_nodes_per_zone
from components.storage import StorageClasses, StorageClassesArgs

# The least a node's service account needs, as GKE documents it (logs, metrics, its own reporting).
_NODE_ROLES = ("roles/container.defaultNodeServiceAccount",)
_NODE_SCOPES = ["https://www.googleapis.com/auth/cloud-platform"]  # access is by IAM role, not scope
_MASTER_CIDR = "172.16.0.0/28"  # the control plane's range when nodes are private
_GKE_EFFECTS = {"NoSchedule": "NO_SCHEDULE"}  # GKE spells taint effects in upper snake case
# GKE node pools refuse `/` in taint keys; z2jh and BinderHub tolerate this spelling too.
GKE_DEDICATED = "hub.jupyter.org_dedicated"
PD_DRIVER = "pd.csi.storage.gke.io"  # Compute Engine persistent disks: the user volumes, and their snapshots


@dataclass(frozen=True)
class GkeClusterArgs:
    gke: Gke
    artifact_registry: ArtifactRegistry | None  # made only when the stack chose it as its registry
    backups: Backups | None = None  # a bucket is made only when backups go to GCS

    @classmethod
    def of(cls, settings: Settings, secrets: StackSecrets) -> GkeClusterArgs:
        gcs = settings.backups if settings.backups and settings.backups.store.type == "gcs" else None
        return cls(settings.gke, settings.registry.artifact_registry, gcs)


class GkeCluster(Cluster):
    TYPE = "persistent-binderhub:platform:GkeCluster"

    def __init__(self, name: str, args: GkeClusterArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(name, opts)
        gke = args.gke
        self._gke = gke
        self._gcp = gcp.Provider(f"{name}-gcp", project=gke.project, region=gke.region, opts=self.child())
        network, subnet = self._network(name)
        nodes_account = self._nodes_account(name)
        cluster = self._cluster(name, network, subnet, nodes_account)
        pools = [self._node_pool(name, cluster, purpose, pool, nodes_account)
                 for purpose, pool in (("core", gke.node_pools.core), ("user", gke.node_pools.user),
                                       ("build", gke.node_pools.build)) if pool]
        registry = (self._artifact_registry(name, args.artifact_registry, nodes_account)
                    if args.artifact_registry else None)
        address = gcp.compute.Address(
            f"{name}-ingress", region=gke.region, address_type="EXTERNAL",
            description="The ingress of the persistent BinderHub", opts=self.child(provider=self._gcp, protect=True))
        kubeconfig = pulumi.Output.secret(pulumi.Output.all(cluster.name, cluster.endpoint, cluster.master_auth)
                                          .apply(lambda args: _kubeconfig(*args)))
        provider = kubernetes.Provider(f"{name}-kubernetes", kubeconfig=kubeconfig, opts=self.child(*pools))
        StorageClasses("storage", StorageClassesArgs(PD_DRIVER, {"type": "pd-balanced"}),
                       self.child(provider=provider))
        user = Placement.dedicated(NODE_PURPOSE, "user", GKE_DEDICATED)
        self.hand_over(
            provider=provider, kubeconfig=kubeconfig,
            # What the release channel actually runs (objects are validated for it).
            kubernetes_version=cluster.master_version.apply(lambda version: ".".join(version.split(".")[:2])),
            core=Placement({"cloud.google.com/gke-nodepool": "core"}), user=user,
            build=Placement.dedicated(NODE_PURPOSE, "build", GKE_DEDICATED) if gke.node_pools.build else user,
            ingress_address=address.address, platform_registry=registry,
            backup_target=self._backup_bucket(name, args.backups) if args.backups else None,
            volume_backup=VolumeBackup(snapshot_driver=PD_DRIVER), depends_on=pools)

    def _network(self, name: str) -> tuple[gcp.compute.Network, gcp.compute.Subnetwork]:
        gke = self._gke
        network = gcp.compute.Network(f"{name}-network", auto_create_subnetworks=False,
                                      opts=self.child(provider=self._gcp))
        subnet = gcp.compute.Subnetwork(
            f"{name}-subnet", network=network.id, region=gke.region, ip_cidr_range=gke.network.subnet_cidr,
            private_ip_google_access=True,
            secondary_ip_ranges=[{"range_name": "pods", "ip_cidr_range": gke.network.pods_cidr},
                                 {"range_name": "services", "ip_cidr_range": gke.network.services_cidr}],
            opts=self.child(provider=self._gcp))
        if gke.private_nodes:
            # Private nodes reach the internet (image builds, package mirrors) through Cloud NAT.
            router = gcp.compute.Router(f"{name}-router", network=network.id, region=gke.region,
                                        opts=self.child(provider=self._gcp))
            # Ports per node grow with demand: every pod of a node (builds pulling images and
            # packages, above all) shares its node's, and 64 static ports run out.
            gcp.compute.RouterNat(f"{name}-nat", router=router.name, region=gke.region,
                                  nat_ip_allocate_option="AUTO_ONLY",
                                  source_subnetwork_ip_ranges_to_nat="ALL_SUBNETWORKS_ALL_IP_RANGES",
                                  enable_dynamic_port_allocation=True, enable_endpoint_independent_mapping=False,
                                  min_ports_per_vm=256, max_ports_per_vm=65536,
                                  opts=self.child(provider=self._gcp))
        return network, subnet

    def _nodes_account(self, name: str) -> gcp.serviceaccount.Account:
        account = gcp.serviceaccount.Account(f"{name}-nodes", account_id="binderhub-nodes",
                                             display_name="Nodes of the persistent BinderHub",
                                             opts=self.child(provider=self._gcp))
        for role in _NODE_ROLES:
            gcp.projects.IAMMember(f"{name}-nodes-{role.split('/')[1]}", project=self._gke.project, role=role,
                                   member=account.member, opts=self.child(provider=self._gcp))
        return account

    def _cluster(self, name: str, network, subnet, nodes_account) -> gcp.container.Cluster:
        gke = self._gke
        return gcp.container.Cluster(
            name,
            location=gke.region if gke.regional else gke.zone,
            network=network.id,
            subnetwork=subnet.id,
            # Node pools are managed on their own; GKE insists on a first one, removed at once
            # (it runs as the nodes' account meanwhile, not as Compute Engine's default).
            remove_default_node_pool=True,
            initial_node_count=1,
            node_config={"service_account": nodes_account.email, "oauth_scopes": _NODE_SCOPES},
            min_master_version=gke.min_master_version,
            release_channel={"channel": gke.release_channel},
            # Dataplane V2 enforces the charts' NetworkPolicies; it cannot be turned on later
            # without replacing the cluster.
            datapath_provider="ADVANCED_DATAPATH",
            master_authorized_networks_config={
                "cidr_blocks": [{"cidr_block": network.cidr, "display_name": network.name}
                                for network in gke.authorized_networks],
                "gcp_public_cidrs_access_enabled": False},
            ip_allocation_policy={"cluster_secondary_range_name": "pods", "services_secondary_range_name": "services"},
            workload_identity_config={"workload_pool": f"{gke.project}.svc.id.goog"},
            private_cluster_config=({"enable_private_nodes": True, "enable_private_endpoint": False,
                                     "master_ipv4_cidr_block": _MASTER_CIDR} if gke.private_nodes else None),
            addons_config={"gce_persistent_disk_csi_driver_config": {"enabled": True}},
            deletion_protection=gke.deletion_protection,
            opts=self.child(provider=self._gcp),
        )

    def _node_pool(self, name: str, cluster, purpose: str, pool: NodePool, account) -> gcp.container.NodePool:
        labels = {NODE_PURPOSE: purpose}
        # Only user servers and builds run on user and build nodes: the taint both tolerate.
        taints = [] if purpose == "core" else [
            {"key": taint["key"], "value": taint["value"], "effect": _GKE_EFFECTS[taint["effect"]]}
            for taint in Placement.dedicated(NODE_PURPOSE, purpose, GKE_DEDICATED).tolerations]
        return gcp.container.NodePool(
            f"{name}-{purpose}",
            name=purpose,
            cluster=cluster.name,
            location=cluster.location,
            # A regional pool starts with this many nodes in each zone; its bounds are totals.
            initial_node_count=(regional_nodes_per_zone(pool, purpose) if self._gke.regional
                                else max(pool.min_nodes, 1) if purpose == "core" else pool.min_nodes),
            autoscaling=({"total_min_node_count": pool.min_nodes, "total_max_node_count": pool.max_nodes}
                         if self._gke.regional else
                         {"min_node_count": pool.min_nodes, "max_node_count": pool.max_nodes}),
            management={"auto_repair": True, "auto_upgrade": True},
            node_config={
                "machine_type": pool.machine_type,
                "disk_size_gb": pool.disk_size_gb,
                "disk_type": "pd-balanced",
                "spot": pool.spot,
                "labels": labels,
                "taints": taints,
                "service_account": account.email,
                "oauth_scopes": _NODE_SCOPES,
                "workload_metadata_config": {"mode": "GKE_METADATA"},
            },
            # The autoscaler changes the node count; a preview must not undo it.
            opts=self.child(provider=self._gcp, ignore_changes=["initialNodeCount"]),
        )

    def _artifact_registry(self, name: str, settings: ArtifactRegistry, nodes_account) -> RegistryAccess:
        gke = self._gke
        repository = gcp.artifactregistry.Repository(
            f"{name}-images", location=gke.region, repository_id=settings.repository, format="DOCKER",
            description="Images built by BinderHub",
            cleanup_policies=[{"id": "delete-untagged", "action": "DELETE",
                               "condition": {"tag_state": "UNTAGGED",
                                             "older_than": f"{settings.untagged_retention_days * 86400}s"}}],
            opts=self.child(provider=self._gcp, protect=True))
        pusher = gcp.serviceaccount.Account(f"{name}-binderhub-push", account_id="binderhub-push",
                                            display_name="BinderHub pushing built images",
                                            opts=self.child(provider=self._gcp))
        for member, role in ((pusher.member, "roles/artifactregistry.writer"),
                             (nodes_account.member, "roles/artifactregistry.reader")):
            gcp.artifactregistry.RepositoryIamMember(
                f"{name}-images-{role.rsplit('.', 1)[1]}", repository=repository.name, location=gke.region,
                role=role, member=member, opts=self.child(provider=self._gcp))
        # A new `pushKeyRotation` replaces the key (the provider marks privateKey secret).
        key = gcp.serviceaccount.Key(f"{name}-binderhub-push-key", service_account_id=pusher.name,
                                     keepers={"rotation": gke.push_key_rotation},
                                     opts=self.child(provider=self._gcp))
        host = f"{gke.region}-docker.pkg.dev"
        return RegistryAccess(
            url=f"https://{host}",
            image_prefix=f"{host}/{gke.project}/{settings.repository}/binder-",
            # Artifact Registry takes a service account key as the password of `_json_key`.
            username="_json_key",
            password=pulumi.Output.secret(key.private_key.apply(lambda encoded: base64.b64decode(encoded).decode())),
        )


    def _backup_bucket(self, name: str, backups: Backups) -> BackupTarget:
        """A bucket only Velero may write (its own service account, by Workload Identity: no key),
        versioned, and emptied of what the longest retention no longer keeps."""
        gke = self._gke
        kept_days = math.ceil(max(int(s.retention[:-1]) for s in (backups.volumes, backups.hub_database)) / 24) + 1
        bucket = gcp.storage.Bucket(
            f"{name}-backups", name=backups.store.gcs.bucket, location=backups.store.gcs.location or gke.region,
            storage_class="STANDARD",
            uniform_bucket_level_access=True, public_access_prevention="enforced", versioning={"enabled": True},
            lifecycle_rules=[{"action": {"type": "Delete"}, "condition": {"age": kept_days}},
                             {"action": {"type": "Delete"}, "condition": {"days_since_noncurrent_time": 7}}],
            opts=self.child(provider=self._gcp, protect=True))
        account = gcp.serviceaccount.Account(f"{name}-velero", account_id="velero", display_name="Velero backups",
                                             opts=self.child(provider=self._gcp))
        gcp.storage.BucketIAMMember(f"{name}-backups-velero", bucket=bucket.name, role="roles/storage.objectAdmin",
                                    member=account.member, opts=self.child(provider=self._gcp))
        # Velero signs download URLs (velero backup logs, describe --details) as itself.
        for role, member in (("roles/iam.workloadIdentityUser",
                              f"serviceAccount:{gke.project}.svc.id.goog[{VELERO_NAMESPACE}/{VELERO_SERVICE_ACCOUNT}]"),
                             ("roles/iam.serviceAccountTokenCreator", account.member)):
            gcp.serviceaccount.IAMMember(f"{name}-velero-{role.rsplit('.', 1)[1]}", service_account_id=account.name,
                                         role=role, member=member, opts=self.child(provider=self._gcp))
        return BackupTarget("gcp", bucket.name, {"serviceAccount": account.email},
                            service_account_annotations={"iam.gke.io/gcp-service-account": account.email})


def _kubeconfig(name: str, endpoint: str, master_auth: dict) -> str:
    """A kubeconfig that authenticates with gcloud's plugin: no long-lived credential in it."""
    ca = master_auth["cluster_ca_certificate"]
    return f"""apiVersion: v1
kind: Config
clusters:
- name: {name}
  cluster:
    server: https://{endpoint}
    certificate-authority-data: {ca}
contexts:
- name: {name}
  context: {{cluster: {name}, user: {name}}}
current-context: {name}
users:
- name: {name}
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1beta1
      command: gke-gcloud-auth-plugin
      args: [--use_application_default_credentials]
      installHint: Install gke-gcloud-auth-plugin (gcloud components install gke-gcloud-auth-plugin)
      provideClusterInfo: true
"""


def build(settings: Settings, secrets: StackSecrets) -> Cluster:
    return GkeCluster("cluster", GkeClusterArgs.of(settings, secrets))
