"""kubeadm's configuration documents, every one of them made here.

The host scripts receive each document whole (base64, on stdin, as a secret where it holds the
token or the certificate key) and only check its kinds: what kubeadm is told lives in one place,
and so does the choice of kubeadm's configuration API.
"""

from __future__ import annotations

import base64
import ipaddress

import yaml

from components.cluster import NODE_PURPOSE, Placement
from components.settings import Kubeadm
from components.settings.platforms import ControlPlaneHost

CRI_SOCKET = "unix:///var/run/containerd/containerd.sock"
# Long enough for the joins that follow it; kubeadm's own default is 24h.
TOKEN_TTL = "2h"  # noqa: S105 (a lifetime, not a secret)
TOKEN_GROUPS = ["system:bootstrappers:kubeadm:default-node-token"]  # what `kubeadm token create` gives


def api_version(kubernetes_version: str) -> str:
    """kubeadm's configuration API for a Kubernetes version: v1beta4 from 1.31 on, v1beta3 before."""
    minor = int(kubernetes_version.split(".")[1])
    return "kubeadm.k8s.io/v1beta4" if minor >= 31 else "kubeadm.k8s.io/v1beta3"


def encoded(documents: str) -> str:
    """Documents as the scripts take them: base64 on one line."""
    return base64.b64encode(documents.encode()).decode()


def init_documents(kubeadm: Kubeadm, certificate_key: str) -> str:
    """InitConfiguration and ClusterConfiguration for the first control plane (init-control-plane.sh)."""
    api = api_version(kubeadm.kubernetes_version)
    endpoint_host = kubeadm.control_plane_endpoint.rsplit(":", 1)[0]
    first = kubeadm.control_planes[0]
    init = {"apiVersion": api, "kind": "InitConfiguration", "certificateKey": certificate_key,
            "nodeRegistration": {"name": first.name}}
    cluster = {
        **_cluster_configuration(kubeadm.kubernetes_version),
        "controlPlaneEndpoint": kubeadm.control_plane_endpoint,
        "networking": {"podSubnet": kubeadm.pod_subnet, "serviceSubnet": kubeadm.service_subnet},
        "apiServer": {"certSANs": sorted({endpoint_host, *(host.address for host in kubeadm.control_planes)})},
    }
    return yaml.safe_dump_all([init, cluster], sort_keys=False)


def token_documents(kubernetes_version: str, token: str) -> str:
    """The bootstrap token joins use, for `kubeadm token create --config` (join-token.sh)."""
    init = {"apiVersion": api_version(kubernetes_version), "kind": "InitConfiguration", "bootstrapTokens": [{
        "token": token, "ttl": TOKEN_TTL, "description": "persistent-binderhub node joins",
        "usages": ["signing", "authentication"], "groups": TOKEN_GROUPS}]}
    return yaml.safe_dump_all([init, _cluster_configuration(kubernetes_version)], sort_keys=False)


def upload_certs_documents(kubernetes_version: str, certificate_key: str) -> str:
    """The key the control-plane certificates are uploaded with, for control planes that join
    (`kubeadm init phase upload-certs --config`, join-token.sh)."""
    init = {"apiVersion": api_version(kubernetes_version), "kind": "InitConfiguration",
            "certificateKey": certificate_key}
    return yaml.safe_dump_all([init, _cluster_configuration(kubernetes_version)], sort_keys=False)


def join_document(kubeadm: Kubeadm, host: ControlPlaneHost, role: str, *, token: str, ca_hash: str,
                  certificate_key: str | None = None) -> str:
    """The JoinConfiguration of one host (join-node.sh): a worker labelled with its role, user and
    build nodes tainted as their pods tolerate, a control plane with the certificate key.

    A host reached by its IP address runs its kubelet (and a control plane its API server) on that
    address; one reached by name lets them choose."""
    api = api_version(kubeadm.kubernetes_version)
    node_ip = _ip_address(host.address)
    registration: dict = {"name": host.name, "criSocket": CRI_SOCKET}
    kubelet_args = {} if role == "control-plane" else {"node-labels": f"{NODE_PURPOSE}={role}"}
    if node_ip:
        kubelet_args["node-ip"] = node_ip
    # A list of name/value pairs in v1beta4, a map before.
    if kubelet_args:
        registration["kubeletExtraArgs"] = (
            [{"name": name, "value": value} for name, value in kubelet_args.items()]
            if api.endswith("/v1beta4") else kubelet_args)
    if role in ("user", "build"):  # build pods tolerate the user taint, as user pods do
        registration["taints"] = [{key: value for key, value in toleration.items() if key != "operator"}
                                  for toleration in Placement.dedicated(NODE_PURPOSE, role).tolerations]
    elif role == "core":
        registration["taints"] = []  # none (kubeadm would add none to a worker either; said outright)
    # a control plane keeps kubeadm's own control-plane taint
    join = {"apiVersion": api, "kind": "JoinConfiguration",
            "discovery": {"bootstrapToken": {"apiServerEndpoint": kubeadm.control_plane_endpoint, "token": token,
                                             "caCertHashes": [ca_hash]},
                          "tlsBootstrapToken": token},
            "nodeRegistration": registration}
    if role == "control-plane":
        join["controlPlane"] = {"certificateKey": certificate_key,
                                **({"localAPIEndpoint": {"advertiseAddress": node_ip}} if node_ip else {})}
    return yaml.safe_dump(join, sort_keys=False)


def _ip_address(address: str) -> str | None:
    try:
        return str(ipaddress.ip_address(address))
    except ValueError:
        return None


def _cluster_configuration(kubernetes_version: str) -> dict:
    # The version given, so that kubeadm never looks one up online.
    return {"apiVersion": api_version(kubernetes_version), "kind": "ClusterConfiguration",
            "kubernetesVersion": f"v{kubernetes_version}"}
