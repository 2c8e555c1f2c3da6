"""The live suite's stack, simulated: a real hub and proxy (tests/hub/running_hub.py), whose pods
really run on a simulated node (tests/hub/kubelet.py), and a stand-in BinderHub (binderhub.py).

The test user signs in through the login form, as on the `local` stack, and the suite reaches
everything through the same public URLs it uses against a deployment.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from tests.hub.kubelet import SimulatedNode, remove_tree, scratch_dir
from tests.hub.running_hub import PASSWORD, SeedUser, binder_service, running_hub
from tests.live.stack import LiveStack, Timeouts, token_by_login
from tests.simulation.binderhub import StandInBinderHub

USER = "tess"
BINDER_TOKEN = "binder-service-token-simulation-0123456789"
NOTEBOOK = json.dumps({"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5})
REPOSITORIES = {
    "gh/example/analysis": {"README.md": "# Analysis\n", "analysis.ipynb": NOTEBOOK,
                            "requirements.txt": "numpy\n"},
    "gh/example/course": {"README.md": "# Course\n", "lesson-1.ipynb": NOTEBOOK},
}
# Shorter than a real cluster's: everything here is local, and a hang should fail fast.
TIMEOUTS = Timeouts(build=120, start=120, stop=60, request=30, settle=10)


@pytest.fixture(scope="session")
def simulated(tmp_path_factory) -> Iterator[tuple]:
    # The node's folders under /tmp, which the notebook's uid can reach (pytest's are root-only).
    node_directory = scratch_dir()
    node = SimulatedNode(node_directory, images={})
    try:
        with running_hub(tmp_path_factory.mktemp("simulated-hub"), {USER: SeedUser()}, base_url="/jh/",
                         node=node, chart_config=binder_service(BINDER_TOKEN)) as hub, \
                StandInBinderHub(hub, node, BINDER_TOKEN, REPOSITORIES, node_directory / "images") as binder:
            yield hub, node, binder
    finally:
        remove_tree(node_directory)


@pytest.fixture(scope="session")
def stack(simulated) -> LiveStack:
    hub, _, binder = simulated
    return LiveStack(hub.url, binder.url, token_by_login(hub.url, USER, PASSWORD), TIMEOUTS)


@pytest.fixture(scope="session")
def repositories() -> tuple[str, str]:
    return tuple(f"{name}/HEAD" for name in REPOSITORIES)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """A failed test's evidence: the hub's log and every container's log of the simulated node."""
    report = yield
    if report.failed and "simulated" in getattr(item, "funcargs", {}):
        hub, node, _ = item.funcargs["simulated"]
        report.sections.append(("the hub's log (end)", hub.log()[-8000:]))
        for log in sorted(node.logs.glob("*.log")):
            report.sections.append((f"container log {log.name} (end)", log.read_text(errors="replace")[-4000:]))
    return report
