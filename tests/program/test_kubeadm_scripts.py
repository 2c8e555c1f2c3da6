"""The kubeadm host scripts, run for real over SSH against an sshd on 127.0.0.1.

Each script is uploaded with scp and run as Pulumi's remote.Command does it: `sudo bash
/opt/persistent-binderhub/<script>.sh` through the real `ssh` client, parameters on stdin. The
host is simulated (see sshd.py): stand-ins for kubeadm, apt-get, systemctl and friends record
every call and keep the state the scripts look at. The tests prove the command sequence of each
script, that a second run does nothing, the upgrade path, joins and removals, that bad
parameters are refused before anything runs, and that no secret is ever echoed.
"""

from __future__ import annotations

import base64
import hashlib
import re
import shutil
from pathlib import Path

import pytest
import yaml

from components.platforms.kubeadm.documents import (
    encoded,
    init_documents,
    join_document,
    token_documents,
    upload_certs_documents,
)
from components.settings import Kubeadm, parse_settings
from components.settings.platforms import ControlPlaneHost
from tests.program.sshd import FAKE_PRINTED_KEY, FAKE_PRINTED_TOKEN, FIELD, SSHD, SimulatedHost
from tools.stackfile import read_stack_config

REPO = Path(__file__).resolve().parents[2]
SCRIPTS = REPO / "components" / "platforms" / "kubeadm"
HOST_NAMES = ("cp-1", "cp-2", "worker-1")

TOKEN = "pbh7k2.q8x3m5v9w2n4c6z1"
CERTIFICATE_KEY = "f3" * 32
ENDPOINT = "k8s.example.org:6443"
ADMIN_CONF = "/etc/kubernetes/admin.conf"

# Calls that only look: left out of the "what did it do" sequences.
READ_ONLY = re.compile(r"(dpkg-query|sudo|containerd config default|kubeadm version|kubeadm config images list"
                       r"|kubeadm token list|kubectl --kubeconfig \S+( -n \S+)? get|curl https://\S+/version"
                       r"|systemctl is-(enabled|active))( |$)")


# --- fixtures ----------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def ca(tmp_path_factory) -> tuple[Path, str]:
    """A CA certificate for the fake `kubeadm init`, and its discovery hash computed independently."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kubernetes")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    path = tmp_path_factory.mktemp("ca") / "ca.crt"
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    spki = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return path, "sha256:" + hashlib.sha256(spki).hexdigest()


@pytest.fixture(scope="module")
def pool(tmp_path_factory, ca):
    """Three hosts, each behind its own sshd, the scripts uploaded once with scp."""
    assert Path(SSHD).exists(), "openssh-server is missing: run `make test-deps` (tools/install-test-deps.sh)"
    base = tmp_path_factory.mktemp("hosts")
    hosts = {name: SimulatedHost(base, name, ca_cert=ca[0]) for name in HOST_NAMES}
    try:
        for host in hosts.values():
            host.start()
            host.upload(sorted(SCRIPTS.glob("*.sh")))
        yield hosts
    finally:
        started = [pid for host in hosts.values() for pid in host.processes()]
        for host in hosts.values():
            host.stop()
        still = [pid for pid in started if Path(f"/proc/{pid}").exists()
                 and Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"]
        assert not still, f"processes left behind: {still}"


@pytest.fixture
def hosts(pool) -> dict[str, SimulatedHost]:
    """The hosts as fresh Debian 12 machines: swap on, overlay loaded, ca-certificates installed."""
    for host in pool.values():
        host.reset()
        host.file("/proc/sys/net/ipv4").mkdir(parents=True)
        host.file("/proc/sys/net/ipv4/ip_forward").write_text("0\n")
        host.file("/proc/swaps").write_text("Filename\tType\tSize\tUsed\tPriority\n/swapfile\tfile\t1048572\t0\t-2\n")
        host.file("/etc").mkdir()
        host.file("/etc/fstab").write_text("UUID=0a1b / ext4 errors=remount-ro 0 1\n/swapfile none swap sw 0 0\n")
        host.file("/sys/module/overlay").mkdir(parents=True)
        host.set_package("ca-certificates", "20230311+deb12u1")
    return pool


@pytest.fixture
def cp(hosts) -> SimulatedHost:
    return hosts["cp-1"]


@pytest.fixture
def worker(hosts) -> SimulatedHost:
    return hosts["worker-1"]


# --- helpers -----------------------------------------------------------------------------------------

def prepared(host: SimulatedHost, version: str = "1.31.4") -> SimulatedHost:
    """A host as prepare-node.sh leaves it (set directly: prepare-node.sh has its own tests)."""
    host.set_package("containerd", "1.6.20~ds1-1+deb12u3")
    for package in ("kubeadm", "kubelet", "kubectl"):
        host.set_package(package, f"{version}-1.1", held=True)
    host.set_service("containerd")
    host.set_service("kubelet", active=False)
    return host


def kubeadm_config(version: str = "1.31.4") -> str:
    """A kubeadm config as the Pulumi side generates it."""
    return f"""\
