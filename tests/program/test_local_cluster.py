"""The laptop cluster of `make up STACK=local`: the kind configuration, and tools/local-cluster.sh
against stand-ins for docker, kind, kubectl and curl that record their calls (no Docker here)."""

from __future__ import annotations

import shutil
import subprocess

import pytest
import yaml

from components.ingress import NODE_PORTS
from components.settings import parse_settings
from tools.offline import REPO
from tools.stackfile import read_stack_config

# Each stand-in logs its arguments; its behaviour follows files in $STATE (what exists already).
STAND_IN = r"""#!/usr/bin/env bash
name=$(basename "$0")
echo "$name $*" >> "$STATE/calls.log"
has() { [[ -e $STATE/$1 ]]; }
case "$name $1" in
  "kubectl config")
    if [[ $2 == use-context ]]; then touch "$STATE/context"; else has context || exit 1; echo kind-x; fi ;;
  "kubectl cluster-info") has context || exit 1 ;;
  "kubectl --context") cat > "$STATE/applied.yaml" ;;
  "kubectl get") if [[ $* == *custom-columns* ]]; then printf 'binderhub hub-6d9f\nbinderhub jupyter-ada\n'
                 else echo "listed: $*"; fi ;;
  "kubectl logs") echo "logs of $4" ;;
  "docker info") has docker || exit 1 ;;
  "docker inspect")
    has registry || exit 1
    if [[ $* == *Networks.kind* ]]; then
      if has connected; then echo '{"IPAddress": "172.18.0.3"}'; else echo null; fi
    fi ;;
  "docker run") touch "$STATE/registry" ;;
  "docker network") touch "$STATE/connected" ;;
  "docker exec") if [[ $* == *" cp "* ]]; then cat > "$STATE/hosts.toml"; fi ;;
  "kind get")
    if [[ $2 == clusters ]]; then if has cluster; then echo persistent-binderhub; fi
    else echo persistent-binderhub-control-plane; fi ;;
  "kind create") touch "$STATE/cluster" ;;
  "curl -fsS") has hub-up || exit 22 ;;
esac
exit 0
"""
TOOLS = ("docker", "kind", "kubectl", "curl")


@pytest.fixture
def host(tmp_path):
    bin_dir, state = tmp_path / "bin", tmp_path / "state"
    bin_dir.mkdir()
    state.mkdir()
    for tool in TOOLS:
        (bin_dir / tool).write_text(STAND_IN)
        (bin_dir / tool).chmod(0o755)
    checkout = tmp_path / "checkout"
    (checkout / "tools").mkdir(parents=True)
    (checkout / "stacks").mkdir()
    for relative in ("tools/local-cluster.sh", "tools/kind-cluster.yaml", "stacks/Pulumi.local.yaml"):
        shutil.copy(REPO / relative, checkout / relative)

    def run(*args: str) -> subprocess.CompletedProcess:
        env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "STATE": str(state), "READY_TIMEOUT": "0"}
        return subprocess.run(["/bin/bash", str(checkout / "tools" / "local-cluster.sh"), *args], env=env,
                              capture_output=True, text=True, check=False)

    def calls() -> list[str]:
        log = state / "calls.log"
        return log.read_text().splitlines() if log.exists() else []

    return run, calls, state


def test_the_kind_configuration_maps_the_ingress_ports_and_reads_registry_hosts():
    config = yaml.safe_load((REPO / "tools" / "kind-cluster.yaml").read_text())
    assert config["name"] == "persistent-binderhub"
    (node,) = config["nodes"]
    assert {m["containerPort"]: m["hostPort"] for m in node["extraPortMappings"]} == {
        NODE_PORTS["web"]: 80, NODE_PORTS["websecure"]: 443}
    assert 'config_path = "/etc/containerd/certs.d"' in config["containerdConfigPatches"][0]
    # the registry the local stack pushes to is the one the script runs and the nodes are told about
    settings = parse_settings(read_stack_config(REPO, "local"), "local")
    assert settings.registry.local.host == "kind-registry:5000"


def test_an_existing_context_is_used_as_it_is(host):
    run, calls, state = host
    (state / "context").touch()
    result = run("ensure")
    assert result.returncode == 0, result.stderr
    assert "Using kubectl's current context, kind-x" in result.stderr
    assert not any(call.startswith(("docker", "kind")) for call in calls())


def test_without_a_context_a_kind_cluster_and_its_registry_are_made_once(host):
    run, calls, state = host
    (state / "docker").touch()
    result = run("ensure")
    assert result.returncode == 0, result.stderr
    made = calls()
    assert any(c.startswith("docker run -d --restart=always -p 127.0.0.1:5001:5000") for c in made)
    assert "kind create cluster --config tools/kind-cluster.yaml" in made
    assert (state / "hosts.toml").read_text() == '[host."http://kind-registry:5000"]\n'
    assert "docker network connect kind kind-registry" in made
    configmap = yaml.safe_load((state / "applied.yaml").read_text())
    assert configmap["metadata"] == {"name": "local-registry-hosting", "namespace": "kube-public"}
    assert "kubectl config use-context kind-persistent-binderhub" in made
    before = len(calls())
    assert run("ensure").returncode == 0  # a second time: nothing made again
    again = calls()[before:]
    assert not any(c.startswith(("docker run", "kind create", "docker network connect")) for c in again)


def test_without_a_context_or_docker_one_message_says_what_to_do(host):
    run, _, _ = host
    result = run("ensure")
    assert result.returncode == 1
    assert "kubectl has no cluster to use, and Docker is not running to make one" in result.stderr


def test_ready_waits_for_the_hub_through_the_ingress_and_says_where(host):
    run, calls, state = host
    assert run("ready").returncode == 1  # READY_TIMEOUT=0 and the hub does not answer yet
    (state / "hub-up").touch()
    result = run("ready")
    assert result.returncode == 0, result.stderr
    assert "http://hub.127.0.0.1.nip.io/" in result.stderr
    assert calls()[-1] == ("curl -fsS -o /dev/null --max-time 5 -H Host: hub.127.0.0.1.nip.io "
                           "http://127.0.0.1/hub/health")


def test_delete_removes_the_cluster_and_the_registry(host):
    run, calls, state = host
    (state / "cluster").touch()
    (state / "registry").touch()
    assert run("delete").returncode == 0
    assert "kind delete cluster --name persistent-binderhub" in calls()
    assert "docker rm -f kind-registry" in calls()


def test_make_down_asks_first_and_deletes_nothing_without_a_yes(tmp_path):
    make = shutil.which("make")
    assert make, "make is missing"
    result = subprocess.run([make, "-s", "down", "STACK=local"], cwd=REPO, input="no\n", capture_output=True,
                            text=True, check=False, env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})
    assert result.returncode != 0
    assert "nothing was deleted" in result.stderr


def test_evidence_collects_events_resources_and_every_pods_logs(host, tmp_path):
    run, calls, _ = host
    result = run("evidence", str(tmp_path / "evidence"))
    assert result.returncode == 0, result.stderr
    evidence = tmp_path / "evidence"
    assert (evidence / "events.txt").read_text().startswith("listed: get events --all-namespaces")
    assert "pvc" in (evidence / "resources.txt").read_text()
    assert (evidence / "logs" / "binderhub.jupyter-ada.log").read_text() == "logs of jupyter-ada\n"
    assert ("kubectl logs --namespace binderhub jupyter-ada --all-containers --prefix --tail=5000" in calls())
    assert run("evidence").returncode == 2  # no folder given
