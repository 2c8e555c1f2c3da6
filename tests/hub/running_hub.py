"""A real JupyterHub 5.5.0 process behind configurable-http-proxy, for the API, browser and benchmark tests.

`running_hub(...)` seeds a fresh sqlite database with users and their spawner state
(through jupyterhub.orm, before the hub starts), writes a `jupyterhub_config.py` that
configures the package exactly as the chart does (`configure(c)` plus a few
`c.PersistentBinderSpawner.*` lines), starts configurable-http-proxy (npm, from
tests/hub/package-lock.json) as its own process, as z2jh runs it in its own pod, then
`jupyterhub`, and waits until the hub API answers through the proxy. Everything lives
in a temporary directory and is stopped on exit.

KubeSpawner loads a kubeconfig when it is constructed. Every hub gets one that points
at `FakeKubernetes`: a few lines of HTTP on 127.0.0.1 that answer what KubeSpawner asks of
the API (pods and claims: create, read, list, watch, delete). With a `node`
(kubelet.SimulatedNode), the pods a spawner creates really run: their init containers,
then jupyterhub-singleuser; without one they stay Pending. A user seeded with
`running=True` gets an `orm.Server` in the database and a pod in that fake cluster that is
Running and Ready with its pod IP on 127.0.0.1, where a stand-in for jupyterhub-singleuser
answers: at startup the hub polls the spawner, finds the pod running and the server up,
and keeps the server, so the user really has an active server in the hub's eyes (the 409
of the projects API, the Open/Stop buttons). A bare `orm.Server` without a pod would not
do: the hub's startup check finds no pod and removes it.
"""

from __future__ import annotations

import contextlib
import copy
import itertools
import json
import os
import queue
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from jupyterhub import orm
from playwright.sync_api import Browser, Page, expect, sync_playwright
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
HUB_PACKAGE_DIR = REPO / "hub"
if str(REPO / "hub") not in sys.path:  # as tests/hub/conftest.py does, for `persistent_binderhub` below
    sys.path.insert(0, str(REPO / "hub"))

from persistent_binderhub.projects import (  # noqa: E402
    Project,
    ProjectsState,
    canonical_repo_url,
    display_name,
    folder_name,
    project_id,
)

from tests.hub.kubelet import SimulatedNode, now, stop_process  # noqa: E402
from tests.live.stack import login  # noqa: E402

VENV_BIN = Path(sys.executable).parent
JUPYTERHUB = VENV_BIN / "jupyterhub"
CHP = HERE / "node_modules" / ".bin" / "configurable-http-proxy"
CHROMIUM = Path("/usr/bin/chromium")

PASSWORD = "correct horse battery staple"
REGISTRY = "registry.example.org/binder/"
BINDER_URL = "https://binder.example.org/"
DEFAULT_IMAGE = f"{REGISTRY}default-image:2025.1"
MAINTENANCE_IMAGE = "quay.io/jupyterhub/k8s-network-tools:4.4.0"
NAMESPACE = "binder-test"
STARTUP_TIMEOUT = 30.0


# --- seed data -------------------------------------------------------------------


def project(url: str, ref: str = "main", *, last_used: str | None = "2025-06-01T10:00:00Z",
            request: str | None = None) -> Project:
    """A project as the spawner stores it after a successful launch of `url` at `ref`."""
    url = canonical_repo_url(url)
    tag = re.sub(r"[^A-Za-z0-9_.-]", "-", ref)[:128]
    slug = re.sub(r"[^a-z0-9]+", "-", url.lower().split("://", 1)[-1]).strip("-")[:60]
    return Project(
        id=project_id(url), repo_url=url, ref=ref, image=f"{REGISTRY}{slug}:{tag}",
        display_name=display_name(url, request), folder=folder_name(url), last_used=last_used,
        binder={"request": request} if request else {},
    )


def state_of(*projects: Project, pending: tuple[str, ...] = ()) -> dict:
    return ProjectsState(tuple(projects), pending).to_dict()


@dataclass
class SeedUser:
    """A user written into the hub database before it starts."""

    state: dict | None = None  # spawner state, any format the spawner reads
    running: bool = False  # a running server: orm.Server plus a Running pod in FakeKubernetes


# --- free ports, processes ----------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def ensure_proxy_installed() -> Path:
    """configurable-http-proxy from tests/hub/package-lock.json (`npm ci`, once per checkout)."""
    if not CHP.exists():
        npm = shutil.which("npm")
        if npm is None:
            pytest.fail("npm is missing: the hub tests need node and npm for configurable-http-proxy")
        subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=HERE, check=True,
                       timeout=300)
    return CHP


