"""The projects API, and the spawner's refusals, against a real running JupyterHub (base_url /jh/).

Every test that changes state works on a user of its own, so the tests do not depend on
their order. Statuses and messages are the ones the running hub actually returns.
"""

from __future__ import annotations

import pytest
import requests

from tests.hub.running_hub import NAMESPACE, REGISTRY, SeedUser, auth, project, running_hub, state_of

LIMIT = 3
ALICE = (
    project("https://github.com/jupyterhub/binderhub", "main", request="v2/gh/jupyterhub/binderhub/main"),
    project("https://gitlab.com/group/sub/analysis", "v1.2.0", last_used="2025-05-01T08:30:00Z"),
    project("https://doi.org/10.5281/zenodo.3242074", "3242074", last_used=None),
)
BOB = (project("https://github.com/bob/thesis", "0123456789abcdef0123456789abcdef01234567"),)
DAVE = (project("https://github.com/dave/running"), project("https://github.com/dave/idle"))
FULL = (project("https://github.com/lima/one"), project("https://github.com/lima/two"),
        project("https://github.com/lima/three"))
# The earlier persistent BinderHub's format: [repo_url, image, ref, display_name, last_used], most recent last.
LEGACY = {
    "projects": [
        ["https://github.com/Carol/Old.git", "registry.example.org/binder/old:abc", "abc", "gh/Carol/Old", "never"],
        ["https://gitlab.com/carol/newer/", "registry.example.org/binder/newer:def", "def", "gl/carol/newer",
         "2024-01-02T03:04:05Z"],
    ],
    "deleted_projects": ["https://github.com/carol/gone"],
}
# States this hub cannot (fully) read: damaged, and written by a newer version.
DAMAGED = {"version": 2, "projects": [BOB[0].to_dict(), {"folder": ["x"]}], "pending_deletions": 5,
           "launching": "junk"}
FOREIGN = {"version": 3, "projects": {"new": "shape"}, "pending_deletions": ["github.com_otto_x"]}
# Users of one test each: that test may change their projects.
DELETERS = ("erin", "fred", "gina", "hana", "ivan", "jack")


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    users = {
        "alice": SeedUser(state_of(*ALICE)),
        "bob": SeedUser(state_of(*BOB)),
        "carol": SeedUser(LEGACY),
        "dave": SeedUser(state_of(*DAVE), running=True),
        "lima": SeedUser(state_of(*FULL, pending=("github.com_lima_old",))),
        "newbie": SeedUser(None),
        "dora": SeedUser(DAMAGED),
        "otto": SeedUser(FOREIGN),
        **{name: SeedUser(state_of(*ALICE)) for name in DELETERS},
    }
    with running_hub(tmp_path_factory.mktemp("api-hub"), users, admins=("ada",), base_url="/jh/",
                     projects_limit=LIMIT) as running:
        yield running


def listing(*projects, running=None) -> dict:
    return {"projects": [p.to_dict() for p in projects], "limit": LIMIT, "running": running}