apiVersion: kubeadm.k8s.io/v1beta4
kind: InitConfiguration
certificateKey: "{CERTIFICATE_KEY}"
nodeRegistration:
  name: cp-1
---
apiVersion: kubeadm.k8s.io/v1beta4
kind: ClusterConfiguration
kubernetesVersion: v{version}
controlPlaneEndpoint: "{ENDPOINT}"
networking:
  podSubnet: 10.244.0.0/16
  serviceSubnet: 10.96.0.0/12
apiServer:
  certSANs: ["k8s.example.org", "192.0.2.10"]
"""


def init_params(version: str = "1.31.4") -> dict[str, str]:
    return {"KUBEADM_CONFIG_B64": base64.b64encode(kubeadm_config(version).encode()).decode(),
            "KUBERNETES_VERSION": version}


def _inventory(version: str) -> Kubeadm:
    """The example stack's kubeadm settings, at `version` and with this file's API endpoint."""
    settings = parse_settings(read_stack_config(REPO, "example-kubeadm"), "example-kubeadm")
    return settings.kubeadm.model_copy(update={"kubernetes_version": version, "control_plane_endpoint": ENDPOINT})


def join_params(role: str = "user", version: str = "1.31.4", *, address: str = "192.0.2.12",
                ca_hash: str = "sha256:" + "0d" * 32, certificate_key: str | None = None) -> dict[str, str]:
    """join-node.sh's parameters, with the JoinConfiguration the program makes for a host `<role>-1`."""
    host = ControlPlaneHost(name=f"{role}-1", address=address)
    document = join_document(_inventory(version), host, role, token=TOKEN, ca_hash=ca_hash,
                             certificate_key=certificate_key)
    return {"JOIN_CONFIG_B64": encoded(document), "NODE_NAME": host.name, "ROLE": role,
            "KUBERNETES_VERSION": version}


def token_params(certificate_key: str | None = None, token: str = TOKEN) -> dict[str, str]:
    """join-token.sh's parameters, with the documents the program makes."""
    params = {"TOKEN": TOKEN, "TOKEN_CONFIG_B64": encoded(token_documents("1.31.4", token))}
    if certificate_key:
        params["CERTS_CONFIG_B64"] = encoded(upload_certs_documents("1.31.4", certificate_key))
    return params


def stdin(params: dict[str, str]) -> str:
    return "".join(f"{key}={value}\n" for key, value in params.items())


def ok(result):
    assert result.returncode == 0, f"exit {result.returncode}\nstdout: {result.stdout}\nstderr: {result.stderr}"
    return result


def initialised(host: SimulatedHost, version: str = "1.31.4") -> SimulatedHost:
    prepared(host, version)
    ok(host.run("init-control-plane.sh", init_params(version)))
    return host


def summary(host: SimulatedHost, call) -> str:
    """A call as a short line: paths without the host's scratch root, temporary names as XXXXXX."""
    args = [arg.replace(str(host.root), "") for arg in call.argv]
    if call.cmd == "apt-get":
        words, skip = [], False
        for arg in args:
            if skip:
                skip = False
            elif arg == "-o":
                skip = True
            elif not arg.startswith("-"):
                words.append(arg)
        return " ".join(["apt-get", *words])
    if call.cmd == "curl":
        return "curl " + args[-1]
    return re.sub(r"(\.[a-z-]+)\.[A-Za-z0-9]{6}\b", r"\1.XXXXXX", " ".join([call.cmd, *args]))


def actions(host: SimulatedHost, since: int = 0) -> list[str]:
    """What the scripts did on the host (calls that change something), in order."""
    return [line for line in (summary(host, call) for call in host.calls()[since:]) if not READ_ONLY.match(line)]


def snapshot(host: SimulatedHost) -> dict[str, tuple]:
    """Every file and folder of the host (mode, content, modification time) and the simulated state."""
    files = {}
    for folder in (host.root, host.state):
        for path in sorted(folder.rglob("*")):
            stat = path.lstat()
            content = path.read_bytes() if path.is_file() and not path.is_symlink() else b""
            files[str(path)] = (stat.st_mode, content, stat.st_mtime_ns if path.is_file() else 0)
    return files


# --- prepare-node.sh ---------------------------------------------------------------------------------

