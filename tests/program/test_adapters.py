"""The doors to private APIs, pinned: each works with the library version this repository pins.

A new version of the Pulumi SDK, or of JupyterHub, fails here first, and names the adapter to
look at: components/settings/pulumi_config.py and tools/pulumi_runtime.py.
"""

from __future__ import annotations

import re
from importlib.metadata import version

import pulumi
import pytest

from components.settings.pulumi_config import running_stack_config
from tools import pulumi_runtime as runtime
from tools.offline import MASKED, REPO, RecordingMonitor, run_program


def _pinned(package: str) -> str:
    (pin,) = re.findall(rf"^{package}==(\S+)$", (REPO / "requirements.txt").read_text(), re.MULTILINE)
    return pin


def test_the_adapters_are_checked_against_the_pinned_pulumi_sdk():
    assert version("pulumi") == _pinned("pulumi")


def test_the_running_stacks_config_lists_every_key_also_from_the_environment(monkeypatch):
    monkeypatch.setenv("PULUMI_CONFIG", '{"persistent-binderhub:fromEnv": "1"}')
    pulumi.runtime.set_all_config({"persistent-binderhub:inProcess": "2"}, [])
    try:
        config = running_stack_config()
    finally:
        pulumi.runtime.set_all_config({}, [])
    assert config["persistent-binderhub:fromEnv"] == "1"
    assert config["persistent-binderhub:inProcess"] == "2"


def test_secrets_reach_the_monitor_marked_with_the_signature_the_adapter_names():
    monitor = RecordingMonitor()
    run = run_program("local", monitor=monitor)
    chart = run.named("kubernetes:helm.sh/v4:Chart", "jupyterhub")
    # A secret inside the values makes all of them secret, as the engine gets them...
    given = monitor.resources[chart.urn].state["values"]
    assert given[runtime.SIGNATURE_KEY] == runtime.SECRET
    assert re.fullmatch("[0-9a-f]{64}", given["value"]["proxy"]["secretToken"])
    # ...and the render, recognising the signature, masks them.
    assert chart.inputs["values"]["proxy"]["secretToken"] == MASKED
    assert len({runtime.SECRET, runtime.RESOURCE, runtime.ASSET, runtime.ARCHIVE}) == 4


@pytest.mark.parametrize("order", [("local", "example-gke"), ("example-gke", "local")])
def test_runs_in_one_process_start_afresh(order):
    """Each run has its own root stack and outputs (the adapter resets what set_mocks keeps)."""
    first, second = (run_program(stack) for stack in order)
    assert first.stack != second.stack
    assert ("ingressAddress" in first.outputs) == (first.stack == "example-gke")
    assert ("ingressAddress" in second.outputs) == (second.stack == "example-gke")
    assert all(f":{second.stack}::" in resource.urn for resource in second.resources)