# --- a fake Kubernetes API: what KubeSpawner asks of the cluster -----------------------


class FakeKubernetes:
    """The Kubernetes API of one namespace, for KubeSpawner: pods and claims, list and watch.

    Pods are created, read, listed, watched (ADDED / MODIFIED / DELETED events from a
    resourceVersion on, as the pod reflector asks) and deleted; claims are created and read;
    events are listed and watched, and there are none. Given a `node` (kubelet.SimulatedNode),
    created pods really run there; without one they stay Pending, as on a cluster without
    nodes. A pod seeded with `add_running_pod` is Running at 127.0.0.1, where this same
    server stands in for its jupyterhub-singleuser (the hub only checks that it answers).
    """

    def __init__(self, node: SimulatedNode | None = None) -> None:
        self.node = node
        self.pods: dict[str, dict] = {}
        self.claims: dict[str, dict] = {}
        self.requests: list[tuple[str, str]] = []
        self._history: list[dict] = []  # every pod event, in order: a watch replays what it missed
        self._watches: list[queue.Queue] = []
        self._version = itertools.count(1)
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                fake._handle(self)

            def do_DELETE(self) -> None:
                fake._handle(self)

            def do_POST(self) -> None:
                fake._handle(self)

            def log_message(self, *args) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-kubernetes", daemon=True)

    def add_running_pod(self, user: str) -> None:
        self._put("ADDED", {
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": f"jupyter-{user}", "namespace": NAMESPACE, "uid": f"uid-{user}",
                         "labels": {"component": "singleuser-server", "hub.jupyter.org/username": user}},
            "spec": {"containers": [{"name": "notebook"}]},
            "status": {"phase": "Running", "podIP": "127.0.0.1",
                       "conditions": [{"type": "Ready", "status": "True"}],
                       "containerStatuses": [{"name": "notebook", "ready": True,
                                              "state": {"running": {"startedAt": "2025-06-01T10:00:00Z"}}}]},
        })

    # --- the objects and their events ---------------------------------------------------

    def _put(self, kind: str, pod: dict) -> dict:
        """Stores POD with a new resourceVersion and tells every watch."""
        with self._lock:
            pod = copy.deepcopy(pod)
            pod["metadata"]["resourceVersion"] = str(next(self._version))
            name = pod["metadata"]["name"]
            if kind == "DELETED":
                self.pods.pop(name, None)
            else:
                self.pods[name] = pod
            event = {"type": kind, "object": pod}
            self._history.append(event)
            for watch in self._watches:
                watch.put(event)
            return pod

    def _set_status(self, name: str, uid: str, status: dict) -> None:
        """A status reported by the node, for the pod it was started as (not a later one of that name)."""
        pod = self.pods.get(name)
        if pod and pod["metadata"]["uid"] == uid and "deletionTimestamp" not in pod["metadata"]:
            self._put("MODIFIED", {**pod, "status": status})

    def _create_pod(self, body: dict) -> tuple[int, dict]:
        name = body["metadata"]["name"]
        if name in self.pods:
            return 409, _status_body(409, "AlreadyExists", f'pods "{name}" already exists')
        body["metadata"] |= {"namespace": NAMESPACE, "uid": os.urandom(8).hex(), "creationTimestamp": now()}
        body["status"] = {"phase": "Pending", "podIP": None, "conditions": [], "containerStatuses": []}
        pod = self._put("ADDED", body)
        if self.node:
            uid = pod["metadata"]["uid"]
            self.node.run(pod, lambda status: self._set_status(name, uid, status))
        return 201, pod

    def _delete_pod(self, name: str) -> tuple[int, dict]:
        pod = self.pods.get(name)
        if pod is None:
            return 404, _status_body(404, "NotFound", f'pods "{name}" not found')
        pod = self._put("MODIFIED", {**pod, "metadata": {**pod["metadata"], "deletionTimestamp": now()}})
        threading.Thread(target=self._remove_pod, args=(pod,), daemon=True).start()
        return 200, pod

    def _remove_pod(self, pod: dict) -> None:
        """After the grace period: the containers stopped, the pod gone."""
        if self.node:
            self.node.delete(pod["metadata"]["name"])
        self._put("DELETED", pod)

    def _create_claim(self, body: dict) -> tuple[int, dict]:
        name = body["metadata"]["name"]
        if name in self.claims:
            return 409, _status_body(409, "AlreadyExists", f'persistentvolumeclaims "{name}" already exists')
        body["metadata"] |= {"namespace": NAMESPACE, "uid": os.urandom(8).hex(), "resourceVersion": "1"}
        body["status"] = {"phase": "Bound"}
        if self.node:
            self.node.provision(name)
        self.claims[name] = body
        return 201, body

    # --- HTTP ---------------------------------------------------------------------------

    def _handle(self, request: BaseHTTPRequestHandler) -> None:
        url = urlsplit(request.path)
        self.requests.append((request.command, request.path))
        query = parse_qs(url.query)
        prefix = f"/api/v1/namespaces/{NAMESPACE}/"
        kind, _, name = url.path.removeprefix(prefix).partition("/") if url.path.startswith(prefix) else ("", "", "")
        collections = {"pods": self.pods, "persistentvolumeclaims": self.claims, "events": {}}
        if not url.path.startswith("/api/"):
            # jupyterhub-singleuser of a seeded running pod: the hub only checks that it answers.
            self._reply(request, 200, {"version": "stand-in"}, {"X-JupyterHub-Version": "5.5.0"})
        elif kind not in collections:
            self._reply(request, 404, _status_body(404, "NotFound", "not found"))
        elif request.command == "GET" and not name and query.get("watch", [""])[0].lower() == "true":
            self._watch(request, kind, query)
        elif request.command == "GET" and not name:
            items = list(collections[kind].values())
            self._reply(request, 200, {"apiVersion": "v1", "kind": "List", "items": items,
                                       "metadata": {"resourceVersion": str(len(self._history))}})
        elif request.command == "GET":
            found = collections[kind].get(name)
            self._reply(request, *((200, found) if found else (404, _status_body(404, "NotFound", "not found"))))
        elif request.command == "POST" and not name and kind != "events":
            body = json.loads(request.rfile.read(int(request.headers["Content-Length"])))
            self._reply(request, *(self._create_pod(body) if kind == "pods" else self._create_claim(body)))
        elif request.command == "DELETE" and kind == "pods":
            self._reply(request, *self._delete_pod(name))
        else:
            self._reply(request, 405, _status_body(405, "MethodNotAllowed", "not supported here"))

    def _watch(self, request: BaseHTTPRequestHandler, kind: str, query: dict) -> None:
        """Pod events after the requested resourceVersion, one JSON line each, until timeoutSeconds
        (events have none: the watch just ends), as the API server streams them."""
        request.send_response(200)
        request.send_header("Content-Type", "application/json")
        request.end_headers()
        request.wfile.flush()
        deadline = time.monotonic() + float(query.get("timeoutSeconds", ["10"])[0])
        events: queue.Queue = queue.Queue()
        if kind == "pods":
            since = int(query.get("resourceVersion", ["0"])[0] or 0)
            with self._lock:
                for event in self._history:
                    if int(event["object"]["metadata"]["resourceVersion"]) > since:
                        events.put(event)
                self._watches.append(events)
        try:
            while not self._stopping.is_set() and (left := deadline - time.monotonic()) > 0:
                with contextlib.suppress(queue.Empty):
                    event = events.get(timeout=min(left, 0.5))
                    request.wfile.write(json.dumps(event).encode() + b"\n")
                    request.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            pass  # the reflector stopped watching
        finally:
            with self._lock:
                if events in self._watches:
                    self._watches.remove(events)

    @staticmethod
    def _reply(request: BaseHTTPRequestHandler, status: int, body: dict, headers: dict | None = None) -> None:
        data = json.dumps(body).encode()
        request.send_response(status)
        for name, value in (headers or {}).items():
            request.send_header(name, value)
        request.send_header("Content-Type", "application/json")
        request.send_header("Content-Length", str(len(data)))
        request.end_headers()
        request.wfile.write(data)

    def kubeconfig(self) -> str:
        return json.dumps({
            "apiVersion": "v1", "kind": "Config", "current-context": "fake",
            "clusters": [{"name": "fake", "cluster": {"server": f"http://127.0.0.1:{self.port}"}}],
            "users": [{"name": "fake", "user": {"token": "fake-token"}}],
            "contexts": [{"name": "fake", "context": {"cluster": "fake", "user": "fake", "namespace": NAMESPACE}}],
        })

    def __enter__(self) -> FakeKubernetes:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stopping.set()
        if self.node:
            self.node.stop_all()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)


