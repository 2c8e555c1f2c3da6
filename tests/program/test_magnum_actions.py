"""Magnum's upgrade and resize actions, run as the program's local commands run them, against a
stand-in Keystone and Magnum on 127.0.0.1."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tools.offline import REPO

SCRIPT = REPO / "components" / "platforms" / "magnum_actions.py"
SECRET = "app-credential-secret-9f8e7d"
TOKEN = "token-4a5b6c"


class FakeCloud:
    """Keystone's token API and the part of Magnum's API the actions use. An action takes two polls."""

    def __init__(self, template="old-template", nodes=1, outcome="UPDATE_COMPLETE"):
        self.cluster = {"uuid": "c1", "cluster_template_id": template, "status": "CREATE_COMPLETE"}
        self.groups = {"user": {"name": "user", "node_count": nodes, "status": "CREATE_COMPLETE"}}
        self.outcome, self.polls, self.posts = outcome, 0, []

    def handle(self, method: str, path: str, body: dict | None, token: str | None) -> tuple[int, dict, dict]:
        if path == "/identity/v3/auth/tokens":
            credential = body["auth"]["identity"]["application_credential"]
            if credential != {"id": "app-id", "secret": SECRET}:
                return 401, {"error": "bad credential"}, {}
            catalog = [{"type": "container-infra", "endpoints": [
                {"interface": "internal", "region": "RegionOne", "url": "http://wrong"},
                {"interface": "public", "region": "RegionOne", "url": self.base + "/magnum/"}]}]
            return 201, {"token": {"catalog": catalog}}, {"X-Subject-Token": TOKEN}
        if token != TOKEN:
            return 401, {}, {}
        if method == "POST":
            self.posts.append((path, body))
            target = self.cluster if path.endswith("/upgrade") else self.groups[body["nodegroup"]]
            target["status"] = "UPDATE_IN_PROGRESS"
            self.polls = 0
            if path.endswith("/upgrade"):
                self.cluster["cluster_template_id"] = body["cluster_template"]
            else:
                target["node_count"] = body["node_count"]
            return 202, {"uuid": "c1"}, {}
        if path == "/magnum/v1/clusters/c1":
            return 200, self._poll(self.cluster), {}
        if path.startswith("/magnum/v1/clusters/c1/nodegroups/"):
            group = self.groups.get(path.rsplit("/", 1)[1])
            return (200, self._poll(group), {}) if group else (404, {}, {})
        return 404, {}, {}

    def _poll(self, target: dict) -> dict:
        if target["status"] == "UPDATE_IN_PROGRESS":
            self.polls += 1
            if self.polls >= 2:
                target["status"] = self.outcome
                target["status_reason"] = "a node did not come up" if self.outcome == "UPDATE_FAILED" else None
        return dict(target)


@pytest.fixture
def cloud():
    fake = FakeCloud()

    class Handler(BaseHTTPRequestHandler):
        def _serve(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length)) if length else None
            assert self.headers["OpenStack-API-Version"] == "container-infra latest"
            status, answer, headers = fake.handle(self.command, self.path, body, self.headers.get("X-Auth-Token"))
            payload = json.dumps(answer).encode()
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = _serve  # noqa: N815 (http.server's names)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    fake.base = f"http://127.0.0.1:{server.server_port}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield fake
    server.shutdown()


def run(cloud: FakeCloud, *args: str, secret: str = SECRET) -> subprocess.CompletedProcess:
    env = {"OS_AUTH_URL": cloud.base + "/identity/v3", "OS_REGION_NAME": "RegionOne",
           "OS_APPLICATION_CREDENTIAL_ID": "app-id", "OS_APPLICATION_CREDENTIAL_SECRET": secret,
           "MAGNUM_POLL_SECONDS": "0.01", "MAGNUM_ACTION_TIMEOUT": "10"}
    result = subprocess.run([sys.executable, "-I", str(SCRIPT), *args], env=env, capture_output=True, text=True,
                            timeout=60, check=False)
    assert SECRET not in result.stdout + result.stderr
    return result


def test_an_upgrade_moves_the_cluster_to_the_new_template_and_waits(cloud):
    result = run(cloud, "upgrade", "c1", "new-template")
    assert result.returncode == 0, result.stderr
    assert cloud.posts == [("/magnum/v1/clusters/c1/actions/upgrade",
                            {"cluster_template": "new-template", "max_batch_size": 1})]
    assert cloud.cluster["status"] == "UPDATE_COMPLETE"  # it waited for the end
    assert "upgraded to cluster template new-template" in result.stderr


def test_an_upgrade_to_the_template_in_use_does_nothing(cloud):
    result = run(cloud, "upgrade", "c1", "old-template")
    assert result.returncode == 0
    assert cloud.posts == []


def test_a_failed_upgrade_fails_with_magnums_reason(cloud):
    cloud.outcome = "UPDATE_FAILED"
    result = run(cloud, "upgrade", "c1", "new-template")
    assert result.returncode == 1
    assert "the upgrade of cluster c1 to template new-template failed: a node did not come up" in result.stderr


def test_a_group_grows_to_its_new_minimum_before_the_minimum_is_raised(cloud):
    result = run(cloud, "grow", "c1", "user", "3")
    assert result.returncode == 0, result.stderr
    assert cloud.posts == [("/magnum/v1/clusters/c1/actions/resize", {"node_count": 3, "nodegroup": "user"})]
    assert cloud.groups["user"]["node_count"] == 3


@pytest.mark.parametrize(("group", "minimum"), [("user", "1"), ("core", "2")])
def test_a_group_large_enough_or_not_made_yet_is_left_alone(cloud, group, minimum):
    result = run(cloud, "grow", "c1", group, minimum)
    assert result.returncode == 0, result.stderr
    assert cloud.posts == []


def test_a_wrong_credential_is_reported_without_echoing_it(cloud):
    result = run(cloud, "upgrade", "c1", "new-template", secret="not-the-secret")
    assert result.returncode == 1
    assert "auth/tokens answered 401" in result.stderr
    assert "not-the-secret" not in result.stderr


def test_bad_arguments_exit_2(cloud):
    assert run(cloud, "grow", "c1", "user", "many").returncode == 2
    assert run(cloud, "shrink", "c1").returncode == 2
