"""Benchmark: the home page and the projects list API of a user with 50 projects, on a real running hub.

Each is timed over ROUNDS requests through configurable-http-proxy after a warm-up; the
median is printed (also without -s) and must stay under 100 ms on this machine.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import pytest
import requests

from tests.hub.running_hub import SeedUser, auth, project, running_hub, state_of

PROJECTS = 50
WARM_UP = 3
ROUNDS = 20
TARGET_MS = 100.0
# Each with its BinderHub request, so that the page holds every row's Update… and share links.
SEEDED = tuple(project(f"https://github.com/bench-org/repository-{n:02d}", f"v{n}.0",
                       request=f"v2/gh/bench-org/repository-{n:02d}/v{n}.0",
                       last_used=f"2025-05-{1 + n % 28:02d}T12:00:00Z") for n in range(PROJECTS))


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    # base_url "/" here (the other hubs run under /jh/); the limit allows all 50 projects.
    users = {"bench": SeedUser(state_of(*SEEDED))}
    with running_hub(tmp_path_factory.mktemp("bench-hub"), users, projects_limit=PROJECTS) as running:
        yield running


def median_ms(request: Callable[[], requests.Response], check: Callable[[requests.Response], None]) -> float:
    for _ in range(WARM_UP):
        check(request())
    timings = []
    for _ in range(ROUNDS):
        start = time.perf_counter()
        response = request()
        timings.append((time.perf_counter() - start) * 1000)
        check(response)
    return statistics.median(timings)


def report(capsys, what: str, median: float) -> None:
    with capsys.disabled():
        print(f"\n{what} ({PROJECTS} projects): median {median:.1f} ms over {ROUNDS} requests "
              f"(target < {TARGET_MS:.0f} ms)")


def test_home_page_with_50_projects(hub, capsys):
    session = hub.login("bench")
    url = hub.hub_url("home")

    def check(response: requests.Response) -> None:
        assert response.status_code == 200
        assert response.text.count('class="project-row"') == PROJECTS
        assert f"You have {PROJECTS} of at most {PROJECTS} projects." in response.text

    median = median_ms(lambda: session.get(url, timeout=10), check)
    report(capsys, "home page", median)
    assert median < TARGET_MS


def test_projects_api_with_50_projects(hub, capsys):
    session = requests.Session()
    session.headers.update(auth(hub.token("bench")))
    url = hub.api_url("projects/bench")
    expected = [p.to_dict() for p in SEEDED]

    def check(response: requests.Response) -> None:
        assert response.status_code == 200
        assert response.json()["projects"] == expected

    median = median_ms(lambda: session.get(url, timeout=10), check)
    report(capsys, "projects API", median)
    assert median < TARGET_MS
