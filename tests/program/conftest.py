"""The test harness: the real program under fresh Pulumi mocks, and scratch copies of the project."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from components.errors import OperatorError
from components.sops import run_sops
from tools import pulumi_runtime as runtime
from tools.offline import REPO, OfflineRun, RecordingMonitor, run_program

EXAMPLE_STACKS = ("example-gke", "example-magnum", "example-kubeadm", "local")
PROJECT_DATA = ("Pulumi.yaml", ".sops.yaml", "stacks", "secrets")


def unwrapped(value):
    """A property tree with Pulumi's secret wrappers replaced by what they hold."""
    if isinstance(value, dict):
        if value.get(runtime.SIGNATURE_KEY) == runtime.SECRET:
            return unwrapped(value["value"])
        return {key: unwrapped(item) for key, item in value.items()}
    if isinstance(value, list):
        return [unwrapped(item) for item in value]
    return value


@pytest.fixture(scope="session")
def example_renders(tmp_path_factory) -> dict[str, Path]:
    """Each example stack rendered once for the whole session (python -m tools.render's files)."""
    from tools.render import render

    base = tmp_path_factory.mktemp("example-renders")
    for stack in EXAMPLE_STACKS:
        render(stack, base / stack)
    return {stack: base / stack for stack in EXAMPLE_STACKS}


@pytest.fixture(scope="session")
def example_runs() -> dict[str, tuple[OfflineRun, RecordingMonitor]]:
    """Each example stack run once for the whole session; the monitor also holds the inputs as
    the provider gets them (a render masks secrets, and whole properties with them)."""
    runs = {}
    for stack in EXAMPLE_STACKS:
        monitor = RecordingMonitor()
        runs[stack] = (run_program(stack, monitor=monitor), monitor)
    return runs


def release(example_runs, stack: str, name: str):
    """A chart release of a stack: its registration (values as rendered) and its values as given."""
    run, monitor = example_runs[stack]
    (chart,) = [r for r in run.of_type("kubernetes:helm.sh/v4:Chart") if r.name == name]
    return chart, unwrapped(monitor.resources[chart.urn].state)["values"]


@pytest.fixture
def offline() -> Callable[..., OfflineRun]:
    """Run the real `__main__.py` for a named stack under a fresh mock runtime.

    Returns every registered resource with its resolved (redacted) inputs.
    """
    return run_program


def refusal(stack: str, project_dir: Path = REPO) -> str:
    """Run a stack that must be refused: return the message, after checking nothing was registered."""
    monitor = RecordingMonitor()
    with pytest.raises(OperatorError) as caught:
        run_program(stack, project_dir, monitor=monitor)
    assert monitor.registrations == [], "resources were registered before the refusal"
    return str(caught.value)


class AgeKey:
    """A fresh age key pair, its identity in a key file as age-keygen writes it."""

    def __init__(self, directory: Path):
        import pyrage

        identity = pyrage.x25519.Identity.generate()
        self.recipient = str(identity.to_public())
        self.file = directory / f"{self.recipient[:12]}.agekey"
        self.file.write_text(f"# public key: {self.recipient}\n{identity}\n")


class Project:
    """A scratch copy of the project's data (stacks, secrets, .sops.yaml) to break on purpose."""

    def __init__(self, root: Path):
        self.root = root
        root.mkdir(parents=True)
        for name in PROJECT_DATA:
            source = REPO / name
            if source.is_dir():
                shutil.copytree(source, root / name)
            else:
                shutil.copy(source, root / name)

    def stack_path(self, stack: str) -> Path:
        return self.root / "stacks" / f"Pulumi.{stack}.yaml"

    def secrets_path(self, stack: str) -> Path:
        return self.root / "secrets" / f"{stack}.sops.yaml"

    def config(self, stack: str) -> dict:
        return yaml.safe_load(self.stack_path(stack).read_text())["config"]

    def write_config(self, stack: str, config: dict) -> None:
        self.stack_path(stack).write_text(yaml.safe_dump({"config": config}, sort_keys=False))

    def copy_stack(self, source: str, target: str) -> None:
        shutil.copy(self.stack_path(source), self.stack_path(target))

    def encrypt_secrets(self, stack: str, values: dict[str, str], recipients: list[str]) -> None:
        """Write `secrets/<stack>.sops.yaml` encrypted with the real sops to `recipients`."""
        plain = self.root.parent / f"{stack}.plain.yaml"  # outside, so .sops.yaml rules do not apply
        plain.write_text(yaml.safe_dump(values))
        result = run_sops(["encrypt", "--age", ",".join(recipients), "--input-type", "yaml",
                           "--output-type", "yaml", str(plain)], cwd=self.root.parent)
        plain.unlink()
        assert result.returncode == 0, result.stderr
        self.secrets_path(stack).write_text(result.stdout)


@pytest.fixture
def project(tmp_path: Path) -> Project:
    return Project(tmp_path / "project")


@pytest.fixture
def age_key(tmp_path: Path) -> AgeKey:
    return AgeKey(tmp_path)
