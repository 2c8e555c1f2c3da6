"""`make restore-user STACK=... USER=... BACKUP=...`: bring back one user's volume from a backup.

The user's server must be stopped. A restore never replaces a volume: when the user's claim is
gone (a lost volume), Velero restores it where it was; when it still exists, the restore is
refused, or, with --beside, made into a namespace of its own (`restore-USER`) to copy from.
kubectl reaches the stack's cluster through its `kubeconfig` output (read through
tools/pulumi.sh; the local stack's is kubectl's own).
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from components.cluster import HUB_NAMESPACE, VELERO_NAMESPACE
from components.errors import OperatorError
from tools.cli import run
from tools.offline import REPO
from tools.stackfile import check_stack_name

_LABEL_VALUE = re.compile(r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?")
TIMEOUT = 3600.0  # seconds a restore may take
POLL = 5.0
DONE = {"Completed": 0, "PartiallyFailed": 1, "Failed": 1, "FailedValidation": 1}


class Kubectl:
    def __init__(self, kubeconfig: Path | None) -> None:
        self.binary = shutil.which("kubectl")
        if self.binary is None:
            raise OperatorError("kubectl is not installed: make restore-user installs it (make cli-tools)")
        self.kubeconfig = kubeconfig

    def run(self, *args: str, stdin: str | None = None) -> str:
        config = ["--kubeconfig", str(self.kubeconfig)] if self.kubeconfig else []
        done = subprocess.run([self.binary, *config, *args], input=stdin, capture_output=True, text=True,
                              check=False)
        if done.returncode:
            raise OperatorError(f"kubectl {' '.join(args[:3])} failed: {done.stderr.strip()[:500]}")
        return done.stdout


def restore_manifest(user: str, backup: str, beside: bool) -> dict:
    spec = {"backupName": backup, "includedNamespaces": [HUB_NAMESPACE],
            "includedResources": ["persistentvolumeclaims", "persistentvolumes"],
            "labelSelector": {"matchLabels": {"component": "singleuser-storage", "hub.jupyter.org/username": user}},
            "restorePVs": True, "existingResourcePolicy": "none"}
    if beside:
        spec["namespaceMapping"] = {HUB_NAMESPACE: f"restore-{user}".lower()[:63]}
    name = f"restore-user-{user}-{int(time.time())}".lower()[:63].rstrip("-.")
    return {"apiVersion": "velero.io/v1", "kind": "Restore",
            "metadata": {"name": name, "namespace": VELERO_NAMESPACE}, "spec": spec}


def restore_user(kubectl: Kubectl, user: str, backup: str, *, beside: bool = False,
                 timeout: float = TIMEOUT) -> str:
    if not _LABEL_VALUE.fullmatch(user):
        raise OperatorError(f"{user!r} is not the user's name as its labels spell it: give the value of "
                            f"hub.jupyter.org/username (kubectl -n {HUB_NAMESPACE} get pvc --show-labels)")
    selector = f"hub.jupyter.org/username={user}"
    if kubectl.run("get", "pods", "-n", HUB_NAMESPACE, "-l", f"component=singleuser-server,{selector}",
                   "-o", "name").strip():
        raise OperatorError(f"{user}'s server is running: stop it first (the hub's admin page), then run this "
                            f"again; nothing was restored")
    claim = kubectl.run("get", "pvc", "-n", HUB_NAMESPACE, "-l", f"component=singleuser-storage,{selector}",
                        "-o", "name").strip()
    if claim and not beside:
        raise OperatorError(f"{user}'s volume ({claim}) still exists, and a restore never replaces a volume: "
                            f"add --beside (make restore-user ... BESIDE=1) to restore it into the namespace "
                            f"restore-{user} and copy from there; nothing was restored")
    manifest = restore_manifest(user, backup, beside)
    kubectl.run("create", "-f", "-", stdin=json.dumps(manifest))
    name = manifest["metadata"]["name"]
    deadline = time.monotonic() + timeout
    while True:
        phase = kubectl.run("get", "restore", name, "-n", VELERO_NAMESPACE, "-o", "jsonpath={.status.phase}").strip()
        if phase in DONE:
            break
        if time.monotonic() > deadline:
            raise OperatorError(f"restore {name} is still {phase or 'new'} after {timeout:.0f} s: follow it with "
                                f"velero restore describe {name}")
        time.sleep(POLL)
    where = manifest["spec"].get("namespaceMapping", {}).get(HUB_NAMESPACE, HUB_NAMESPACE)
    if DONE[phase]:
        raise OperatorError(f"restore {name} ended {phase}: see velero restore describe {name} --details")
    return f"restore {name} completed: {user}'s volume from backup {backup} is back in namespace {where}"


def stack_kubeconfig(stack: str) -> str | None:
    """The stack's kubeconfig output (a secret, read with --show-secrets), or None where it names
    kubectl's own (the local stack's)."""
    done = subprocess.run([str(REPO / "tools" / "pulumi.sh"), "output", check_stack_name(stack), "kubeconfig",
                           "--show-secrets"], capture_output=True, text=True, check=False)
    if done.returncode:
        raise OperatorError(f"cannot read the kubeconfig of stack {stack}: {done.stderr.strip()[:500]}")
    return done.stdout if done.stdout.lstrip().startswith("apiVersion") else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.restore_user", description=__doc__.splitlines()[0])
    parser.add_argument("stack")
    parser.add_argument("user", help="the user's name, as its hub.jupyter.org/username label spells it")
    parser.add_argument("backup", help="the Velero backup (velero backup get)")
    parser.add_argument("--beside", action="store_true", help="restore into namespace restore-USER instead")
    args = parser.parse_args(argv)
    def command() -> None:
        config = stack_kubeconfig(args.stack)
        with tempfile.TemporaryDirectory(prefix="restore-user-") as folder:
            path = None
            if config:
                path = Path(folder) / "kubeconfig"
                path.touch(mode=0o600)
                path.write_text(config)
            print(restore_user(Kubectl(path), args.user, args.backup, beside=args.beside))

    return run(command)


if __name__ == "__main__":
    sys.exit(main())