def test_prepare_node_on_a_fresh_host(cp):
    result = ok(cp.run("prepare-node.sh", {"KUBERNETES_VERSION": "1.31.4"}))

    assert result.stdout == ""
    assert actions(cp) == [
        "modprobe br_netfilter",
        "sysctl --system",
        "swapoff -a",
        "apt-get update",
        "apt-get install containerd nfs-common curl",  # nfs-common: the kubelet mounts the user volumes
        "curl https://pkgs.k8s.io/core:/stable:/v1.31/deb/Release.key",
        "apt-get update",
        "apt-get install kubeadm=1.31.4-1.1 kubelet=1.31.4-1.1 kubectl=1.31.4-1.1",
        "apt-mark hold kubeadm kubelet kubectl",
        "systemctl restart containerd",
    ]
    assert cp.file("/etc/modules-load.d/persistent-binderhub-kubernetes.conf").read_text().split("\n")[1:] == [
        "overlay", "br_netfilter", ""]
    for key in ("net/bridge/bridge-nf-call-iptables", "net/bridge/bridge-nf-call-ip6tables", "net/ipv4/ip_forward"):
        assert cp.file(f"/proc/sys/{key}").read_text() == "1\n", key
    assert cp.file("/proc/swaps").read_text().count("\n") == 1
    fstab = cp.file("/etc/fstab").read_text().splitlines()
    assert fstab[0] == "UUID=0a1b / ext4 errors=remount-ro 0 1"
    assert fstab[1].startswith("# ")
    assert fstab[1].endswith("/swapfile none swap sw 0 0")
    containerd = cp.file("/etc/containerd/config.toml").read_text()
    assert "SystemdCgroup = true" in containerd
    assert "SystemdCgroup = false" not in containerd
    assert 'sandbox_image = "registry.k8s.io/pause:3.10"' in containerd
    assert 'bin_dir = "/opt/cni/bin"' in containerd  # upstream's default, not Debian's /usr/lib/cni
    assert cp.file("/etc/apt/sources.list.d/kubernetes.list").read_text() == (
        "deb [signed-by=/etc/apt/keyrings/kubernetes-v1.31.asc] https://pkgs.k8s.io/core:/stable:/v1.31/deb/ /\n")
    assert cp.file("/etc/apt/keyrings/kubernetes-v1.31.asc").read_text().startswith("-----BEGIN PGP PUBLIC KEY")
    for package in ("kubeadm", "kubelet", "kubectl"):
        assert cp.package(package) == "hold installed 1.31.4-1.1"


def test_prepare_node_second_run_changes_nothing(cp):
    ok(cp.run("prepare-node.sh", {"KUBERNETES_VERSION": "1.31.4"}))
    before, mark = snapshot(cp), len(cp.calls())

    result = ok(cp.run("prepare-node.sh", {"KUBERNETES_VERSION": "1.31.4"}))

    assert actions(cp, mark) == []
    assert snapshot(cp) == before
    assert result.stdout == ""


def test_prepare_node_newer_patch_installs_the_new_kubeadm_only(cp):
    ok(cp.run("prepare-node.sh", {"KUBERNETES_VERSION": "1.31.4"}))
    mark = len(cp.calls())

    ok(cp.run("prepare-node.sh", {"KUBERNETES_VERSION": "1.31.5"}))

    assert actions(cp, mark) == ["apt-get update", "apt-get install kubeadm=1.31.5-1.1"]
    assert cp.package("kubeadm") == "hold installed 1.31.5-1.1"
    assert cp.package("kubelet") == "hold installed 1.31.4-1.1"  # after `kubeadm upgrade`, not here
    assert cp.package("kubectl") == "hold installed 1.31.4-1.1"


def test_prepare_node_next_minor_switches_the_repository(cp):
    ok(cp.run("prepare-node.sh", {"KUBERNETES_VERSION": "1.31.4"}))
    mark = len(cp.calls())

    ok(cp.run("prepare-node.sh", {"KUBERNETES_VERSION": "1.32.0", "KUBERNETES_PACKAGE_REVISION": "1.1"}))

    assert actions(cp, mark) == [
        "curl https://pkgs.k8s.io/core:/stable:/v1.32/deb/Release.key",
        "apt-get update",
        "apt-get install kubeadm=1.32.0-1.1",
    ]
    assert "/v1.32/deb/" in cp.file("/etc/apt/sources.list.d/kubernetes.list").read_text()


@pytest.mark.parametrize(("version", "message"), [("1.31.3", "downgrades are not supported"),
                                                  ("1.33.0", "one minor at a time")])
def test_prepare_node_refuses_a_downgrade_or_a_skipped_minor(cp, version, message):
    ok(cp.run("prepare-node.sh", {"KUBERNETES_VERSION": "1.31.4"}))
    before, mark = snapshot(cp), len(cp.calls())

    result = cp.run("prepare-node.sh", {"KUBERNETES_VERSION": version})

    assert result.returncode == 3
    assert message in result.stderr
    assert actions(cp, mark) == []
    assert snapshot(cp) == before


# --- init-control-plane.sh ---------------------------------------------------------------------------

def test_init_control_plane_then_a_second_run(cp):
    prepared(cp)
    result = ok(cp.run("init-control-plane.sh", init_params()))

    assert actions(cp) == ["kubeadm init --config /etc/persistent-binderhub/kubeadm-init.yaml --upload-certs "
                           "--skip-token-print --skip-certificate-key-print"]
    config = cp.file("/etc/persistent-binderhub/kubeadm-init.yaml")
    assert config.read_text() == kubeadm_config()
    assert config.stat().st_mode & 0o777 == 0o600
    assert config.parent.stat().st_mode & 0o777 == 0o700
    assert cp.captured("init") == [kubeadm_config()]
    assert cp.file(ADMIN_CONF).exists()
    assert result.stdout == ""
    # kubeadm's output went to stderr, with the token and certificate key it printed hidden
    assert "initialized successfully" in result.stderr
    assert FAKE_PRINTED_TOKEN not in result.stderr
    assert FAKE_PRINTED_KEY not in result.stderr

    mark = len(cp.calls())
    ok(cp.run("init-control-plane.sh", init_params()))
    assert actions(cp, mark) == []


