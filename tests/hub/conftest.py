"""The hub package's tests: `hub/` on sys.path, as in the hub pod, and a KubeSpawner to test with.

These tests need only what the z2jh hub image ships (plus pytest and hypothesis), so
they also run in a virtual environment made from hub/hub-image-requirements.txt
(`make test-hub-image`).
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
from pathlib import Path

import pytest

HUB = Path(__file__).resolve().parents[2] / "hub"
sys.path.insert(0, str(HUB))

DUMMY_KUBECONFIG = """\
apiVersion: v1
kind: Config
clusters: [{name: none, cluster: {server: "https://127.0.0.1:1"}}]
users: [{name: none, user: {token: none}}]
contexts: [{name: none, context: {cluster: none, user: none}}]
current-context: none
"""
REGISTRY = "registry.example.org/binder/"
MAINTENANCE_IMAGE = "quay.io/jupyterhub/k8s-network-tools:4.4.0"


# KubeSpawner loads a kubeconfig even when mocked, from a location read when
# kubernetes_asyncio is imported: point it, before any import, at one that reaches nothing.
_KUBECONFIG = Path(tempfile.mkdtemp(prefix="kubeconfig-")) / "config"
_KUBECONFIG.write_text(DUMMY_KUBECONFIG)
os.environ["KUBECONFIG"] = str(_KUBECONFIG)
os.environ.pop("KUBERNETES_SERVICE_HOST", None)


class FakeUser:
    def __init__(self, name: str = "alice"):
        self.name = name
        self.id = 7
        self.url = f"/user/{name}/"
        self.escaped_name = name


class FakeOrmSpawner:
    """What JupyterHub's database row holds for the spawner: its state."""

    server = None  # no server running
    name = ""  # the default server

    def __init__(self, state: dict | None = None):
        self.state = state or {}


@pytest.fixture
def loop():
    """KubeSpawner must be built inside a running event loop: tests run coroutines through this."""
    event_loop = asyncio.new_event_loop()
    asyncio.set_event_loop(event_loop)
    yield event_loop
    # KubeSpawner's shared client leaves a task that closes it when cancelled.
    pending = asyncio.all_tasks(event_loop)
    for task in pending:
        task.cancel()
    event_loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
    asyncio.set_event_loop(None)
    event_loop.close()


@pytest.fixture
def make_spawner(loop):
    """A PersistentBinderSpawner configured as the chart configures it, with a saved state."""
    from persistent_binderhub.spawner import PersistentBinderSpawner

    def make(state: dict | None = None, **settings) -> PersistentBinderSpawner:
        orm_spawner = FakeOrmSpawner(state)

        async def build():
            config = {
                "image": "quay.io/jupyter/base-notebook:2025-01-01",
                "allowed_image_prefixes": [REGISTRY],
                "binder_url": "https://binder.example.org/",
                "maintenance_image": MAINTENANCE_IMAGE,
                # as z2jh >= 4.3 sets them: dicts keyed by name
                "volumes": {"volume-{user_server}": {"name": "volume-{user_server}",
                                                     "persistentVolumeClaim": {"claimName": "claim-{user_server}"}}},
                "volume_mounts": {"volume-{user_server}": {"name": "volume-{user_server}",
                                                           "mountPath": "/home/jovyan"}},
            }
            spawner = PersistentBinderSpawner(_mock=True, user=FakeUser(), orm_spawner=orm_spawner,
                                              **{**config, **settings})
            spawner.load_state(orm_spawner.state)
            return spawner

        return loop.run_until_complete(build())

    return make


class FakePodReflector:
    """KubeSpawner's pod reflector: the pods as the Kubernetes API last showed them."""

    def __init__(self) -> None:
        self.pods: dict[str, dict] = {}

    def show(self, spawner, phase: str, reports: dict[str, str] | None = None) -> None:
        """The user's pod in `phase`, its init containers terminated with these reports."""
        statuses = [{"name": name, "state": {"terminated": {"exitCode": 0, "message": message}}}
                    for name, message in (reports or {}).items()]
        self.pods[f"{spawner.namespace}/{spawner.pod_name}"] = {
            "metadata": {"name": spawner.pod_name}, "status": {"phase": phase, "initContainerStatuses": statuses}}

    def remove(self, spawner) -> None:
        self.pods.pop(f"{spawner.namespace}/{spawner.pod_name}", None)


@pytest.fixture
def reflector(monkeypatch):
    """The spawners' pod reflector (KubeSpawner keeps one per namespace, shared by all spawners)."""
    from persistent_binderhub.spawner import PersistentBinderSpawner

    fake = FakePodReflector()
    monkeypatch.setattr(PersistentBinderSpawner, "reflectors", {("pods", "default"): fake})
    return fake
