"""The simulated cluster's pods are contained as real ones are: a server runs as the notebook's
uid, in its project's folder at /home/jovyan, and sees nothing of the node but what its pod mounts."""

from __future__ import annotations

import json

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
    assert "projects" in seen["root"]
    assert seen["node"] is False, "the server can see the node's folders of every claim"