def _status_body(code: int, reason: str, message: str) -> dict:
    return {"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": reason, "code": code,
            "message": message}


# --- the hub ---------------------------------------------------------------------------


@dataclass
class Hub:
    """A running hub: its public URL (through the proxy, base_url included) and its database."""

    url: str  # e.g. http://127.0.0.1:PORT/jh/
    base_url: str
    db_url: str
    directory: Path
    projects_limit: int
    log_file: Path
    kubernetes: FakeKubernetes
    local_api_url: str  # the hub's API on its own port, as services in the cluster reach it (not the proxy)
    _tokens: dict[str, str] = field(default_factory=dict)

    @property
    def origin(self) -> str:
        """http://127.0.0.1:PORT: the proxy, without base_url."""
        return self.url[: len(self.url) - len(self.base_url)]

    def hub_url(self, path: str = "") -> str:
        """A URL under the hub's prefix: hub_url("home") → http://127.0.0.1:PORT/jh/hub/home."""
        return f"{self.url}hub/{path.lstrip('/')}"

    def api_url(self, path: str) -> str:
        return self.hub_url(f"api/{path.lstrip('/')}")

    def login(self, user: str, password: str = PASSWORD) -> requests.Session:
        """A requests session logged in through the hub's login form, with its XSRF cookie."""
        return login(self.url, user, password)

    @staticmethod
    def xsrf_header(session: requests.Session) -> dict[str, str]:
        return {"X-XSRFToken": session.cookies["_xsrf"]}

    def token(self, user: str, scopes: list[str] | None = None) -> str:
        """An API token of `user`, made through the hub's own token API (cached if no scopes given)."""
        if scopes is None and user in self._tokens:
            return self._tokens[user]
        session = self.login(user)
        body: dict = {"note": "tests", "expires_in": 3600}
        if scopes is not None:
            body["scopes"] = scopes
        response = session.post(self.api_url(f"users/{user}/tokens"), json=body, timeout=10,
                                headers=self.xsrf_header(session))
        assert response.status_code == 201, response.text
        token = response.json()["token"]
        if scopes is None:
            self._tokens[user] = token
        return token

    def get(self, path: str, user: str, **kwargs) -> requests.Response:
        return requests.get(self.api_url(path), headers=auth(self.token(user)), timeout=10, **kwargs)

    def delete(self, path: str, user: str, **kwargs) -> requests.Response:
        return requests.delete(self.api_url(path), headers=auth(self.token(user)), timeout=10, **kwargs)

    def spawner_state(self, user: str) -> dict:
        """The user's spawner state as the hub last committed it to its database."""
        engine = create_engine(self.db_url)
        try:
            with Session(engine) as session:
                orm_user = session.query(orm.User).filter_by(name=user).one()
                return dict(orm_user.orm_spawners[""].state or {})
        finally:
            engine.dispose()

    def log(self) -> str:
        """The hub's log, then the proxy's."""
        proxy_log = self.log_file.with_name("proxy.log")
        return "\n".join(f.read_text(errors="replace") for f in (self.log_file, proxy_log) if f.exists())


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"token {token}"}


