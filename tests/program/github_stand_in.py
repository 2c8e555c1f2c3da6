"""A stand-in for the part of GitHub's REST API the workflows' scripts call: issues and their
comments of one repository, in memory, on 127.0.0.1 (listings paginated, the token checked)."""

from __future__ import annotations

import itertools
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

REPOSITORY = "example-org/persistent-binderhub"
TOKEN = "ghs_stand-in-token"


class StandInGitHub:
    def __init__(self) -> None:
        self.issues: dict[int, dict] = {}
        self.comments: dict[int, dict] = {}  # id -> comment, with its issue number
        self.calls: list[tuple[str, str]] = []
        self._ids = itertools.count(1000)
        self._numbers = itertools.count(1)
        github = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                github._handle(self)

            def do_POST(self) -> None:
                github._handle(self)

            def do_PATCH(self) -> None:
                github._handle(self)

            def log_message(self, *args) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> StandInGitHub:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()

    def add_issue(self, title: str, labels: list[str], state: str = "open", head: str | None = None) -> int:
        """An issue, or with a HEAD commit a pull request."""
        number = next(self._numbers)
        self.issues[number] = {"number": number, "title": title, "body": "", "state": state,
                               "labels": [{"name": name} for name in labels],
                               **({"pull_request": {}, "head": head} if head else {})}
        return number

    def add_comment(self, issue: int, body: str) -> int:
        comment_id = next(self._ids)
        self.comments[comment_id] = {"id": comment_id, "issue": issue, "body": body}
        return comment_id

    def comments_of(self, issue: int) -> list[dict]:
        return [c for c in self.comments.values() if c["issue"] == issue]

    def _handle(self, request: BaseHTTPRequestHandler) -> None:
        url = urlsplit(request.path)
        self.calls.append((request.command, request.path))
        if request.headers.get("Authorization") != f"Bearer {TOKEN}":
            return self._reply(request, 401, {"message": "Bad credentials"})
        body = json.loads(request.rfile.read(int(request.headers.get("Content-Length") or 0)) or b"null")
        path = url.path.removeprefix(f"/repos/{REPOSITORY}")
        query = {key: values[0] for key, values in parse_qs(url.query).items()}
        route = (request.command, re.sub(r"\d+", "N", path))
        number = int(next(iter(re.findall(r"\d+", path)), 0))
        if route == ("GET", "/pulls/N") and self.issues.get(number, {}).get("pull_request") is not None:
            return self._reply(request, 200, {"number": number, "head": {"sha": self.issues[number]["head"]}})
        if route == ("GET", "/issues/N/comments"):
            return self._reply(request, 200, self._page(self.comments_of(number), query))
        if route == ("POST", "/issues/N/comments"):
            return self._reply(request, 201, self.comments[self.add_comment(number, body["body"])])
        if route == ("PATCH", "/issues/comments/N"):
            self.comments[number]["body"] = body["body"]
            return self._reply(request, 200, self.comments[number])
        if route == ("GET", "/issues"):
            found = [i for i in self.issues.values() if i["state"] == query.get("state", "open")
                     and all(label in [x["name"] for x in i["labels"]] for label in query.get("labels", "").split(",")
                             if label)]
            return self._reply(request, 200, self._page(found, query))
        if route == ("POST", "/issues"):
            number = self.add_issue(body["title"], body.get("labels", []))
            self.issues[number]["body"] = body["body"]
            return self._reply(request, 201, self.issues[number])
        if route == ("PATCH", "/issues/N"):
            self.issues[number].update(body)
            return self._reply(request, 200, self.issues[number])
        return self._reply(request, 404, {"message": "Not Found"})

    @staticmethod
    def _page(items: list[dict], query: dict) -> list[dict]:
        size, page = int(query.get("per_page", 30)), int(query.get("page", 1))
        return items[(page - 1) * size: page * size]

    @staticmethod
    def _reply(request: BaseHTTPRequestHandler, status: int, body: object) -> None:
        data = json.dumps(body).encode()
        request.send_response(status)
        request.send_header("Content-Type", "application/json")
        request.send_header("Content-Length", str(len(data)))
        request.end_headers()
        request.wfile.write(data)
