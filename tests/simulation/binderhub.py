"""A stand-in for BinderHub: its `/health` and its `/build/` event stream, for the simulated cluster.

What it does as BinderHub does with `auth_enabled`: it takes the user from the request's
token through `jupyterhub.services.auth.HubAuth` (BinderHub's own class), with its service
token, at the hub's API URL of the cluster (the hub's own port, not the proxy's public
URL); it refuses a launch while the user has a server running, as BinderHub does without
named servers; it launches through the hub's REST API with the `user_options` BinderHub
sends (image, repo_url, binder_ref_url, binder_launch_host, binder_request,
binder_persistent_request) and streams waiting, fetching, building, built, launching and
ready, or failed with the hub's message.

What stands in: repositories are a dict given by the test (no Git), HEAD resolves to a
digest of the repository's files, and a "build" is a folder that becomes the image's home
(the image name as BinderHub makes it, under the hub's registry prefix), registered with
the simulated node, which can then run it.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import requests
from jupyterhub.services.auth import HubAuth

from tests.hub.kubelet import SimulatedNode, give_to_user
from tests.hub.running_hub import REGISTRY, Hub

LAUNCH_TIMEOUT = 120  # seconds, BinderHub's launch_timeout here


class StandInBinderHub:
    """Serves on 127.0.0.1 while in a `with` block; `url` is its public URL."""

    def __init__(self, hub: Hub, node: SimulatedNode, token: str, repositories: dict[str, dict[str, str]],
                 images: Path) -> None:
        self.hub = hub
        self.node = node
        self.repositories = repositories  # "gh/OWNER/REPO" -> {file name: content}
        self.images = images
        self._api = requests.Session()
        self._api.headers["Authorization"] = f"token {token}"
        self._auth = HubAuth(api_token=token, api_url=hub.local_api_url, cache_max_age=0)
        binder = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                binder._handle(self)

            def log_message(self, *args) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/"
        self._thread = threading.Thread(target=self._server.serve_forever, name="binderhub", daemon=True)

    def __enter__(self) -> StandInBinderHub:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()

    # --- HTTP --------------------------------------------------------------------

    def _handle(self, request: BaseHTTPRequestHandler) -> None:
        if request.path == "/health":
            body = json.dumps({"ok": True, "checks": [{"service": "JupyterHub API", "ok": True}]}).encode()
            request.send_response(200)
            request.send_header("Content-Type", "application/json")
            request.send_header("Content-Length", str(len(body)))
            request.end_headers()
            request.wfile.write(body)
            return
        build = re.fullmatch(r"/build/(gh/[^/]+/[^/]+)/([^/]+)", request.path)
        authorization = request.headers.get("Authorization", "")
        user = self._auth.user_for_token(authorization.removeprefix("token ")) \
            if authorization.startswith("token ") else None
        if build is None or user is None:
            request.send_error(404 if build is None else 403)
            return
        request.send_response(200)
        request.send_header("Content-Type", "text/event-stream")
        request.end_headers()
        for event in self._build_and_launch(user["name"], build.group(1), build.group(2)):
            request.wfile.write(f"data: {json.dumps(event)}\n\n".encode())
            request.wfile.flush()

    # --- what BinderHub does -----------------------------------------------------

    def _build_and_launch(self, user: str, repository: str, ref: str):
        files = self.repositories.get(repository)
        if files is None:
            yield {"phase": "failed", "message": f"Could not resolve ref for {repository}/{ref}\n"}
            return
        commit = _commit_of(files) if ref == "HEAD" else ref
        yield {"phase": "waiting", "message": "Waiting for build to start...\n"}
        yield {"phase": "fetching", "message": f"Fetching {repository}@{commit}\n"}
        image = f"{REGISTRY}{re.sub(r'[^a-z0-9]+', '-', repository.lower())}:{commit}"
        if image not in self.node.images:
            yield {"phase": "building", "message": f"Building {image}\n"}
            self.node.images[image] = self._image_home(image, files)
        yield {"phase": "built", "imageName": image, "message": "Found built image, launching...\n"}
        yield {"phase": "launching", "message": "Launching server...\n"}
        owner, name = repository.split("/")[1:]
        options = {"image": image, "repo_url": f"https://github.com/{owner}/{name}",
                   "binder_ref_url": f"https://github.com/{owner}/{name}/tree/{commit}",
                   "binder_launch_host": self.url, "binder_request": f"v2/{repository}/{ref}",
                   "binder_persistent_request": f"v2/{repository}/{commit}"}
        try:
            url = self._launch(user, options)
        except LaunchError as failure:
            yield {"phase": "failed", "message": f"{failure}\n"}
            return
        yield {"phase": "ready", "message": f"server running at {url}\n", "url": url, **options}

    def _image_home(self, image: str, files: dict[str, str]) -> Path:
        """What repo2docker leaves in the image's home: the repository's files, the user's own."""
        home = self.images / re.sub(r"[^A-Za-z0-9.-]+", "_", image)
        home.mkdir(parents=True)
        for name, content in files.items():
            (home / name).write_text(content)
        give_to_user(home)
        return home

    def _launch(self, user: str, options: dict) -> str:
        api = self.hub.local_api_url
        if self._api.get(f"{api}/users/{user}", timeout=10).json().get("servers", {}).get(""):
            raise LaunchError(f"User {user} already has a running server.")
        response = self._api.post(f"{api}/users/{user}/server", json=options, timeout=30)
        if response.status_code not in (201, 202):
            raise LaunchError(response.json().get("message", response.text))
        deadline = time.monotonic() + LAUNCH_TIMEOUT
        while time.monotonic() < deadline:
            server = self._api.get(f"{api}/users/{user}", timeout=10).json().get("servers", {}).get("")
            if server is None:
                raise LaunchError(f"Server for {user} failed to start: see the hub's log")
            if server.get("ready"):
                return f"{self.hub.origin}{server['url']}"
            time.sleep(0.2)
        raise LaunchError(f"Server for {user} did not start within {LAUNCH_TIMEOUT} s")


class LaunchError(Exception):
    pass


def _commit_of(files: dict[str, str]) -> str:
    """What HEAD resolves to: a Git-like digest of the repository's files."""
    return hashlib.sha1(json.dumps(files, sort_keys=True).encode(), usedforsecurity=False).hexdigest()
