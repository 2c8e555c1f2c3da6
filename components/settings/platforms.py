"""The settings block of each platform: where the cluster comes from.

Free of provider imports: the platform's module (components/platforms/) imports its provider
only when the stack chooses it.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, model_validator

from components.settings.values import (
    Cidr,
    HttpsUrl,
    KubernetesVersion,
    MinorVersion,
    Model,
    Name,
    NonEmpty,
    SettingError,
    matching,
)

_GCP_PROJECT = re.compile(r"^[a-z][a-z0-9-]{4,28}[a-z0-9]$")
_GCP_REGION = re.compile(r"^[a-z]+-[a-z]+[0-9]+$")
# Machine families whose boot disks can be pd-balanced, the disk type of every pool (the newer
# families, such as n4, c4 and c3, take Hyperdisk only).
_PD_BALANCED_FAMILIES = ("e2", "n1", "n2", "n2d", "t2d", "t2a", "c2", "c2d", "m1", "m2", "m3", "a2", "g2")
_GCP_MACHINE_TYPE = re.compile(rf"^({'|'.join(_PD_BALANCED_FAMILIES)})-(standard|highmem|highcpu|highgpu|megamem|"
                               r"ultramem|micro|small|medium|custom)(-[0-9]+){0,2}(-ext)?$")
MachineType = Annotated[str, matching(
    _GCP_MACHINE_TYPE, f"a GCE machine type of a family that takes pd-balanced disks "
                       f"({', '.join(_PD_BALANCED_FAMILIES)}), such as e2-standard-4 or n2-custom-4-16384")]
MAX_NODES = 1000  # far beyond a BinderHub's needs: more is a typo (and a bill)
# A regional pool spreads over the region's zones, three of them by GKE's default.
REGIONAL_ZONES = 3


class ScalingGroup(Model):
    """A group of nodes the autoscaler keeps between min_nodes and max_nodes."""

    min_nodes: int
    max_nodes: int

    @model_validator(mode="after")
    def _bounds(self) -> ScalingGroup:
        if self.min_nodes > self.max_nodes:
            raise SettingError("minNodes", f"is {self.min_nodes}, above maxNodes {self.max_nodes}")
        return self


class NodePool(ScalingGroup):
    machine_type: MachineType = Field(description="a machine type such as e2-standard-4")
    disk_size_gb: int = Field(100, ge=20, le=65536)  # GCE's largest persistent disk is 64 TB
    min_nodes: int = Field(ge=0, le=MAX_NODES,
                           description="the smallest number of nodes (0 lets the pool scale to zero)")
    max_nodes: int = Field(ge=1, le=MAX_NODES, description="the largest number of nodes the autoscaler may add")
    spot: bool = False


class GkeNodePools(Model):
    core: NodePool = Field(description="the pool for the hub, proxy and BinderHub")
    user: NodePool = Field(description="the pool for user servers")
    build: NodePool | None = None


class GkeNetwork(Model):
    subnet_cidr: Cidr = "10.0.0.0/20"
    pods_cidr: Cidr = "10.8.0.0/14"
    services_cidr: Cidr = "10.4.0.0/19"


class AuthorizedNetwork(Model):
    cidr: Cidr = Field(description="a network that may reach the cluster's API, such as 198.51.100.0/24")
    name: NonEmpty = Field(description="what it is, such as 'office' or 'CI runners'")


class Gke(Model):
    project: Annotated[str, matching(_GCP_PROJECT, "a GCP project id such as my-binder-123")] = Field(
        description="the GCP project id")
    region: Annotated[str, matching(_GCP_REGION, "a GCP region such as europe-west1")] = Field(
        description="the GCP region, such as europe-west1")
    zone: str | None = None
    regional: bool = False
    release_channel: Literal["RAPID", "REGULAR", "STABLE"] = "REGULAR"
    # Unset (recommended): the release channel's default version, which it upgrades from. A channel
    # stops offering a version as it ages, and then refuses a cluster that asks for it.
    min_master_version: MinorVersion | None = None
    # Off only to tear the cluster down (`up` with it off, then `destroy`): on, a destroy or a
    # change that replaces the cluster fails rather than deleting (or doubling) it.
    deletion_protection: bool = True
    # Only these networks (and the cluster's own nodes) reach the API server's public endpoint.
    authorized_networks: list[AuthorizedNetwork] = Field(
        min_length=1, description="the networks Pulumi and operators reach the cluster's API from (CI's included)")
    # Change it (any new value, such as a date) and `up` to replace BinderHub's push key.
    push_key_rotation: NonEmpty = "initial"
    private_nodes: bool = False
    network: GkeNetwork = GkeNetwork()
    node_pools: GkeNodePools = Field(description="the core, user and (optional) build node pools")

    @model_validator(mode="after")
    def _location(self) -> Gke:
        if self.regional and self.zone:
            raise SettingError("zone", "must not be set for a regional cluster (regional: true)")
        if not self.regional and not self.zone:
            raise SettingError("zone", f"is required for a zonal cluster: a zone of {self.region}, "
                                       f"such as {self.region}-b (or set regional: true)")
        if self.zone and not re.match(rf"^{re.escape(self.region)}-[a-z]$", self.zone):
            raise SettingError("zone", f"{self.zone!r} is not a zone of region {self.region}")
        if self.regional:
            for purpose in ("core", "user", "build"):
                pool = getattr(self.node_pools, purpose)
                if pool and regional_nodes_per_zone(pool, purpose) * REGIONAL_ZONES > pool.max_nodes:
                    raise SettingError(
                        f"nodePools.{purpose}.maxNodes",
                        f"is {pool.max_nodes}, but a regional pool starts with "
                        f"{regional_nodes_per_zone(pool, purpose)} node(s) in each of {REGIONAL_ZONES} zones: "
                        f"set maxNodes to at least {regional_nodes_per_zone(pool, purpose) * REGIONAL_ZONES}")
        return self


def regional_nodes_per_zone(pool: NodePool, purpose: str) -> int:
    """The nodes a regional pool starts with in each zone: its minimum spread over the zones,
    and at least one for the core pool, which must run from the start."""
    return max(-(-pool.min_nodes // REGIONAL_ZONES), 1 if purpose == "core" else 0)


class MagnumNodeGroup(ScalingGroup):
    flavor: NonEmpty = Field(description="an OpenStack flavor such as m1.large")
    min_nodes: int = Field(1, ge=1, le=MAX_NODES)  # Magnum refuses node groups that scale to zero
    max_nodes: int = Field(ge=1, le=MAX_NODES, description="the largest number of nodes")


class MagnumNodeGroups(Model):
    core: MagnumNodeGroup = Field(description="the node group for the hub, proxy and BinderHub")
    user: MagnumNodeGroup = Field(description="the node group for user servers and builds")


class Magnum(Model):
    auth_url: HttpsUrl = Field(description="the Keystone URL, such as https://keystone.example.org:5000/v3")
    region: NonEmpty = Field(description="the OpenStack region")
    application_credential_id: NonEmpty = Field(description="the application credential id (its secret is in SOPS)")
    # The Kubernetes version is the image's: the Cluster API driver reads its kube_version property.
    image: NonEmpty = Field(description="the Glance image of the nodes for the Cluster API driver (with the "
                                        "properties os_distro and kube_version), such as ubuntu-jammy-kube-v1.31.4")
    external_network: NonEmpty = Field(description="the external network for floating IPs")
    keypair_public_key: NonEmpty = Field(description="the SSH public key installed on the nodes")
    master_flavor: NonEmpty = Field(description="the flavor of the control-plane nodes")
    master_count: Literal[1, 3] = 1
    network_driver: Literal["calico", "cilium"] = "calico"  # the CNIs the Cluster API driver installs
    # Cinder's availability zone for volumes (the driver's own storage classes use "nova").
    volume_availability_zone: NonEmpty = "nova"
    labels: dict[str, str] = {}
    node_groups: MagnumNodeGroups = Field(description="the core and user node groups")


class ControlPlaneHost(Model):
    name: Name = Field(description="the node name")
    address: NonEmpty = Field(description="the address SSH connects to")
    # The host's identity beyond its name and address: change it (any new value, such as the date)
    # when the host is reinstalled or replaced, and every step runs on it again (README).
    installation: NonEmpty = "1"


class WorkerHost(ControlPlaneHost):
    role: Literal["core", "user", "build"] = Field(description="what runs on it: core, user or build")


def _with_api_port(endpoint: str) -> str:
    """`host`, `host:port`, `[IPv6]` or `[IPv6]:port`, with the API server's port 6443 where none is given."""
    match = re.fullmatch(r"(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)(:([0-9]{1,5}))?", endpoint)
    if not match or (match.group(3) and not 1 <= int(match.group(3)) <= 65535):
        raise ValueError(f"{endpoint!r} is not valid: expected host[:port], such as k8s-api.example.org:6443")
    return endpoint if match.group(3) else f"{endpoint}:6443"


