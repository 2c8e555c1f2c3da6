"""The Harbor setup Job's script, run for real with sh and curl against a stand-in Harbor API."""

from __future__ import annotations

import base64
import json
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from components.harbor import HARBOR_SETUP_SCRIPT

ADMIN_PASSWORD = 'adm"in\\pass word'  # quotes, a backslash and a space survive curl's config quoting
ROBOT_SECRET = "Robot1Secret2Value3"


class FakeHarbor:
    """Harbor's API as the script uses it, keeping what was created and every request."""

    def __init__(self, project_exists: bool = False, robot_id: int | None = None, retention_id: int | None = None):
        self.projects = {"binder": 7} if project_exists else {}
        self.robot_id = robot_id
        self.retention_id = retention_id
        self.requests: list[tuple[str, str, dict | None]] = []
        self.robot_secret = None

    def handle(self, method: str, path: str, auth: str | None, body: dict | None) -> tuple[int, object]:
        self.requests.append((method, path, body))
        if path == "/api/v2.0/health":
            return 200, {"status": "healthy"}
        if auth != "Basic " + base64.b64encode(f"admin:{ADMIN_PASSWORD}".encode()).decode():
            return 401, {"errors": [{"code": "UNAUTHORIZED"}]}
        if method == "GET" and path == "/api/v2.0/projects/binder":
            return (200, {"project_id": self.projects["binder"], "name": "binder"}) if self.projects else (404, {})
        if method == "POST" and path == "/api/v2.0/projects":
            self.projects[body["project_name"]] = 7
            return 201, {}
        # Harbor stores a project robot's name without the robot$ prefix, and queries it so.
        if method == "GET" and path == "/api/v2.0/robots?q=name%3Dbinder%2Bbinderhub":
            return 200, [{"id": self.robot_id, "name": "robot$binder+binderhub"}] if self.robot_id else []
        if method == "POST" and path == "/api/v2.0/robots":
            self.robot_id = 42
            return 201, {"id": 42, "name": "robot$binder+binderhub", "secret": "generated-by-harbor"}
        if method == "PATCH" and path == f"/api/v2.0/robots/{self.robot_id}":
            self.robot_secret = body["secret"]
            return 200, {}
        if method == "GET" and path == "/api/v2.0/projects/binder/metadatas/retention_id":
            return 200, {"retention_id": str(self.retention_id)} if self.retention_id else {}
        if method in ("POST", "PUT") and path.startswith("/api/v2.0/retentions"):
            self.retention_id = self.retention_id or 3
            return 201, {}
        return 404, {"errors": [{"code": "NOT_FOUND", "message": path}]}


@pytest.fixture
def harbor():
    def serve(fake: FakeHarbor):
        class Handler(BaseHTTPRequestHandler):
            def _answer(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length)) if length else None
                status, payload = fake.handle(self.command, self.path, self.headers.get("Authorization"), body)
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_PATCH = _answer  # noqa: N815 (http.server's names)

            def log_message(self, *args):
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}"

    servers: list[ThreadingHTTPServer] = []
    yield serve
    for server in servers:
        server.shutdown()


def run_setup(url: str, admin_password: str = ADMIN_PASSWORD) -> subprocess.CompletedProcess:
    env = {"PATH": "/usr/bin:/bin", "HARBOR_URL": url, "PROJECT": "binder", "ROBOT": "binderhub",
           "RETENTION_DAYS": "30", "HARBOR_ADMIN_PASSWORD": admin_password, "ROBOT_SECRET": ROBOT_SECRET}
    return subprocess.run(["/bin/sh", str(HARBOR_SETUP_SCRIPT)], env=env, capture_output=True, text=True,
                          timeout=60, check=False)


def test_a_new_harbor_gets_project_robot_and_retention(harbor):
    fake = FakeHarbor()
    result = run_setup(harbor(fake))
    assert result.returncode == 0, result.stderr
    calls = [(method, path.split("?")[0]) for method, path, _ in fake.requests]
    assert calls == [("GET", "/api/v2.0/health"), ("GET", "/api/v2.0/projects/binder"),
                     ("POST", "/api/v2.0/projects"), ("GET", "/api/v2.0/projects/binder"),
                     ("GET", "/api/v2.0/robots"), ("POST", "/api/v2.0/robots"), ("PATCH", "/api/v2.0/robots/42"),
                     ("GET", "/api/v2.0/projects/binder/metadatas/retention_id"), ("POST", "/api/v2.0/retentions")]
    project = fake.requests[2][2]
    assert project == {"project_name": "binder", "metadata": {"public": "false"}}
    robot = fake.requests[5][2]
    assert robot["level"] == "project"
    assert {a["action"] for a in robot["permissions"][0]["access"]} == {"push", "pull"}
    assert fake.robot_secret == ROBOT_SECRET  # the secret Pulumi generated, not Harbor's
    rule = fake.requests[-1][2]["rules"][0]
    assert (rule["template"], rule["params"]) == ("nDaysSinceLastPush", {"nDaysSinceLastPush": 30})
    assert fake.requests[-1][2]["scope"] == {"level": "project", "ref": 7}
    for secret in (ADMIN_PASSWORD, ROBOT_SECRET):
        assert secret not in result.stdout + result.stderr


def test_a_second_run_only_updates(harbor):
    fake = FakeHarbor(project_exists=True, robot_id=42, retention_id=3)
    assert run_setup(harbor(fake)).returncode == 0
    methods = [(method, path.split("?")[0]) for method, path, _ in fake.requests if method != "GET"]
    assert methods == [("PATCH", "/api/v2.0/robots/42"), ("PUT", "/api/v2.0/retentions/3")]


def test_a_wrong_admin_password_fails_the_job(harbor):
    fake = FakeHarbor()
    result = run_setup(harbor(fake), admin_password="not-the-password")
    assert result.returncode != 0
    assert "not-the-password" not in result.stdout + result.stderr
    assert fake.robot_secret is None
