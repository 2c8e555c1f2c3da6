"""The live suite: a deployed stack does what its users need, persistence above all.

Run by `make test-live STACK=...` against a real deployment (see conftest.py for what it
reads from the environment), and by tests/simulation against the simulated cluster. The
test user must be one of the suite's own: the suite refuses to start when that user has
projects of other repositories, and deletes its own projects when it is done.
"""

from __future__ import annotations

import json
import socket
import ssl
import time
import uuid
from urllib.parse import urlsplit

import pytest

from tests.live.stack import LiveError, LiveStack

SENTINEL = "persistence-sentinel.txt"
LIST_PROJECTS = "import json, os; print(json.dumps(sorted(os.listdir('/projects'))))"
CERTIFICATE_MARGIN_DAYS = 14  # what the monitoring's alert warns about too


def test_hub_and_binderhub_are_healthy(stack: LiveStack) -> None:
    assert stack.hub_health().status_code == 200
    health = stack.binder_health()
    assert health.get("ok") is True, f"BinderHub reports itself unhealthy: {json.dumps(health)[:1000]}"


def test_tls_is_valid(stack: LiveStack) -> None:
    urls = [url for url in (stack.hub_url, stack.binder_url) if url.startswith("https://")]
    if not urls:
        pytest.skip("TLS is off on this stack: its URLs are http://")
    for url in urls:
        host = urlsplit(url).hostname
        context = ssl.create_default_context()  # the system's trust store, the host name checked
        with socket.create_connection((host, urlsplit(url).port or 443), timeout=30) as raw, \
                context.wrap_socket(raw, server_hostname=host) as connection:
            expires = ssl.cert_time_to_seconds(connection.getpeercert()["notAfter"])
        days = (expires - time.time()) / 86400
        assert days > CERTIFICATE_MARGIN_DAYS, f"the certificate of {host} expires in {days:.0f} days"


def test_files_persist_across_launches(stack: LiveStack, repositories: tuple[str, str]) -> None:
    """Build, write, stop, relaunch: the files stay and nothing is seeded again; a second
    project sits beside the first under /projects; a deleted project's folder is gone."""
    first_spec, second_spec = repositories
    _start_clean(stack, repositories)
    try:
        first = stack.server(stack.server_url(stack.build(first_spec)["url"]))
        first_project = _running_project(stack)
        seeded = [name for name in first.files() if not name.startswith(".")]
        assert seeded, f"the project of {first_spec} was seeded with nothing: its home is empty"
        removed = seeded[0]
        first.delete(removed)
        text = f"written by the live suite {uuid.uuid4()}\n"
        first.write(SENTINEL, text)

        stack.stop_server()
        first = stack.server(stack.launch_project(first_project["id"]))
        assert first.read(SENTINEL) == text, "the file written before the stop is gone after the relaunch"
        assert removed not in first.files(), f"{removed} came back: the relaunch seeded the project again"

        stack.stop_server()
        second = stack.server(stack.server_url(stack.build(second_spec)["url"]))
        second_project = _running_project(stack)
        folders = json.loads(second.run(LIST_PROJECTS))
        assert {first_project["folder"], second_project["folder"]} <= set(folders), folders

        stack.stop_server()
        stack.delete_project(second_project["id"])
        first = stack.server(stack.launch_project(first_project["id"]))
        assert second_project["folder"] not in json.loads(first.run(LIST_PROJECTS)), (
            "the deleted project's folder is still on the volume after the next launch")
        assert first.read(SENTINEL) == text
    finally:
        clean_up(stack, repositories)


def _running_project(stack: LiveStack) -> dict:
    answer = stack.projects()
    project = next((p for p in answer["projects"] if p["id"] == answer["running"]), None)
    if project is None:
        raise LiveError(f"the projects API names no running project after a launch: {answer}")
    return project


def _is_ours(project: dict, repositories: tuple[str, ...]) -> bool:
    """A project of one of the suite's repositories, whatever ref it was launched at."""
    request = project.get("binder", {}).get("request", "")
    return any(request.rpartition("/")[0] == f"v2/{spec.rpartition('/')[0]}" for spec in repositories)


def _start_clean(stack: LiveStack, repositories: tuple[str, ...]) -> None:
    """No server, and none of the suite's projects left from an interrupted run (a new copy
    is seeded then); a user with projects of its own is refused, never touched."""
    foreign = [p["display_name"] for p in stack.projects()["projects"] if not _is_ours(p, repositories)]
    if foreign:
        raise LiveError(f"the test user {stack.user} has projects the suite did not make ({', '.join(foreign)}): "
                        f"the live suite deletes its projects, so give it a user of its own")
    clean_up(stack, repositories)


def clean_up(stack: LiveStack, repositories: tuple[str, ...]) -> None:
    stack.stop_server()
    for project in stack.projects()["projects"]:
        if _is_ours(project, repositories):
            stack.delete_project(project["id"])
