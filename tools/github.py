"""The few calls of GitHub's REST API the workflows' scripts make, with the job's own token.

GITHUB_TOKEN authenticates; GITHUB_API_URL (set by GitHub Actions; https://api.github.com
otherwise) is where the API is, so the tests point it at a stand-in on 127.0.0.1. An error
names the call and GitHub's status and message, never the token.
"""

from __future__ import annotations

import json
import os
import re
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

from components.errors import OperatorError

TIMEOUT = 30
PER_PAGE = 100


class GitHub:
    def __init__(self, repository: str, token: str | None = None, api_url: str | None = None) -> None:
        if not re.fullmatch(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+", repository):
            raise OperatorError(f"{repository!r} is not a repository (OWNER/NAME)")
        token = token if token is not None else os.environ.get("GITHUB_TOKEN", "")
        if not token:
            raise OperatorError("GITHUB_TOKEN is not set: the workflow passes the job's token in it")
        self._token = token
        api = (api_url or os.environ.get("GITHUB_API_URL") or "https://api.github.com").rstrip("/")
        if not api.startswith(("https://", "http://127.0.0.1:")):  # the token goes nowhere else
            raise OperatorError(f"GITHUB_API_URL {api!r} is neither https nor a stand-in on 127.0.0.1")
        self.base = f"{api}/repos/{repository}"

    def call(self, method: str, path: str, body: dict | None = None) -> Any:
        request = urllib.request.Request(  # noqa: S310 (the scheme is checked in __init__)
            f"{self.base}{path}", method=method, data=json.dumps(body).encode() if body is not None else None,
            headers={"Authorization": f"Bearer {self._token}", "Accept": "application/vnd.github+json",
                     "X-GitHub-Api-Version": "2022-11-28", "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT) as response:  # noqa: S310
                data = response.read()
        except urllib.error.HTTPError as exc:
            message = exc.read().decode(errors="replace")[:300]
            raise OperatorError(f"GitHub refused {method} {path}: HTTP {exc.code} {message}") from None
        except OSError as exc:
            raise OperatorError(f"GitHub cannot be reached for {method} {path}: {exc}") from None
        return json.loads(data) if data else None

    def pages(self, path: str) -> Iterator[dict]:
        """Every item of a listing, page after page."""
        separator = "&" if "?" in path else "?"
        page = 1
        while True:
            items = self.call("GET", f"{path}{separator}per_page={PER_PAGE}&page={page}")
            yield from items
            if len(items) < PER_PAGE:
                return
            page += 1
