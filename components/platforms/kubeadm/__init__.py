"""Bare metal with kubeadm, over SSH: the host steps are the scripts beside this file.

Each script is uploaded to every host and run as `sudo bash <dir>/<script>.sh` with its
parameters on stdin (KEY=VALUE lines; secrets such as the join token never on a command
line). The scripts are idempotent, so a changed input just runs a step again; a newer
Kubernetes version runs the upgrade path. See lib.sh for their common contract.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import ipaddress
import os
import tarfile
from dataclasses import dataclass
from pathlib import Path

import pulumi
import pulumi_kubernetes as kubernetes
import pulumi_random as random
from pulumi_command import remote

from components.charts import chart
from components.cluster import NODE_PURPOSE, Cluster, Placement, VolumeBackup
from components.generated_secrets import random_hex
from components.platforms.kubeadm.documents import (
    encoded,
    init_documents,
    join_document,
    token_documents,
    upload_certs_documents,
)
from components.secrets import StackSecrets
from components.settings import Charts, Kubeadm, Settings
from components.storage import StorageClasses, StorageClassesArgs

SCRIPTS = Path(__file__).parent
# Set by tools/pulumi.sh (`make up`, `make preview`) to the moment of the run: a step that must run
# on every deployment takes it as a trigger. Unset (renders, tests), the render stays the same.
DEPLOYMENT_ENV = "PBH_DEPLOYMENT"
REMOTE_DIR = "/opt/persistent-binderhub"
NFS_PROVISIONER = "cluster.local/nfs-subdir-external-provisioner"


def scripts_bundle() -> str:
    """The scripts as a base64 tar.gz, built byte for byte the same every time."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.USTAR_FORMAT) as bundle:
        for path in sorted(SCRIPTS.glob("*.sh")):
            info = tarfile.TarInfo(path.name)
            data = path.read_bytes()
            info.size, info.mode, info.mtime = len(data), 0o644, 0
            bundle.addfile(info, io.BytesIO(data))
    return base64.b64encode(gzip.compress(buffer.getvalue(), mtime=0)).decode()


def _stdin(**params: pulumi.Input[str]) -> pulumi.Output[str]:
    return pulumi.Output.all(*params.values()).apply(
        lambda values: "".join(f"{key}={value}\n" for key, value in zip(params, values, strict=True)))


@dataclass(frozen=True)
class KubeadmClusterArgs:
    kubeadm: Kubeadm
    ssh_private_key: pulumi.Output[str]
    charts: Charts  # the network, load balancer and NFS add-ons

    @classmethod
    def of(cls, settings: Settings, secrets: StackSecrets) -> KubeadmClusterArgs:
        return cls(settings.kubeadm, secrets["ssh_private_key"], settings.charts)