class Ssh(Model):
    # Every step runs with sudo, so no default (a root login needs no sudo, and is rarely allowed).
    user: NonEmpty = Field(description="the SSH user on every host, with password-less sudo")
    port: int = Field(22, ge=1, le=65535)


class Nfs(Model):
    server: NonEmpty = Field(description="the NFS server's address")
    path: Annotated[str, Field(pattern=r"^/")] = Field(description="the exported path, such as /srv/binder")


class Kubeadm(Model):
    kubernetes_version: KubernetesVersion = Field(description="the Kubernetes version, such as '1.31.4'")
    # host[:port]; without a port, the API server's 6443 (every join needs the port).
    control_plane_endpoint: Annotated[str, AfterValidator(_with_api_port)] = Field(
        description="host[:port] of the API server, shared by control planes, such as k8s-api.example.org:6443")
    control_planes: list[ControlPlaneHost] = Field(description="1 or 3 control-plane hosts")
    workers: list[WorkerHost] = Field(min_length=1, description="the worker hosts, each with a role")
    ssh: Ssh = Field(description="how to reach the hosts: a user with password-less sudo, and the port")
    pod_subnet: Cidr = "192.168.0.0/16"
    service_subnet: Cidr = "10.96.0.0/12"
    cni: Literal["calico", "cilium"] = "calico"
    metallb_addresses: list[NonEmpty] = Field(
        min_length=1, description="address ranges MetalLB may hand out, such as 192.0.2.10-192.0.2.20")
    nfs: Nfs = Field(description="the NFS export holding user volumes")

    @model_validator(mode="after")
    def _hosts(self) -> Kubeadm:
        if len(self.control_planes) not in (1, 3):
            raise SettingError("controlPlanes", f"lists {len(self.control_planes)} hosts: expected 1 or 3")
        hosts = [*self.control_planes, *self.workers]
        for field, plural in (("name", "names"), ("address", "addresses")):
            values = [getattr(host, field) for host in hosts]
            duplicates = sorted({value for value in values if values.count(value) > 1})
            if duplicates:
                raise SettingError("workers", f"host {plural} must be unique: {', '.join(duplicates)} "
                                              f"appear more than once")
        if not any(worker.role == "core" for worker in self.workers):
            raise SettingError("workers", "needs at least one worker with role 'core'")
        return self


class Existing(Model):
    kubeconfig: NonEmpty | None = None  # None: $KUBECONFIG or ~/.kube/config, as kubectl finds it
    context: NonEmpty | None = None  # None: the kubeconfig's current context
    kubernetes_version: MinorVersion = "1.31"
    # The cluster's own volume provisioner, for the user-homes and hub-db classes:
    # rancher.io/local-path on kind and k3d, k8s.io/minikube-hostpath on minikube.
    storage_provisioner: NonEmpty = "rancher.io/local-path"
    storage_parameters: dict[str, str] = {}
    # Or a storage class the cluster has already, used as it is: its reclaimPolicy is then
    # the operator's to check (Retain keeps user data when a claim goes).
    storage_class: NonEmpty | None = None
    # For backups, how they reach idle volumes: the CSI driver of the volumes, when it takes
    # snapshots (with the cluster's snapshot controller and CRDs installed).
    snapshot_driver: NonEmpty | None = None
