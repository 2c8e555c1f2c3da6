"""The simulated cluster's pods are contained as real ones are: a server runs as the notebook's
uid, in its project's folder at /home/jovyan, and sees nothing of the node but what its pod mounts."""

from __future__ import annotations

import json
import os
import queue
from pathlib import Path

from tests.hub.kubelet import PYTHON_PREFIXES, SYSTEM_DIRS, SimulatedNode, remove_tree, scratch_dir
from tests.live.test_stack import clean_up

PROBE = """import json, os
print(json.dumps({"cwd": os.getcwd(), "uid": os.getuid(), "root": sorted(os.listdir("/")),
                  "home": sorted(os.listdir("/home/jovyan")), "node": os.path.exists(%r)}))"""


def test_a_server_sees_of_the_node_only_what_its_pod_mounts(stack, simulated, repositories):
    _, node, _ = simulated
    try:
        server = stack.server(stack.server_url(stack.build(repositories[0])["url"]))
        seen = json.loads(server.run(PROBE % str(node.claims)))
    finally:
        clean_up(stack, repositories)
    assert seen["cwd"] == "/home/jovyan"
    assert seen["uid"] == 1000
    assert {"README.md", "analysis.ipynb"} <= set(seen["home"])  # the project's seeded copy
    assert seen["node"] is False, "the server can see the node's folders of every claim"
    # Of the node's root: its system folders and the Python that runs the server, nothing else.
    node_entries = {entry.name for entry in os.scandir("/") if entry.is_symlink()} | {
        Path(folder).parts[1] for folder in (*SYSTEM_DIRS, *PYTHON_PREFIXES)}
    assert set(seen["root"]) == node_entries | {"tmp", "home", "projects"}


def test_a_pod_the_node_cannot_run_fails_and_says_why():
    directory = scratch_dir()
    try:
        node = SimulatedNode(directory, images={})
        statuses: queue.Queue = queue.Queue()
        pod = {"metadata": {"name": "jupyter-ada"},
               "spec": {"volumes": [{"name": "home", "persistentVolumeClaim": {"claimName": "claim-ada"}}],
                        "containers": [{"name": "notebook", "image": "registry.example.org/binder/x:1"}]}}
        node.run(pod, statuses.put)
        assert statuses.get(timeout=10)["phase"] == "Failed"
        assert "claim claim-ada was never created" in (node.logs / "jupyter-ada.kubelet.log").read_text()
    finally:
        remove_tree(directory)
