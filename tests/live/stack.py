"""A deployed stack as its users reach it: the hub's API, BinderHub's build stream, a user's server.

Everything goes over HTTP(S) to the stack's public URLs, as a browser and BinderHub's own
page would: the live suite (`make test-live STACK=...`) runs it against a real deployment,
tests/simulation against the simulated cluster of the test harness. Every wait is bounded
(`Timeouts`), and requests that a deploy still settling may refuse are retried.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TypeVar
from urllib.parse import urlsplit

import requests
from tornado.httpclient import HTTPRequest
from tornado.websocket import websocket_connect

T = TypeVar("T")


class LiveError(AssertionError):
    """The stack did not do what a user would see it do; the message says what and where."""


@dataclass(frozen=True)
class Timeouts:
    """Seconds. A build on a real cluster takes minutes; a launch of a built image less."""

    build: float = 1800.0  # a /build/ event stream until ready
    start: float = 600.0  # a launch of an existing project until its server answers
    stop: float = 300.0  # a server until it is gone
    request: float = 30.0  # one HTTP request
    settle: float = 120.0  # retries of requests a deploy still settling refuses (502, 503, refused)


def login(hub_url: str, user: str, password: str, timeout: float = 30.0) -> requests.Session:
    """A session signed in through the hub's login form (the dummy or a password authenticator),
    with the XSRF cookie that goes with it."""
    session = requests.Session()
    page = session.get(f"{hub_url}hub/login", timeout=timeout)
    page.raise_for_status()
    xsrf = re.search(r'name="_xsrf"\s+value="([^"]+)"', page.text)
    if not xsrf:
        raise LiveError(f"{hub_url}hub/login has no login form (_xsrf field): this stack signs in through "
                        f"OAuth, so give the suite a token (PBH_LIVE_TOKEN) instead of a password")
    response = session.post(f"{hub_url}hub/login", timeout=timeout, allow_redirects=False,
                            data={"username": user, "password": password, "_xsrf": xsrf.group(1)})
    if response.status_code != 302:
        raise LiveError(f"signing in as {user} at {hub_url}hub/login failed: HTTP {response.status_code}")
    # The first page view after login sets the XSRF cookie of this session.
    session.get(f"{hub_url}hub/home", timeout=timeout).raise_for_status()
    return session


def token_by_login(hub_url: str, user: str, password: str, timeout: float = 30.0) -> str:
    """An API token of USER (with the user's own permissions, for an hour), made through the token API."""
    session = login(hub_url, user, password, timeout)
    response = session.post(f"{hub_url}hub/api/users/{user}/tokens", timeout=timeout,
                            json={"note": "persistent-binderhub live suite", "expires_in": 3600},
                            headers={"X-XSRFToken": session.cookies["_xsrf"]})
    if response.status_code != 201:
        raise LiveError(f"the hub refused an API token for {user}: HTTP {response.status_code}")
    return response.json()["token"]


class LiveStack:
    """The hub and BinderHub of one stack, as one signed-in user (by an API token) uses them."""

    def __init__(self, hub_url: str, binder_url: str, token: str, timeouts: Timeouts = Timeouts()) -> None:
        self.hub_url = _with_slash(hub_url)
        self.binder_url = _with_slash(binder_url)
        self.timeouts = timeouts
        self.http = requests.Session()
        self.http.headers["Authorization"] = f"token {token}"
        self._token = token
        self.user = self.hub("GET", "user").json()["name"]

    # --- requests -----------------------------------------------------------------

    def request(self, method: str, url: str, expect: tuple[int, ...] = (200,), **kwargs) -> requests.Response:
        """One request, retried while the stack answers as a deploy still settling does."""
        kwargs.setdefault("timeout", self.timeouts.request)

        def attempt() -> requests.Response | None:
            try:
                response = self.http.request(method, url, **kwargs)
            except requests.ConnectionError:
                return None
            return None if response.status_code in (502, 503, 504) else response

        response = wait_for(attempt, self.timeouts.settle, f"{method} {url} to answer")
        if response.status_code not in expect:
            raise LiveError(f"{method} {url}: HTTP {response.status_code} (expected "
                            f"{' or '.join(map(str, expect))}): {response.text[:500]}")
        return response

    def hub(self, method: str, path: str, expect: tuple[int, ...] = (200,), **kwargs) -> requests.Response:
        return self.request(method, f"{self.hub_url}hub/api/{path}", expect, **kwargs)

    # --- health ---------------------------------------------------------------------

    def hub_health(self) -> requests.Response:
        return self.request("GET", f"{self.hub_url}hub/health")

    def binder_health(self) -> dict:
        return self.request("GET", f"{self.binder_url}health").json()

    # --- servers and projects -----------------------------------------------------

    def server_model(self) -> dict | None:
        """The user's default server as the hub reports it, or None when there is none."""
        return self.hub("GET", f"users/{self.user}").json().get("servers", {}).get("")

    def build(self, spec: str) -> dict:
        """Launches SPEC (`gh/OWNER/REPO/REF`) through BinderHub's /build/ event stream, as
        BinderHub's page does; returns the `ready` event. Any `failed` event is an error."""
        url = f"{self.binder_url}build/{spec}"
        deadline = time.monotonic() + self.timeouts.build
        phases: list[str] = []
        with self.request("GET", url, stream=True, headers={"Accept": "text/event-stream"},
                          timeout=(self.timeouts.request, self.timeouts.build)) as response:
            for event in _events(response):
                phases.append(event.get("phase", "?"))
                if event.get("phase") == "failed":
                    raise LiveError(f"BinderHub failed to launch {spec}: {event.get('message', '').strip()}")
                if event.get("phase") == "ready":
                    return event
                if time.monotonic() > deadline:
                    break
        raise LiveError(f"BinderHub's stream for {spec} ended without `ready` within {self.timeouts.build:.0f} s "
                        f"(phases seen: {', '.join(phases) or 'none'})")

    def launch_project(self, project_id: str) -> str:
        """Launches a kept project as the home page's Launch does; returns its server's URL."""
        self.hub("POST", f"users/{self.user}/server", expect=(201, 202), json={"project_id": project_id})
        model = wait_for(lambda: (m := self.server_model()) and m.get("ready") and m,
                         self.timeouts.start, f"the server of {self.user} to be ready")
        return self.server_url(model["url"])

    def server_url(self, path_or_url: str) -> str:
        """The public URL of a server, from the hub's path of it or BinderHub's URL."""
        parts = urlsplit(self.hub_url)
        url = path_or_url if "://" in path_or_url else f"{parts.scheme}://{parts.netloc}{path_or_url}"
        wait_for(lambda: self.http.get(f"{url}api", timeout=self.timeouts.request).status_code == 200,
                 self.timeouts.start, f"{url}api to answer", retry_on=(requests.ConnectionError,))
        return url

    def stop_server(self) -> None:
        """Stops the user's server, if one runs or starts, and waits until it is gone."""
        if self.server_model() is None:
            return
        self.hub("DELETE", f"users/{self.user}/server", expect=(202, 204, 400))
        wait_for(lambda: self.server_model() is None, self.timeouts.stop, f"the server of {self.user} to stop")

    def projects(self) -> dict:
        """The projects API's answer: projects, limit, running."""
        return self.hub("GET", f"projects/{self.user}").json()

    def delete_project(self, project_id: str) -> None:
        self.hub("DELETE", f"projects/{self.user}/{project_id}", expect=(204,))

    def server(self, url: str) -> Server:
        return Server(url, self)


class Server:
    """A user's running Jupyter server: its contents API, and code run by a kernel."""

    def __init__(self, url: str, stack: LiveStack) -> None:
        self.url = url
        self.stack = stack

    def files(self, path: str = "") -> list[str]:
        """The names in a folder of the home, as the file browser lists them."""
        content = self.stack.request("GET", f"{self.url}api/contents/{path}").json()["content"]
        return sorted(entry["name"] for entry in content)

    def write(self, path: str, text: str) -> None:
        self.stack.request("PUT", f"{self.url}api/contents/{path}", expect=(200, 201),
                           json={"type": "file", "format": "text", "content": text})

    def read(self, path: str) -> str | None:
        response = self.stack.request("GET", f"{self.url}api/contents/{path}", expect=(200, 404))
        return response.json()["content"] if response.status_code == 200 else None

    def delete(self, path: str) -> None:
        self.stack.request("DELETE", f"{self.url}api/contents/{path}", expect=(204,))

    def run(self, code: str) -> str:
        """What CODE prints, run by a new python3 kernel of this server (then shut down)."""
        kernel = self.stack.request("POST", f"{self.url}api/kernels", expect=(201,), json={"name": "python3"})
        kernel_id = kernel.json()["id"]
        try:
            return asyncio.run(self._execute(kernel_id, code))
        finally:
            self.stack.request("DELETE", f"{self.url}api/kernels/{kernel_id}", expect=(204, 404))

    async def _execute(self, kernel_id: str, code: str) -> str:
        url = re.sub(r"^http", "ws", f"{self.url}api/kernels/{kernel_id}/channels")
        request = HTTPRequest(url, headers={"Authorization": f"token {self.stack._token}"},
                              request_timeout=self.stack.timeouts.request)
        connection = await websocket_connect(request)
        try:
            message_id = uuid.uuid4().hex
            connection.write_message(json.dumps(_execute_request(message_id, code)))
            output: list[str] = []
            deadline = time.monotonic() + self.stack.timeouts.start
            while time.monotonic() < deadline:
                raw = await asyncio.wait_for(connection.read_message(), self.stack.timeouts.start)
                if raw is None:
                    raise LiveError(f"the kernel's channels at {url} closed before the code finished")
                message = json.loads(raw)
                if message.get("parent_header", {}).get("msg_id") != message_id:
                    continue
                kind, content = message["msg_type"], message["content"]
                if kind == "stream" and content.get("name") == "stdout":
                    output.append(content["text"])
                elif kind == "error":
                    raise LiveError(f"the kernel raised {content['ename']}: {content['evalue']}")
                elif kind == "status" and content.get("execution_state") == "idle":
                    return "".join(output)
            raise LiveError(f"the kernel did not finish within {self.stack.timeouts.start:.0f} s")
        finally:
            connection.close()


def _execute_request(message_id: str, code: str) -> dict:
    """A Jupyter messaging protocol execute_request, in the JSON form of Jupyter Server's websocket."""
    return {"header": {"msg_id": message_id, "msg_type": "execute_request", "session": uuid.uuid4().hex,
                       "username": "", "version": "5.3"},
            "parent_header": {}, "metadata": {}, "buffers": [], "channel": "shell",
            "content": {"code": code, "silent": False, "store_history": False, "user_expressions": {},
                        "allow_stdin": False, "stop_on_error": True}}


def _events(response: requests.Response) -> Iterator[dict]:
    """The `data:` events of a server-sent event stream (comments such as heartbeats skipped)."""
    # One byte at a time: a bigger chunk would wait for more events than the stream has sent.
    for line in response.iter_lines(chunk_size=1, decode_unicode=True):
        if line and line.startswith("data:"):
            yield json.loads(line[len("data:"):])


def wait_for(check: Callable[[], T], timeout: float, what: str,
             retry_on: tuple[type[Exception], ...] = ()) -> T:
    """CHECK's first true result within TIMEOUT seconds (checked every half second)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            result = check()
        except retry_on:
            result = None
        if result:
            return result
        if time.monotonic() > deadline:
            raise LiveError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.5)


def _with_slash(url: str) -> str:
    return url if url.endswith("/") else f"{url}/"