def assert_error(response: requests.Response, status: int, message: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.json() == {"status": status, "message": message}


# --- listing ----------------------------------------------------------------------


def test_a_user_lists_their_own_projects_with_a_token(hub):
    response = hub.get("projects/alice", "alice")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.json() == listing(*ALICE)


def test_a_user_lists_their_own_projects_with_the_login_cookie(hub):
    session = hub.login("bob")
    response = session.get(hub.api_url("projects/bob"), timeout=10)
    assert response.status_code == 200
    assert response.json() == listing(*BOB)


def test_a_user_without_projects_gets_an_empty_list(hub):
    assert hub.get("projects/newbie", "newbie").json() == listing()


def test_the_projects_of_another_user_are_refused(hub):
    assert_error(hub.get("projects/bob", "alice"), 403, "You may not see the projects of bob.")
    session = hub.login("alice")
    assert_error(session.get(hub.api_url("projects/bob"), timeout=10), 403, "You may not see the projects of bob.")


def test_an_admin_lists_any_users_projects(hub):
    assert hub.get("projects/bob", "ada").json() == listing(*BOB)
    assert hub.get("projects/alice", "ada").json() == listing(*ALICE)


def test_no_credentials_no_projects(hub):
    response = requests.get(hub.api_url("projects/alice"), timeout=10)
    assert_error(response, 403, "You may not see the projects of alice.")


def test_no_such_user_is_404_for_an_admin_and_403_for_others(hub):
    assert_error(hub.get("projects/nobody", "ada"), 404, "No such user: nobody")
    assert_error(hub.delete("projects/nobody/0123456789ab", "ada"), 404, "No such user: nobody")
    # A user learns nothing about who exists.
    assert_error(hub.get("projects/nobody", "alice"), 403, "You may not see the projects of nobody.")


def test_the_earlier_persistent_binderhubs_state_is_listed_migrated(hub):
    body = hub.get("projects/carol", "carol").json()
    projects = body["projects"]
    # Most recently used first; canonical URLs; the folders the earlier hub used, so files are kept.
    assert [p["repo_url"] for p in projects] == ["https://gitlab.com/carol/newer", "https://github.com/Carol/Old"]
    assert [p["folder"] for p in projects] == ["gl_carol_newer", "gh_Carol_Old"]
    assert [p["display_name"] for p in projects] == ["gl/carol/newer", "gh/Carol/Old"]
    assert [p["last_used"] for p in projects] == ["2024-01-02T03:04:05Z", None]
    assert [p["image"] for p in projects] == ["registry.example.org/binder/newer:def",
                                              "registry.example.org/binder/old:abc"]
    assert all(len(p["id"]) == 12 for p in projects)
    # Read-only: listing does not rewrite the stored state.
    assert hub.spawner_state("carol") == LEGACY


def test_a_damaged_state_answers_what_it_can_read(hub):
    """Not a 500: the readable projects are listed; the rest stays in the database, for an admin."""
    assert hub.get("projects/dora", "dora").json() == listing(BOB[0])
    assert hub.login("dora").get(hub.hub_url("home"), timeout=10).status_code == 200
    assert hub.spawner_state("dora") == DAMAGED


def test_a_state_of_a_newer_hub_is_shown_as_unreadable_and_never_launched(hub):
    assert hub.get("projects/otto", "otto").json() == listing()
    page = hub.login("otto").get(hub.hub_url("home"), timeout=10)
    assert page.status_code == 200
    assert 'id="projects-unreadable"' in page.text
    before = _kubernetes_calls(hub)
    response = requests.post(hub.api_url("users/otto/server"), headers=auth(hub.token("otto")), timeout=30,
                             json={"image": f"{REGISTRY}x:1", "repo_url": "https://github.com/otto/x"})
    assert_error(response, 400, "Your projects are stored in a format this hub cannot read (a newer version of "
                                "it wrote them): ask the hub's administrators to upgrade it.")
    assert _kubernetes_calls(hub) == before
    stored = hub.spawner_state("otto")
    assert {key: stored[key] for key in FOREIGN} == FOREIGN  # beside KubeSpawner's own keys, unchanged


def test_the_api_lives_under_base_url(hub):
    assert hub.base_url == "/jh/"
    assert hub.api_url("projects/alice").startswith(f"{hub.origin}/jh/hub/api/")
    # Without the prefix the request does not reach the API: the hub sends it under its base_url.
    response = requests.get(f"{hub.origin}/hub/api/projects/alice", headers=auth(hub.token("alice")),
                            allow_redirects=False, timeout=10)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/jh/")


# --- deleting ---------------------------------------------------------------------


def test_a_user_deletes_their_own_project_with_a_token(hub):
    gone = ALICE[1]
    response = hub.delete(f"projects/erin/{gone.id}", "erin")
    assert response.status_code == 204
    assert response.content == b""
    assert hub.get("projects/erin", "erin").json() == listing(ALICE[0], ALICE[2])
    state = hub.spawner_state("erin")
    assert state["version"] == 2
    assert [p["id"] for p in state["projects"]] == [ALICE[0].id, ALICE[2].id]
    assert state["pending_deletions"] == [gone.folder]
    # Deleting it again: it is gone.
    assert_error(hub.delete(f"projects/erin/{gone.id}", "erin"), 404, f"No such project: {gone.id}")


def test_a_user_may_not_delete_another_users_project(hub):
    assert_error(hub.delete(f"projects/fred/{ALICE[0].id}", "alice"), 403, "You may not change the projects of fred.")
    assert hub.spawner_state("fred")["projects"] == [p.to_dict() for p in ALICE]


def test_an_admin_deletes_any_users_project(hub):
    response = hub.delete(f"projects/fred/{ALICE[0].id}", "ada")
    assert response.status_code == 204
    state = hub.spawner_state("fred")
    assert [p["id"] for p in state["projects"]] == [ALICE[1].id, ALICE[2].id]
    assert state["pending_deletions"] == [ALICE[0].folder]


def test_a_read_only_token_lists_but_does_not_delete(hub):
    token = hub.token("gina", scopes=["custom:projects:read!user=gina"])
    listed = requests.get(hub.api_url("projects/gina"), headers=auth(token), timeout=10)
    assert listed.json() == listing(*ALICE)
    refused = requests.delete(hub.api_url(f"projects/gina/{ALICE[0].id}"), headers=auth(token), timeout=10)
    assert_error(refused, 403, "You may not change the projects of gina.")
    assert len(hub.spawner_state("gina")["projects"]) == 3


def test_no_such_project_is_404(hub):
    assert_error(hub.delete("projects/alice/0123456789ab", "alice"), 404, "No such project: 0123456789ab")
    assert_error(hub.delete("projects/alice/0123456789ab", "ada"), 404, "No such project: 0123456789ab")


@pytest.mark.parametrize("bad_id", ["ABCDEF012345", "bad_id", "a" * 65, "semi;colon", "x..y", "quote%22", "sp%20ace",
                                    "%C3%A9t%C3%A9"])
def test_a_malformed_project_id_is_400(hub, bad_id):
    assert_error(hub.delete(f"projects/alice/{bad_id}", "alice"), 400, "Malformed project id.")
    assert len(hub.spawner_state("alice")["projects"]) == 3


def test_a_project_cannot_be_deleted_while_the_server_runs(hub):
    # dave's server is running (a Running pod in the fake cluster): the hub says so, and so does the API.
    user = hub.get("users/dave", "dave").json()
    assert user["servers"][""]["ready"] is True
    assert hub.get("projects/dave", "dave").json() == listing(*DAVE, running=DAVE[0].id)
    message = "Stop the server before deleting a project: its files may be in use."
    assert_error(hub.delete(f"projects/dave/{DAVE[1].id}", "dave"), 409, message)
    assert_error(hub.delete(f"projects/dave/{DAVE[1].id}", "ada"), 409, message)
    assert hub.spawner_state("dave")["projects"] == [p.to_dict() for p in DAVE]


# --- XSRF: cookie-authenticated changes need the token ---------------------------------


def test_a_cookie_authenticated_delete_needs_the_xsrf_token(hub):
    session = hub.login("hana")
    url = hub.api_url(f"projects/hana/{ALICE[2].id}")
    assert_error(session.delete(url, timeout=10), 403, "'_xsrf' argument missing from DELETE")
    assert_error(session.delete(url, headers={"X-XSRFToken": "forged"}, timeout=10), 403,
                 "XSRF cookie does not match DELETE argument")
    # The token of another session does not do either.
    other = hub.login("ivan")
    assert session.delete(url, headers=hub.xsrf_header(other), timeout=10).status_code == 403
    assert len(hub.spawner_state("hana")["projects"]) == 3

    response = session.delete(url, headers=hub.xsrf_header(session), timeout=10)
    assert response.status_code == 204
    state = hub.spawner_state("hana")
    assert [p["id"] for p in state["projects"]] == [ALICE[0].id, ALICE[1].id]
    assert state["pending_deletions"] == [ALICE[2].folder]


# --- launches the spawner refuses before any Kubernetes call ------------------------------


def _kubernetes_calls(hub) -> list[tuple[str, str]]:
    """What the hub asked the (fake) cluster, beyond its pod reflector's list and watch."""
    reflector = f"/api/v1/namespaces/{NAMESPACE}/pods?"
    return [(method, path) for method, path in hub.kubernetes.requests
            if path.startswith("/api/") and not (method == "GET" and path.startswith(reflector))]


def test_an_image_from_another_registry_is_refused(hub):
    before = _kubernetes_calls(hub)
    response = requests.post(hub.api_url("users/jack/server"), headers=auth(hub.token("jack")), timeout=30,
                             json={"image": "docker.io/evil/image", "repo_url": "https://github.com/a/b"})
    assert_error(response, 400, "Image docker.io/evil/image is not from this hub's registry: only images built "
                                f"by this BinderHub, under {REGISTRY}, can be launched.")
    # Refused before any call to Kubernetes; nothing was started, and the projects are untouched.
    assert _kubernetes_calls(hub) == before
    server = hub.get("users/jack", "jack").json()
    assert server["server"] is None
    assert server["pending"] is None
    assert hub.spawner_state("jack")["projects"] == [p.to_dict() for p in ALICE]


def test_a_new_repository_beyond_the_limit_is_refused(hub):
    before = _kubernetes_calls(hub)
    response = requests.post(hub.api_url("users/lima/server"), headers=auth(hub.token("lima")), timeout=30,
                             json={"image": f"{REGISTRY}new-repo:abc123",
                                   "repo_url": "https://github.com/lima/four",
                                   "binder_request": "v2/gh/lima/four/HEAD"})
    assert_error(response, 400, "You already have 3 projects, the most this hub keeps per user. "
                                "Delete one on your home page to start gh/lima/four.")
    # A failed launch adds no project and keeps the pending deletions for the next launch.
    state = hub.spawner_state("lima")
    assert state["projects"] == [p.to_dict() for p in FULL]
    assert state["pending_deletions"] == ["github.com_lima_old"]
    assert hub.get("users/lima", "lima").json()["server"] is None
    assert _kubernetes_calls(hub) == before