def binder_service(token: str, oauth_redirect_uri: str | None = None) -> str:
    """The hub configuration of BinderHub's service and its roles, as z2jh makes it of the values
    that components/jupyterhub.py gives the chart (hub.services.binder, hub.loadRoles)."""
    oauth = {"oauth_client_id": "service-binder", "oauth_redirect_uri": oauth_redirect_uri,
             "oauth_no_confirm": True} if oauth_redirect_uri else {}
    return f"""\
c.JupyterHub.services = [{{"name": "binder", "api_token": {token!r}, **{oauth!r}}}]
c.JupyterHub.load_roles = [{{"name": "user", "scopes": ["self", "access:services!service=binder"]}},
                           {{"name": "binder", "services": ["binder"], "scopes": ["servers", "read:users"]}}]
"""


def _seed_database(db_url: str, users: dict[str, SeedUser], base_url: str, pod_port: int) -> None:
    """Users, their spawner state and running servers, written before the hub first starts."""
    session = orm.new_session_factory(db_url)()  # creates the tables and stamps the schema version
    try:
        for name, seed in users.items():
            orm_user = orm.User(name=name)
            session.add(orm_user)
            session.commit()
            spawner = orm.Spawner(name="", user=orm_user)
            state = dict(seed.state or {})
            if seed.running:
                state.update(pod_name=f"jupyter-{name}", namespace=NAMESPACE, dns_name="",
                             kubespawner_version="7.0.0")
                spawner.server = orm.Server(proto="http", ip="127.0.0.1", port=pod_port,
                                            base_url=f"{base_url}user/{name}/")
                spawner.started = orm_user.created
            spawner.state = state or None
            session.add(spawner)
            session.commit()
    finally:
        engine = session.get_bind()
        session.close()
        engine.dispose()