INIT = ("kubeadm init --config /etc/persistent-binderhub/kubeadm-init.yaml --upload-certs --skip-token-print "
        "--skip-certificate-key-print")


def test_an_init_that_did_not_finish_is_reset_and_done_again(cp):
    """kubeadm writes admin.conf before etcd and the API server are up: a failed init leaves it."""
    prepared(cp)
    cp.file(ADMIN_CONF).parent.mkdir(parents=True)
    cp.file(ADMIN_CONF).write_text("apiVersion: v1\nkind: Config\n")
    (cp.state / "apiserver-down").write_text("")

    result = ok(cp.run("init-control-plane.sh", init_params()))

    assert actions(cp) == ["kubeadm reset -f", INIT]
    assert "kubeadm init did not finish" in result.stderr
    assert cp.file("/etc/persistent-binderhub/initialised").exists()
    mark = len(cp.calls())
    ok(cp.run("init-control-plane.sh", init_params()))
    assert actions(cp, mark) == []


def test_a_control_plane_that_answers_is_recorded_as_initialised_not_reset(cp):
    initialised(cp)
    cp.file("/etc/persistent-binderhub/initialised").unlink()  # as before this project kept markers
    mark = len(cp.calls())

    ok(cp.run("init-control-plane.sh", init_params()))

    assert actions(cp, mark) == []
    assert cp.file("/etc/persistent-binderhub/initialised").exists()


def test_a_reinstalled_first_control_plane_never_makes_a_second_cluster(cp):
    prepared(cp)
    (cp.state / "live-endpoint").write_text("")  # the other control planes still serve the cluster

    result = cp.run("init-control-plane.sh", init_params())

    assert result.returncode == 3
    assert "a cluster already answers at k8s.example.org:6443, but this host has none" in result.stderr
    assert "Put a control plane of the running cluster first under controlPlanes" in result.stderr
    assert actions(cp) == []


def test_a_join_that_did_not_finish_is_reset_and_done_again(worker):
    """kubeadm writes kubelet.conf before the node is registered (and, for a control plane, before
    it joined etcd): a failed join leaves it."""
    prepared(worker)
    worker.file("/etc/kubernetes").mkdir(parents=True)
    worker.file("/etc/kubernetes/kubelet.conf").write_text("apiVersion: v1\nkind: Config\n")

    result = ok(worker.run("join-node.sh", join_params("user")))

    assert actions(worker) == ["kubeadm reset -f", "kubeadm join --config /etc/persistent-binderhub/kubeadm-join.yaml"]
    assert "kubeadm join did not finish" in result.stderr
    assert worker.file("/etc/persistent-binderhub/joined").exists()


def test_a_node_the_cluster_lists_is_recorded_as_joined_not_reset(worker):
    prepared(worker)
    ok(worker.run("join-node.sh", join_params("user")))
    worker.file("/etc/persistent-binderhub/joined").unlink()
    mark = len(worker.calls())

    ok(worker.run("join-node.sh", join_params("user")))

    assert actions(worker, mark) == []
    assert worker.file("/etc/persistent-binderhub/joined").exists()


def test_init_control_plane_upgrade_path(cp):
    initialised(cp, "1.31.4")
    ok(cp.run("prepare-node.sh", {"KUBERNETES_VERSION": "1.31.5"}))
    mark = len(cp.calls())

    ok(cp.run("init-control-plane.sh", init_params("1.31.5")))

    assert actions(cp, mark) == [
        f"kubeadm upgrade plan v1.31.5 --kubeconfig {ADMIN_CONF}",
        f"kubeadm upgrade apply v1.31.5 --yes --kubeconfig {ADMIN_CONF}",
        "apt-get install kubelet=1.31.5-1.1 kubectl=1.31.5-1.1",
        "apt-mark hold kubelet kubectl",
        "systemctl daemon-reload",
        "systemctl restart kubelet",
    ]
    assert sum(call.cmd == "kubeadm" and call.argv[:1] == ["init"] for call in cp.calls()) == 1  # never re-init
    assert "kube-apiserver:v1.31.5" in cp.file("/etc/kubernetes/manifests/kube-apiserver.yaml").read_text()
    assert cp.package("kubelet") == "hold installed 1.31.5-1.1"

    mark = len(cp.calls())
    ok(cp.run("init-control-plane.sh", init_params("1.31.5")))
    assert actions(cp, mark) == []


def test_init_control_plane_upgrade_waits_for_the_new_kubeadm(cp):
    initialised(cp, "1.31.4")
    mark = len(cp.calls())

    result = cp.run("init-control-plane.sh", init_params("1.31.5"))

    assert result.returncode == 3
    assert "run prepare-node.sh with KUBERNETES_VERSION=1.31.5 first" in result.stderr
    assert actions(cp, mark) == []


