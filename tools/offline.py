"""Run the real Pulumi program under Pulumi's mocks: no cloud, no CLI, no credentials.

The mock monitor records every registration exactly as the engine would receive
it (inputs, parent, options), with every secret replaced by `[secret]`, and marks
`additionalSecretOutputs` secret the way the engine does.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import os
import runpy
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
from google.protobuf import json_format, struct_pb2
from pulumi.runtime import mocks

from components.secrets import MASKED, WITHOUT_SECRETS
from components.settings import PROJECT
from tools import pulumi_runtime as runtime
from tools.stackfile import read_stack_config

REPO = Path(__file__).resolve().parent.parent
PROGRAM = REPO / "__main__.py"
CHART_TYPE = "kubernetes:helm.sh/v4:Chart"  # the one way this project installs charts


@dataclass
class Registration:
    """One resource as the program registered it."""

    urn: str
    type: str
    name: str
    parent: str | None
    custom: bool
    inputs: dict[str, Any]
    options: dict[str, Any]


@dataclass
class OfflineRun:
    """Everything one offline run registered (the root stack excluded) and exported."""

    stack: str
    resources: list[Registration]
    outputs: dict[str, Any] = field(default_factory=dict)

    def of_type(self, type_: str) -> list[Registration]:
        return [r for r in self.resources if r.type == type_]

    def named(self, type_: str, name: str) -> Registration:
        matches = [r for r in self.of_type(type_) if r.name == name]
        if len(matches) != 1:
            raise LookupError(f"{len(matches)} resources of type {type_} named {name}")
        return matches[0]


# Outputs a real provider would compute, made up deterministically from the resource name.
def _fake_password(args: mocks.MockResourceArgs) -> dict[str, Any]:
    alphabet = "0123456789abcdef"
    digest = hashlib.sha256(f"offline:{args.name}".encode()).hexdigest()
    length = int(args.inputs.get("length", 32))
    return {"result": "".join(alphabet[int(c, 16)] for c in (digest * 4)[:length]),
            "bcryptHash": f"$2a$10${digest[:53]}"}


def _fake_service_account(args: mocks.MockResourceArgs) -> dict[str, Any]:
    email = f"{args.inputs['accountId']}@offline.iam.gserviceaccount.com"
    return {"email": email, "member": f"serviceAccount:{email}", "name": f"projects/-/serviceAccounts/{email}"}


_FAKE_CA = base64.b64encode(b"-----BEGIN CERTIFICATE-----\noffline\n-----END CERTIFICATE-----\n").decode()
_FAKE_KUBECONFIG = "apiVersion: v1\nkind: Config\nclusters: []\n# made up offline\n"

FAKE_OUTPUTS: dict[str, Callable[[mocks.MockResourceArgs], dict[str, Any]]] = {
    "random:index/randomPassword:RandomPassword": _fake_password,
    "gcp:container/cluster:Cluster": lambda args: {
        "endpoint": "203.0.113.10", "masterAuth": {"clusterCaCertificate": _FAKE_CA},
        "masterVersion": "1.33.5-gke.1200000"},
    "gcp:serviceaccount/account:Account": _fake_service_account,
    "gcp:serviceaccount/key:Key": lambda args: {
        "privateKey": base64.b64encode(b'{"type": "service_account", "private_key": "offline"}').decode()},
    "gcp:compute/address:Address": lambda args: {"address": "203.0.113.20"},
    "tls:index/privateKey:PrivateKey": lambda args: {
        "privateKeyPem": "-----BEGIN RSA PRIVATE KEY-----\noffline\n-----END RSA PRIVATE KEY-----\n"},
    "tls:index/selfSignedCert:SelfSignedCert": lambda args: {
        "certPem": "-----BEGIN CERTIFICATE-----\noffline\n-----END CERTIFICATE-----\n"},
    "openstack:networking/floatingIp:FloatingIp": lambda args: {"address": "198.51.100.20"},
    "command:remote:Command": lambda args: {"stdout": (
        "sha256:" + hashlib.sha256(b"offline ca").hexdigest() if args.name.endswith("join-token")
        else _FAKE_KUBECONFIG if args.name.endswith("admin-kubeconfig") else "")},
    "openstack:containerinfra/cluster:Cluster": lambda args: {
        "kubeconfig": {"raw_config": _FAKE_KUBECONFIG, "host": "https://198.51.100.10:6443"}},
}


# What a real provider's data sources would answer, made up deterministically.
FAKE_CALLS: dict[str, Callable[[mocks.MockCallArgs], dict[str, Any]]] = {
    "openstack:images/getImage:getImage": lambda args: {
        "id": f"image-{args.args.get('name')}", "name": args.args.get("name"),
        "properties": {"kube_version": "v1.31.4", "os_distro": "ubuntu"}},
}


class OfflineMocks(mocks.Mocks):
    def new_resource(self, args: mocks.MockResourceArgs):
        # Providers name what is not named explicitly; here, by the resource's own name.
        outputs = {"name": args.name, **args.inputs}
        fake = FAKE_OUTPUTS.get(args.typ)
        if fake:
            outputs.update(fake(args))
        return f"{args.name}-id", outputs

    def call(self, args: mocks.MockCallArgs):
        fake = FAKE_CALLS.get(args.token)
        return fake(args) if fake else {}  # a dict alone: no check failures


class RecordingMonitor(mocks.MockMonitor):
    """A mock monitor that keeps each registration request, redacted."""

    def __init__(self) -> None:
        super().__init__(OfflineMocks())
        self.registrations: list[Registration] = []

    def RegisterResource(self, request):  # noqa: N802 (gRPC method name)
        response = _in_own_event_loop(super().RegisterResource, request)
        if request.type == "pulumi:pulumi:Stack":
            return response
        for key in request.additionalSecretOutputs:
            if key in response.object.fields:
                _mark_secret(response.object.fields[key])
        self.registrations.append(Registration(
            urn=response.urn,
            type=request.type,
            name=request.name,
            parent=request.parent or None,
            custom=request.custom,
            inputs=redact(json_format.MessageToDict(request.object)),
            options={
                "protect": bool(request.protect),
                "ignoreChanges": sorted(request.ignoreChanges),
                "replaceOnChanges": sorted(request.replaceOnChanges),
                "retainOnDelete": bool(request.retainOnDelete),
                "deleteBeforeReplace": bool(request.deleteBeforeReplace),
                "additionalSecretOutputs": sorted(request.additionalSecretOutputs),
                "dependsOn": sorted(request.dependencies),
                "provider": request.provider.rsplit("::", 1)[0] if request.provider else None,
            },
        ))
        return response


def _in_own_event_loop(method: Callable, request: Any) -> Any:
    """Call a mock monitor method (run in an executor thread) with a loop closed right after.

    The mock monitor makes a thread's event loop on demand and never closes it; left
    to the garbage collector at interpreter exit, such loops print spurious errors.
    """
    if threading.current_thread() is threading.main_thread():
        return method(request)  # the main thread's loop is the program's own
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        return method(request)
    finally:
        asyncio.set_event_loop(None)
        loop.close()


def _mark_secret(value: struct_pb2.Value) -> None:
    wrapped = struct_pb2.Value()
    wrapped.struct_value.fields[runtime.SIGNATURE_KEY].string_value = runtime.SECRET
    wrapped.struct_value.fields["value"].CopyFrom(value)
    value.CopyFrom(wrapped)


_SIGNATURE_LABELS: dict[str, Callable[[dict], str]] = {
    runtime.SECRET: lambda value: MASKED,
    runtime.RESOURCE: lambda value: f"[resource {value.get('urn')}]",
    runtime.ASSET: lambda value: f"[asset {value.get('path') or value.get('uri') or 'text'}]",
    runtime.ARCHIVE: lambda value: f"[archive {value.get('path') or value.get('uri') or 'assets'}]",
}


def redact(value: Any) -> Any:
    """A serialized property tree with secrets as `[secret]` and references made readable."""
    if isinstance(value, dict):
        label = _SIGNATURE_LABELS.get(value.get(runtime.SIGNATURE_KEY))
        return label(value) if label else {key: redact(item) for key, item in value.items()}
    if isinstance(value, list):
        return [redact(item) for item in value]
    if value == runtime.UNKNOWN:
        return "[unknown]"
    # protobuf keeps every number as a double
    return int(value) if isinstance(value, float) and value.is_integer() else value


async def _resolve(value: Any) -> Any:
    output = pulumi.Output.from_input(value)
    resolved = await output.future()
    return MASKED if await output.is_secret() else resolved


def run_program(stack: str, project_dir: Path = REPO, program: Path = PROGRAM,
                monitor: RecordingMonitor | None = None, *, without_secrets: bool = False) -> OfflineRun:
    """Run `program` for `stack` under mocks, with the config of the stack file in `project_dir`.

    The Pulumi runtime is process-global: each run gets a fresh event loop, config,
    root stack and monitor. An OperatorError from the program propagates; pass a
    `monitor` to see what was registered before it. `without_secrets`: no decryption, every
    secret the masked placeholder (components/secrets.py), for a render without the key.
    """
    with _environment(WITHOUT_SECRETS, "1" if without_secrets else None):
        return _run(stack, project_dir, program, monitor)


@contextlib.contextmanager
def _environment(name: str, value: str | None) -> Iterator[None]:
    """NAME set to VALUE (or unset) for the block, as it was after."""
    before = os.environ.pop(name, None)
    if value is not None:
        os.environ[name] = value
    try:
        yield
    finally:
        os.environ.pop(name, None)
        if before is not None:
            os.environ[name] = before


def _run(stack: str, project_dir: Path, program: Path, monitor: RecordingMonitor | None) -> OfflineRun:
    config = read_stack_config(project_dir, stack)
    monitor = monitor or RecordingMonitor()
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        runtime.forget_root()
        pulumi.runtime.set_all_config(config, [])
        pulumi.runtime.set_mocks(monitor.mocks, project=PROJECT, stack=stack, preview=False, monitor=monitor)
        runtime.start_in(project_dir)
        loop.run_until_complete(runtime.run_as_program(lambda: runpy.run_path(str(program), run_name="__main__")))
        outputs = {key: loop.run_until_complete(_resolve(value))
                   for key, value in sorted(runtime.root_outputs().items())}
    finally:
        runtime.forget_root()
        loop.close()
        asyncio.set_event_loop(None)
    return OfflineRun(stack, sorted(monitor.registrations, key=lambda r: r.urn), outputs)