def _config(*, base_url: str, db_url: str, proxy_port: int, proxy_api_port: int, hub_port: int,
            proxy_token: str, users: list[str], admins: list[str], projects_limit: int,
            pod_port: int, chart_config: str) -> str:
    return f"""\
# Written by tests/hub/running_hub.py. What z2jh loads first from the chart's values
# (hub.services, hub.loadRoles), if the test gives any:
{chart_config}
# What the chart's hub.extraConfig says:
from persistent_binderhub.hubconfig import configure

configure(c)
c.PersistentBinderSpawner.projects_limit = {projects_limit!r}
c.PersistentBinderSpawner.allowed_image_prefixes = [{REGISTRY!r}]
c.PersistentBinderSpawner.binder_url = {BINDER_URL!r}
c.PersistentBinderSpawner.default_image = {DEFAULT_IMAGE!r}
c.PersistentBinderSpawner.maintenance_image = {MAINTENANCE_IMAGE!r}

# What z2jh and binderhub-service set around it (hub.redirectToServer: false, no cleanup
# of servers on hub restart, the proxy in its own process and not started by the hub):
c.JupyterHub.redirect_to_server = False
c.JupyterHub.cleanup_servers = False
c.ConfigurableHTTPProxy.should_start = False
c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:{proxy_api_port}"
c.ConfigurableHTTPProxy.auth_token = {proxy_token!r}

# This test machine: loopback only, a temporary sqlite database, the dummy authenticator.
c.JupyterHub.base_url = {base_url!r}
c.JupyterHub.ip = "127.0.0.1"
c.JupyterHub.port = {proxy_port!r}
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = {hub_port!r}
c.JupyterHub.db_url = {db_url!r}
c.JupyterHub.authenticator_class = "dummy"
c.DummyAuthenticator.password = {PASSWORD!r}
c.Authenticator.allowed_users = set({users!r})
c.Authenticator.admin_users = set({admins!r})
c.JupyterHub.log_level = "INFO"
# Pods listen on this port: a seeded running pod's stand-in at 127.0.0.1 (FakeKubernetes
# itself), a simulated pod's server at that pod's own IP.
c.KubeSpawner.port = {pod_port!r}
c.KubeSpawner.namespace = {NAMESPACE!r}

# What z2jh 4.4.0's jupyterhub_config.py makes of singleuser.storage.type: dynamic
# (the chart's values: components/jupyterhub.py) and of its uid and fsGid defaults:
c.KubeSpawner.uid = 1000
c.KubeSpawner.fs_gid = 100
c.KubeSpawner.storage_pvc_ensure = True
c.KubeSpawner.pvc_name_template = "claim-{{user_server}}"
c.KubeSpawner.storage_capacity = "10Gi"
c.KubeSpawner.storage_access_modes = ["ReadWriteOnce"]
c.KubeSpawner.volumes = {{"volume-{{user_server}}": {{
    "name": "volume-{{user_server}}", "persistentVolumeClaim": {{"claimName": "{{pvc_name}}"}}}}}}
c.KubeSpawner.volume_mounts = {{"volume-{{user_server}}": {{
    "name": "volume-{{user_server}}", "mountPath": "/home/jovyan"}}}}
"""


def _wait_until_up(hub: Hub, hub_port: int, processes: list[subprocess.Popen]) -> None:
    """Until the hub answers on its own port, then through the proxy (its route added)."""
    deadline = time.monotonic() + STARTUP_TIMEOUT
    for url in (f"http://127.0.0.1:{hub_port}{hub.base_url}hub/api/", hub.api_url("")):
        while True:
            for process in processes:
                if process.poll() is not None:
                    pytest.fail(f"{process.args[0]} exited with {process.returncode} while starting:\n"
                                f"{hub.log()[-4000:]}")
            with contextlib.suppress(requests.RequestException):
                if requests.get(url, timeout=2).status_code == 200:
                    break
            if time.monotonic() > deadline:
                pytest.fail(f"the hub did not answer at {url} within {STARTUP_TIMEOUT} s:\n{hub.log()[-4000:]}")
            time.sleep(0.05)