def test_init_control_plane_refuses_a_config_for_another_version(cp):
    prepared(cp)
    params = init_params("1.31.4") | {"KUBERNETES_VERSION": "1.31.5"}

    result = cp.run("init-control-plane.sh", params)

    assert result.returncode == 2
    assert "kubernetesVersion is not v1.31.5" in result.stderr
    assert [call.cmd for call in cp.calls()] == ["sudo"]


# --- join-token.sh -----------------------------------------------------------------------------------

def test_join_token_creates_the_token_and_prints_the_ca_hash(cp, ca):
    initialised(cp)
    mark = len(cp.calls())

    result = ok(cp.run("join-token.sh", token_params()))

    assert result.stdout == ca[1] + "\n"
    assert actions(cp, mark) == [
        "kubeadm token create --config /etc/persistent-binderhub/.join-token.XXXXXX/token.yaml "
        f"--kubeconfig {ADMIN_CONF}"]
    [config] = cp.captured("token")
    [token] = next(yaml.safe_load_all(config))["bootstrapTokens"]
    assert token["token"] == TOKEN
    assert token["ttl"] == "2h"
    assert TOKEN in cp.names("tokens")
    assert list(cp.file("/etc/persistent-binderhub").glob(".join-token.*")) == []  # the config is gone

    mark = len(cp.calls())
    again = ok(cp.run("join-token.sh", token_params()))
    assert again.stdout == ca[1] + "\n"
    assert actions(cp, mark) == []


def test_join_token_replaces_an_expired_token(cp):
    initialised(cp)
    cp.add("tokens", TOKEN, "<invalid>")
    mark = len(cp.calls())

    ok(cp.run("join-token.sh", token_params()))

    assert actions(cp, mark) == [
        f"kubeadm token delete pbh7k2 --kubeconfig {ADMIN_CONF}",
        "kubeadm token create --config /etc/persistent-binderhub/.join-token.XXXXXX/token.yaml "
        f"--kubeconfig {ADMIN_CONF}"]
    assert (cp.state / "tokens" / TOKEN).read_text().strip() == "2h"


def test_join_token_uploads_the_control_plane_certificates_once(cp):
    initialised(cp)
    mark = len(cp.calls())

    ok(cp.run("join-token.sh", token_params(CERTIFICATE_KEY)))

    assert actions(cp, mark)[1] == (
        "kubeadm init phase upload-certs --upload-certs --config /etc/persistent-binderhub/.join-token.XXXXXX/"
        f"certs.yaml --kubeconfig {ADMIN_CONF} --skip-certificate-key-print")
    assert next(yaml.safe_load_all(cp.captured("upload-certs")[0]))["certificateKey"] == CERTIFICATE_KEY
    mark = len(cp.calls())
    ok(cp.run("join-token.sh", token_params(CERTIFICATE_KEY)))
    assert actions(cp, mark) == []


def test_join_token_needs_an_initialised_control_plane(cp):
    prepared(cp)
    result = cp.run("join-token.sh", token_params())
    assert result.returncode == 3
    assert result.stdout == ""
    assert actions(cp) == []


# --- join-node.sh ------------------------------------------------------------------------------------

@pytest.mark.parametrize(("role", "taints"), [
    ("user", [{"key": "hub.jupyter.org/dedicated", "value": "user", "effect": "NoSchedule"}]),
    # BinderHub's build pods tolerate the user taint, not another one
    ("build", [{"key": "hub.jupyter.org/dedicated", "value": "user", "effect": "NoSchedule"}]),
    ("core", []),
])
def test_join_worker(worker, role, taints):
    prepared(worker)

    result = ok(worker.run("join-node.sh", join_params(role)))

    assert result.stdout == ""
    assert actions(worker) == ["kubeadm join --config /etc/persistent-binderhub/kubeadm-join.yaml"]
    [config] = [yaml.safe_load(text) for text in worker.captured("join")]
    assert config["apiVersion"] == "kubeadm.k8s.io/v1beta4"
    assert config["kind"] == "JoinConfiguration"
    assert config["discovery"]["bootstrapToken"] == {"apiServerEndpoint": ENDPOINT, "token": TOKEN,
                                                     "caCertHashes": ["sha256:" + "0d" * 32]}
    assert config["nodeRegistration"]["name"] == f"{role}-1"
    assert config["nodeRegistration"]["kubeletExtraArgs"] == [
        {"name": "node-labels", "value": f"hub.jupyter.org/node-purpose={role}"},
        {"name": "node-ip", "value": "192.0.2.12"}]
    assert config["nodeRegistration"]["taints"] == taints
    assert "controlPlane" not in config
    assert not worker.file("/etc/persistent-binderhub/kubeadm-join.yaml").exists()  # it held the token

    mark = len(worker.calls())
    ok(worker.run("join-node.sh", join_params(role)))
    assert actions(worker, mark) == []


def test_join_control_plane(hosts):
    node = prepared(hosts["cp-2"])

    ok(node.run("join-node.sh", join_params("control-plane", certificate_key=CERTIFICATE_KEY)))

    [config] = [yaml.safe_load(text) for text in node.captured("join")]
    assert config["controlPlane"] == {"certificateKey": CERTIFICATE_KEY,
                                      "localAPIEndpoint": {"advertiseAddress": "192.0.2.12"}}
    assert config["nodeRegistration"]["kubeletExtraArgs"] == [{"name": "node-ip", "value": "192.0.2.12"}]
    assert "taints" not in config["nodeRegistration"]  # kubeadm's own control-plane taint
    mark = len(node.calls())
    ok(node.run("join-node.sh", join_params("control-plane", certificate_key=CERTIFICATE_KEY)))
    assert actions(node, mark) == []