class KubeadmCluster(Cluster):
    TYPE = "persistent-binderhub:platform:KubeadmCluster"

    def __init__(self, name: str, args: KubeadmClusterArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(name, opts)
        kubeadm = args.kubeadm
        self._kubeadm, self._key, self._charts = kubeadm, args.ssh_private_key, args.charts
        version = kubeadm.kubernetes_version
        first, *other_control_planes = kubeadm.control_planes
        hosts = [*kubeadm.control_planes, *kubeadm.workers]
        prepared = {host.name: self._prepare(host) for host in hosts}

        certificate_key = random_hex(f"{name}-certificate-key", self.child())
        init_stdin = pulumi.Output.secret(_stdin(
            KUBEADM_CONFIG_B64=certificate_key.apply(lambda key: encoded(init_documents(kubeadm, key))),
            KUBERNETES_VERSION=version))
        init, turn = self._in_turn(first, [prepared[first.name]],
                                   lambda after: self._run(first, "init-control-plane", after, stdin=init_stdin))
        token = self._bootstrap_token(name)
        # Runs again whenever a node is added or changed, so its join finds a fresh token (the
        # token lives 2 h: to retry a failed join later, `pulumi up --replace` this command).
        join_token = self._run(first, "join-token", [init], stdin=pulumi.Output.secret(_stdin(
            TOKEN=token,
            TOKEN_CONFIG_B64=token.apply(lambda value: encoded(token_documents(version, value))),
            CERTS_CONFIG_B64=certificate_key.apply(lambda key: encoded(upload_certs_documents(version, key))))),
            triggers=sorted(f"{host.name}={host.address}/{getattr(host, 'role', 'control-plane')}/{host.installation}"
                            for host in hosts))
        ca_hash = join_token.stdout.apply(str.strip)

        # One host after another (control planes first), so that an upgrade never takes two at once.
        previous: list[pulumi.Resource] = [join_token, turn]
        for host in [*other_control_planes, *kubeadm.workers]:
            role = getattr(host, "role", "control-plane")
            key = certificate_key if role == "control-plane" else None

            def join(after, host=host, role=role, key=key):
                return self._join(host, role, token, ca_hash, after, certificate_key=key)

            _, turn = self._in_turn(host, [*previous, prepared[host.name]], join)
            previous = [turn]

        # Fetched again on every deployment and upgrade: its certificate is valid for a year.
        admin = self._run(first, "admin-kubeconfig", [init], secret_stdout=True,
                          triggers=[version, os.environ.get(DEPLOYMENT_ENV, "")])
        kubeconfig = pulumi.Output.secret(admin.stdout)
        provider = kubernetes.Provider(f"{name}-kubernetes", kubeconfig=kubeconfig, opts=self.child(*previous))
        cni = self._cni(provider)
        self._load_balancer(provider, cni)
        self._nfs(provider, cni)
        has_build = any(worker.role == "build" for worker in kubeadm.workers)
        self.hand_over(
            provider=provider, kubeconfig=kubeconfig, kubernetes_version=version.rsplit(".", 1)[0],
            core=Placement({NODE_PURPOSE: "core"}), user=Placement.dedicated(NODE_PURPOSE, "user"),
            build=Placement.dedicated(NODE_PURPOSE, "build") if has_build else None,
            ingress_address=_first_address(kubeadm.metallb_addresses[0]),
            # Every volume is a folder of the one NFS export: backing up the export covers idle ones.
            volume_backup=VolumeBackup(nfs_export=(kubeadm.nfs.server, kubeadm.nfs.path)), depends_on=[cni])

    # --- host steps -------------------------------------------------------

    def _connection(self, host) -> remote.ConnectionArgs:
        ssh = self._kubeadm.ssh
        return remote.ConnectionArgs(host=host.address, port=ssh.port, user=ssh.user, private_key=self._key)

    def _run(self, host, script: str, depends_on: list, *, stdin: pulumi.Input[str] | None = None,
             secret_stdout: bool = False, name: str | None = None, **options) -> remote.Command:
        """Run `script` on `host` (as the command `<host>-<script>`, or `name`)."""
        return remote.Command(
            name or f"{host.name}-{script}",
            connection=self._connection(host),
            create=f"sudo bash {REMOTE_DIR}/{script}.sh",
            stdin=stdin,
            # A secret result is not streamed into Pulumi's log either.
            logging=remote.Logging.STDERR if secret_stdout else None,
            # A reinstalled host (a new `installation`) runs every step again.
            triggers=[*options.pop("triggers", []), f"installation={host.installation}"],
            opts=self.child(*depends_on, additional_secret_outputs=["stdout"] if secret_stdout else None),
            **options)

    def _in_turn(self, host, after: list, step) -> tuple[remote.Command, remote.Command]:
        """`step(depends_on)`, the host's init or join (and upgrade), after `after`: on an upgrade, the
        node is drained before it and uncordoned after it, from the first control plane, as kubeadm's
        upgrade guide asks. Returns the step and the uncordon, which the next host waits for."""
        first, version = self._kubeadm.control_planes[0], self._kubeadm.kubernetes_version

        def around(action: str, depends_on: list) -> remote.Command:
            return self._run(first, "drain-node", depends_on, name=f"{host.name}-upgrade-{action}",
                             stdin=_stdin(NODE_NAME=host.name, ACTION=action), triggers=[version])

        done = step([around("drain", after)])
        return done, around("uncordon", [done])

    def _prepare(self, host) -> remote.Command:
        bundle = scripts_bundle()
        upload = remote.Command(
            f"{host.name}-scripts",
            connection=self._connection(host),
            # The scripts arrive on stdin; a new version of any of them uploads them again.
            create=f"sudo install -d -m 755 {REMOTE_DIR} && base64 -d | sudo tar -xzf - -C {REMOTE_DIR}",
            stdin=bundle,
            triggers=[hashlib.sha256(bundle.encode()).hexdigest(), f"installation={host.installation}"],
            opts=self.child())
        return self._run(host, "prepare-node", [upload],
                         stdin=_stdin(KUBERNETES_VERSION=self._kubeadm.kubernetes_version))

    def _bootstrap_token(self, name: str) -> pulumi.Output[str]:
        parts = [random.RandomPassword(f"{name}-token-{part}", length=length, upper=False, special=False,
                                       opts=self.child())
                 for part, length in (("id", 6), ("secret", 16))]
        return pulumi.Output.secret(pulumi.Output.concat(parts[0].result, ".", parts[1].result))

    def _join(self, host, role: str, token, ca_hash, depends_on: list, *, certificate_key=None) -> remote.Command:
        kubeadm = self._kubeadm
        document = pulumi.Output.all(token=token, ca_hash=ca_hash, certificate_key=certificate_key).apply(
            lambda values: encoded(join_document(kubeadm, host, role, **values)))
        params = {"JOIN_CONFIG_B64": document, "NODE_NAME": host.name, "ROLE": role,
                  "KUBERNETES_VERSION": kubeadm.kubernetes_version}
        joined = self._run(host, "join-node", depends_on, stdin=pulumi.Output.secret(_stdin(**params)))
        # Removing a host from the inventory: drained and deleted from the cluster first (these
        # are deleted in reverse order of creation), then reset. pulumi-command gives `delete`
        # the same stdin as `create`, hence a command of their own for each.
        reset = remote.Command(f"{host.name}-reset", connection=self._connection(host), create="true",
                               delete=f"sudo bash {REMOTE_DIR}/reset-node.sh",
                               opts=self.child(joined))
        remote.Command(f"{host.name}-drain", connection=self._connection(self._kubeadm.control_planes[0]),
                       create="true", delete=f"sudo bash {REMOTE_DIR}/drain-node.sh",
                       stdin=_stdin(NODE_NAME=host.name, ACTION="remove"),
                       opts=self.child(reset))
        return joined

    # --- cluster add-ons --------------------------------------------------

    def _cni(self, provider: kubernetes.Provider) -> kubernetes.helm.v4.Chart:
        kubeadm = self._kubeadm
        if kubeadm.cni == "cilium":
            return chart(self._charts, "cilium", "kube-system",
                         {"ipam": {"mode": "cluster-pool",
                                   "operator": {"clusterPoolIPv4PodCIDRList": [kubeadm.pod_subnet]}},
                          # Hubble's certificates would be generated afresh on every render (no
                          # `lookup` under helm.v4.Chart), restarting Cilium on every update.
                          "hubble": {"enabled": False, "tls": {"enabled": False}}}, self.child(provider=provider))
        namespace = self._namespace(provider, "tigera-operator")
        return chart(self._charts, "calico", "tigera-operator",
                     {"installation": {"calicoNetwork": {"ipPools": [
                         {"cidr": kubeadm.pod_subnet, "encapsulation": "VXLANCrossSubnet"}]}}},
                     self.child(namespace, provider=provider))

    def _load_balancer(self, provider: kubernetes.Provider, cni: pulumi.Resource) -> None:
        # MetalLB's speaker needs host networking and capabilities.
        namespace = self._namespace(provider, "metallb-system", cni,
                                    labels={"pod-security.kubernetes.io/enforce": "privileged"})
        release = chart(self._charts, "metallb", "metallb-system", {}, self.child(cni, namespace, provider=provider))
        pool = kubernetes.apiextensions.CustomResource(
            "metallb-pool", api_version="metallb.io/v1beta1", kind="IPAddressPool",
            metadata={"name": "binderhub", "namespace": "metallb-system"},
            spec={"addresses": list(self._kubeadm.metallb_addresses)}, opts=self.child(cni, release, provider=provider))
        kubernetes.apiextensions.CustomResource(
            "metallb-l2", api_version="metallb.io/v1beta1", kind="L2Advertisement",
            metadata={"name": "binderhub", "namespace": "metallb-system"},
            spec={"ipAddressPools": ["binderhub"]}, opts=self.child(cni, pool, provider=provider))

    def _nfs(self, provider: kubernetes.Provider, cni: pulumi.Resource) -> None:
        nfs = self._kubeadm.nfs
        namespace = self._namespace(provider, "nfs-provisioner", cni)
        release = chart(self._charts, "nfs-subdir-external-provisioner", "nfs-provisioner", {
            "nfs": {"server": nfs.server, "path": nfs.path},
            # The storage classes are this project's own (Retain), not the chart's.
            "storageClass": {"create": False, "provisionerName": NFS_PROVISIONER},
        }, self.child(cni, namespace, provider=provider))
        # A released volume's folder is kept on the server, never removed. The provisioner cannot grow
        # a volume, nor hold it to its size: a folder of the export, no quota.
        StorageClasses("storage", StorageClassesArgs(NFS_PROVISIONER, {"onDelete": "retain"},
                                                     wait_for_first_consumer=False, allow_expansion=False),
                       self.child(cni, release, provider=provider))

    def _namespace(self, provider: kubernetes.Provider, name: str, *depends_on: pulumi.Resource,
                   labels: dict[str, str] | None = None) -> kubernetes.core.v1.Namespace:
        return kubernetes.core.v1.Namespace(name, metadata={"name": name, **({"labels": labels} if labels else {})},
                                            opts=self.child(*depends_on, provider=provider))


def _first_address(pool: str) -> str:
    """The first address of a MetalLB range (a-b) or network, which the ingress asks for."""
    start = pool.split("-", 1)[0].strip()
    return str(next(ipaddress.ip_network(start).hosts())) if "/" in start else start


def build(settings: Settings, secrets: StackSecrets) -> Cluster:
    return KubeadmCluster("cluster", KubeadmClusterArgs.of(settings, secrets))