@contextlib.contextmanager
def running_hub(directory: Path, users: dict[str, SeedUser], *, admins: tuple[str, ...] = (),
                base_url: str = "/", projects_limit: int = 5, chart_config: str = "",
                node: SimulatedNode | None = None) -> Iterator[Hub]:
    """Seed `users` (admins too) into a new database in `directory`, start proxy and hub, yield the Hub.
    `chart_config` is configuration z2jh makes of the chart's values (services, roles), which the
    package's own configuration comes after. With a `node`, the pods the spawners create really
    run there (see kubelet.SimulatedNode); without, they stay Pending."""
    assert base_url.startswith("/")
    assert base_url.endswith("/")
    chp = ensure_proxy_installed()
    directory.mkdir(parents=True, exist_ok=True)
    db_url = f"sqlite:///{directory / 'jupyterhub.sqlite'}"
    proxy_port, proxy_api_port, hub_port = free_port(), free_port(), free_port()
    proxy_token = os.urandom(16).hex()
    log_file = directory / "hub.log"
    proxy_log_file = directory / "proxy.log"

    with FakeKubernetes(node) as kubernetes, contextlib.ExitStack() as stack:
        for name, seed in users.items():
            if seed.running:
                kubernetes.add_running_pod(name)
        _seed_database(db_url, {**users, **{a: SeedUser() for a in admins if a not in users}}, base_url,
                       kubernetes.port)
        (directory / "kubeconfig").write_text(kubernetes.kubeconfig())
        (directory / "jupyterhub_config.py").write_text(_config(
            base_url=base_url, db_url=db_url, proxy_port=proxy_port, proxy_api_port=proxy_api_port,
            hub_port=hub_port, proxy_token=proxy_token, users=sorted(users), admins=sorted(admins),
            projects_limit=projects_limit, pod_port=kubernetes.port, chart_config=chart_config))
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(HUB_PACKAGE_DIR), *filter(None, [os.environ.get("PYTHONPATH")])]),
            "KUBECONFIG": str(directory / "kubeconfig"),
            "CONFIGPROXY_AUTH_TOKEN": proxy_token,
            "PATH": os.pathsep.join([str(VENV_BIN), os.environ.get("PATH", "")]),
        }
        env.pop("JUPYTERHUB_API_TOKEN", None)
        log = stack.enter_context(log_file.open("ab"))
        proxy_log = stack.enter_context(proxy_log_file.open("ab"))
        processes: list[subprocess.Popen] = []
        proxy = subprocess.Popen(
            [str(chp), "--ip", "127.0.0.1", "--port", str(proxy_port), "--api-ip", "127.0.0.1",
             "--api-port", str(proxy_api_port), "--default-target", f"http://127.0.0.1:{hub_port}",
             "--error-target", f"http://127.0.0.1:{hub_port}{base_url}hub/error", "--log-level", "warn"],
            cwd=directory, env=env, stdout=proxy_log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True)
        stack.callback(stop_process, proxy)
        processes.append(proxy)
        hub_process = subprocess.Popen(
            [str(JUPYTERHUB), "-f", str(directory / "jupyterhub_config.py")],
            cwd=directory, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True)
        stack.callback(stop_process, hub_process)  # runs first: the hub stops before its proxy
        processes.append(hub_process)
        hub = Hub(url=f"http://127.0.0.1:{proxy_port}{base_url}", base_url=base_url, db_url=db_url,
                  directory=directory, projects_limit=projects_limit, log_file=log_file,
                  kubernetes=kubernetes, local_api_url=f"http://127.0.0.1:{hub_port}{base_url}hub/api")
        _wait_until_up(hub, hub_port, processes)
        yield hub
        for process in processes:
            if process.poll() is not None:
                pytest.fail(f"{process.args[0]} died during the tests:\n{hub.log()[-4000:]}")


# --- the browser ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's headless Chromium, driven by playwright (which downloads no browser of its own)."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        yield chromium
        chromium.close()


def log_in(page: Page, hub: Hub, user: str) -> None:
    """Signs USER in through the hub's login form: on the home page, once its scripts have run."""
    page.goto(hub.hub_url("login"))
    page.fill("#username_input", user)
    page.fill("#password_input", PASSWORD)
    page.click("#login_submit")
    expect(page).to_have_url(hub.hub_url("home"))
    expect(page.locator("h1")).to_have_text("Your projects")
    page.wait_for_function("() => window.persistentBinder !== undefined")