def test_join_before_kubernetes_1_31_writes_v1beta3(worker):
    prepared(worker, "1.30.8")

    ok(worker.run("join-node.sh", join_params("user", "1.30.8")))

    [config] = [yaml.safe_load(text) for text in worker.captured("join")]
    assert config["apiVersion"] == "kubeadm.k8s.io/v1beta3"
    assert config["nodeRegistration"]["kubeletExtraArgs"] == {"node-labels": "hub.jupyter.org/node-purpose=user",
                                                              "node-ip": "192.0.2.12"}


def test_join_node_upgrade_path(worker):
    prepared(worker, "1.31.4")
    ok(worker.run("join-node.sh", join_params("user")))
    ok(worker.run("prepare-node.sh", {"KUBERNETES_VERSION": "1.31.5"}))
    mark = len(worker.calls())

    ok(worker.run("join-node.sh", join_params("user", "1.31.5")))

    assert actions(worker, mark) == [
        "kubeadm upgrade node",
        "apt-get install kubelet=1.31.5-1.1 kubectl=1.31.5-1.1",
        "apt-mark hold kubelet kubectl",
        "systemctl daemon-reload",
        "systemctl restart kubelet",
    ]
    assert sum(call.cmd == "kubeadm" and call.argv[:1] == ["join"] for call in worker.calls()) == 1
    mark = len(worker.calls())
    ok(worker.run("join-node.sh", join_params("user", "1.31.5")))
    assert actions(worker, mark) == []


# --- admin-kubeconfig.sh, drain-node.sh, reset-node.sh -----------------------------------------------

def test_admin_kubeconfig(cp):
    prepared(cp)
    before = cp.run("admin-kubeconfig.sh")
    assert before.returncode == 3
    assert before.stdout == ""

    initialised(cp)
    result = ok(cp.run("admin-kubeconfig.sh"))

    assert result.stdout == cp.file(ADMIN_CONF).read_text()
    assert "client-key-data" not in result.stderr


def _admin_conf(days_valid: int) -> str:
    """An admin kubeconfig whose client certificate expires in `days_valid` days."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kubernetes-admin")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(days_valid).not_valid_before(now - datetime.timedelta(days=300))
            .not_valid_after(now + datetime.timedelta(days=days_valid)).sign(key, hashes.SHA256()))
    data = base64.b64encode(cert.public_bytes(serialization.Encoding.PEM)).decode()
    return (f"apiVersion: v1\nkind: Config\nusers:\n- name: kubernetes-admin\n  user:\n"
            f"    client-certificate-data: {data}\n    client-key-data: c2VjcmV0\n")


def test_an_admin_kubeconfig_near_its_expiry_is_renewed_before_it_is_printed(cp):
    initialised(cp)
    cp.file(ADMIN_CONF).write_text(_admin_conf(days_valid=20))
    renewed = _admin_conf(days_valid=365)
    (cp.state / "renewed-admin.conf").write_text(renewed)
    mark = len(cp.calls())

    result = ok(cp.run("admin-kubeconfig.sh"))

    assert actions(cp, mark) == ["kubeadm certs renew admin.conf"]
    assert result.stdout == renewed
    mark = len(cp.calls())
    ok(cp.run("admin-kubeconfig.sh"))  # a year left: printed as it is
    assert actions(cp, mark) == []


def test_removal_drains_then_deletes_then_resets(cp, worker):
    initialised(cp)
    cp.add("nodes", "user-1")
    cp.add("unmanaged-pods", "user-1")  # a running user server: KubeSpawner's pods have no controller
    prepared(worker)
    ok(worker.run("join-node.sh", join_params("user")))
    worker.file("/etc/cni/net.d").mkdir(parents=True)
    worker.file("/etc/cni/net.d/10-calico.conflist").write_text("{}")
    cp_mark, worker_mark = len(cp.calls()), len(worker.calls())

    ok(cp.run("drain-node.sh", {"NODE_NAME": "user-1", "ACTION": "remove", "DRAIN_TIMEOUT": "120s"}))
    ok(worker.run("reset-node.sh"))

    assert actions(cp, cp_mark) == [
        f"kubectl --kubeconfig {ADMIN_CONF} drain user-1 --ignore-daemonsets --delete-emptydir-data --force "
        "--timeout=120s",
        f"kubectl --kubeconfig {ADMIN_CONF} delete node user-1 --ignore-not-found",
    ]
    assert cp.names("nodes") == ["cp-1"]
    assert actions(worker, worker_mark) == ["kubeadm reset -f"]
    assert list(worker.file("/etc/cni/net.d").iterdir()) == []
    assert not worker.file("/etc/kubernetes/kubelet.conf").exists()

    cp_mark, worker_mark = len(cp.calls()), len(worker.calls())
    ok(cp.run("drain-node.sh", {"NODE_NAME": "user-1", "ACTION": "remove"}))
    ok(worker.run("reset-node.sh"))
    assert actions(cp, cp_mark) == []
    assert actions(worker, worker_mark) == []

    # and the host can join again
    ok(worker.run("join-node.sh", join_params("user")))
    assert actions(worker)[-1] == "kubeadm join --config /etc/persistent-binderhub/kubeadm-join.yaml"


def test_a_node_is_drained_before_its_upgrade_and_uncordoned_after(cp):
    initialised(cp)
    cp.add("nodes", "user-1")
    cp.add("unmanaged-pods", "user-1")  # a running user server
    mark = len(cp.calls())

    ok(cp.run("drain-node.sh", {"NODE_NAME": "user-1", "ACTION": "drain", "DRAIN_TIMEOUT": "60s"}))
    assert (cp.state / "cordoned" / "user-1").exists()
    ok(cp.run("drain-node.sh", {"NODE_NAME": "user-1", "ACTION": "uncordon"}))

    assert actions(cp, mark) == [
        f"kubectl --kubeconfig {ADMIN_CONF} drain user-1 --ignore-daemonsets --delete-emptydir-data --force "
        "--timeout=60s",
        f"kubectl --kubeconfig {ADMIN_CONF} uncordon user-1",
    ]
    assert not (cp.state / "cordoned" / "user-1").exists()


@pytest.mark.parametrize("initialise", [False, True])
def test_a_node_not_joined_yet_or_a_cluster_not_made_yet_is_left_alone(cp, initialise):
    if initialise:
        initialised(cp)
    else:
        prepared(cp)
    mark = len(cp.calls())
    for action in ("drain", "uncordon"):
        ok(cp.run("drain-node.sh", {"NODE_NAME": "user-9", "ACTION": action}))
    assert actions(cp, mark) == []


# --- bad parameters ----------------------------------------------------------------------------------

BAD_PARAMETERS = [
    ("prepare-node.sh", "KUBERNETES_VERSION=1.31.4\nEXTRA=1\n", "unknown parameter EXTRA"),
    ("prepare-node.sh", "", "missing parameter KUBERNETES_VERSION"),
    ("prepare-node.sh", "KUBERNETES_VERSION=1.31.4; touch /tmp/pwned\n", "invalid value for KUBERNETES_VERSION"),
    ("prepare-node.sh", "KUBERNETES_VERSION=$(touch /tmp/pwned)\n", "invalid value for KUBERNETES_VERSION"),
    ("prepare-node.sh", "KUBERNETES_VERSION=1.31.4\nKUBERNETES_VERSION=1.31.5\n", "given twice"),
    ("prepare-node.sh", "export KUBERNETES_VERSION=1.31.4\n", "not KEY=VALUE"),
    ("init-control-plane.sh", "KUBEADM_CONFIG_B64=not base64!\nKUBERNETES_VERSION=1.31.4\n",
     "invalid value for KUBEADM_CONFIG_B64"),
    ("join-token.sh", stdin(token_params() | {"TOKEN": TOKEN + "X"}), "invalid value for TOKEN"),
    ("join-token.sh", stdin(token_params() | {"TOKEN": TOKEN.upper()}), "invalid value for TOKEN"),
    ("join-token.sh", stdin(token_params(token="abcdef.0123456789abcdef")), "TOKEN_CONFIG_B64 does not create TOKEN"),
    ("join-token.sh", stdin(token_params() | {"CERTS_CONFIG_B64": encoded("kind: JoinConfiguration\n")}),
     "CERTS_CONFIG_B64 holds no InitConfiguration"),
    ("join-node.sh", stdin(join_params("user") | {"ROLE": "control-plane"}),
     "ROLE=control-plane needs a JoinConfiguration with controlPlane"),
    ("join-node.sh", stdin(join_params("control-plane", certificate_key=CERTIFICATE_KEY) | {"ROLE": "user"}),
     "joins a control plane, but ROLE is user"),
    ("join-node.sh", stdin(join_params() | {"ROLE": "gpu"}), "invalid value for ROLE"),
    ("join-node.sh", stdin(join_params() | {"NODE_NAME": "Bad_Name"}), "invalid value for NODE_NAME"),
    ("join-node.sh", stdin(join_params() | {"NODE_NAME": "user-2"}), "does not name node user-2"),
    ("join-node.sh", stdin(join_params() | {"JOIN_CONFIG_B64": encoded(init_documents(_inventory("1.31.4"), "00"))}),
     "JOIN_CONFIG_B64 holds no JoinConfiguration"),
    ("join-node.sh", stdin(join_params() | {"JOIN_CONFIG_B64": "bm90IGJhc2U2NA=="[:-1]}),
     "JOIN_CONFIG_B64 is not valid base64"),
    ("drain-node.sh", "NODE_NAME=user-1 --force\nACTION=remove\n", "invalid value for NODE_NAME"),
    ("drain-node.sh", "NODE_NAME=user-1\nACTION=delete\n", "invalid value for ACTION"),
    ("admin-kubeconfig.sh", f"TOKEN={TOKEN}\n", "unknown parameter TOKEN"),
    ("reset-node.sh", "FORCE=1\n", "unknown parameter FORCE"),
]


@pytest.mark.parametrize(("script", "stdin", "message"), BAD_PARAMETERS,
                         ids=[f"{case[0]}-{index}" for index, case in enumerate(BAD_PARAMETERS)])
def test_bad_parameters_are_refused_before_anything_runs(cp, script, stdin, message):
    prepared(cp)
    before, mark = snapshot(cp), len(cp.calls())

    result = cp.run(script, stdin)

    assert result.returncode == 2, result.stderr
    assert message in result.stderr
    assert "nothing was done" in result.stderr
    assert result.stdout == ""
    assert [call.cmd for call in cp.calls()[mark:]] == ["sudo"]
    assert snapshot(cp) == before
    assert not Path("/tmp/pwned").exists()
    for secret in (TOKEN, TOKEN.upper(), CERTIFICATE_KEY):
        assert secret not in result.stderr, "a refused value was echoed"


# --- secrets, end to end -----------------------------------------------------------------------------

def test_a_whole_cluster_never_echoes_a_secret(hosts, ca):
    """Three hosts from bare Debian to a cluster and a removal; then look for the secrets everywhere."""
    cp1, cp2, worker = hosts["cp-1"], hosts["cp-2"], hosts["worker-1"]
    outputs = []

    def run(host, script, params=None):
        result = ok(host.run(script, params))
        outputs.append((f"{host.name} {script}", result))
        return result

    for host in (cp1, cp2, worker):
        run(host, "prepare-node.sh", {"KUBERNETES_VERSION": "1.31.4"})
    run(cp1, "init-control-plane.sh", init_params())
    ca_hash = run(cp1, "join-token.sh", token_params(CERTIFICATE_KEY)).stdout.strip()
    assert ca_hash == ca[1]
    run(cp2, "join-node.sh", join_params("control-plane", ca_hash=ca_hash, certificate_key=CERTIFICATE_KEY))
    run(worker, "join-node.sh", join_params("user", ca_hash=ca_hash))
    kubeconfig = run(cp1, "admin-kubeconfig.sh").stdout
    assert kubeconfig == cp1.file(ADMIN_CONF).read_text()
    cp1.add("nodes", "user-1")
    run(cp1, "drain-node.sh", {"NODE_NAME": "user-1", "ACTION": "remove"})
    run(worker, "reset-node.sh")

    secrets = {"TOKEN": TOKEN, "token secret": TOKEN.split(".")[1], "CERTIFICATE_KEY": CERTIFICATE_KEY,
               "kubeadm's printed token": FAKE_PRINTED_TOKEN, "kubeadm's printed key": FAKE_PRINTED_KEY}
    for label, secret in secrets.items():
        for host in (cp1, cp2, worker):
            log = host.log.read_text()
            assert secret not in log, f"{label} in the argv of a command on {host.name}"
            assert FIELD not in secret
        for where, result in outputs:
            assert secret not in result.stdout, f"{label} on the stdout of {where}"
            assert secret not in result.stderr, f"{label} on the stderr of {where} (or the SSH session)"
    # The secrets were only ever in the mode-600 kubeadm config files (checked by the fake kubeadm).
    assert any(TOKEN in text for text in cp1.captured("token"))
    assert all(TOKEN in text for text in cp2.captured("join") + worker.captured("join"))
    assert CERTIFICATE_KEY in cp2.captured("join")[0]
    # and the files that held the token are gone
    for host in (cp1, cp2, worker):
        leftovers = [path for path in host.root.rglob("*") if path.is_file() and TOKEN.encode() in path.read_bytes()]
        assert leftovers == [], f"the token is still in {leftovers}"


def test_scripts_pass_shellcheck():
    shellcheck = shutil.which("shellcheck")
    assert shellcheck, "shellcheck is missing: run `make test-deps`"
    import subprocess

    result = subprocess.run([shellcheck, *map(str, sorted(SCRIPTS.glob("*.sh")))], capture_output=True, text=True,
                            check=False)
    assert result.returncode == 0, result.stdout


def test_init_control_plane_accepts_the_config_the_program_generates(cp):
    settings = parse_settings(read_stack_config(REPO, "example-kubeadm"), "example-kubeadm")
    config = init_documents(settings.kubeadm, CERTIFICATE_KEY)
    prepared(cp)
    ok(cp.run("init-control-plane.sh", {"KUBEADM_CONFIG_B64": base64.b64encode(config.encode()).decode(),
                                        "KUBERNETES_VERSION": settings.kubeadm.kubernetes_version}))
    assert cp.captured("init") == [config]
    init, cluster = yaml.safe_load_all(config)
    assert init["certificateKey"] == CERTIFICATE_KEY
    assert cluster["kubernetesVersion"] == "v1.31.4"
    assert cluster["networking"] == {"podSubnet": "192.168.0.0/16", "serviceSubnet": "10.96.0.0/12"}
    assert cluster["apiServer"]["certSANs"] == ["192.0.2.11", "k8s-api.lab.example.org"]
