"""Projects: canonical URLs, display names, folder names, and the versioned state with its migrations."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from persistent_binderhub.projects import (
    PREVIOUS_HOME,
    Launching,
    Project,
    ProjectError,
    ProjectsState,
    canonical_repo_url,
    checked_ref,
    display_name,
    folder_name,
    is_safe_folder,
    legacy_folder_name,
    previous_home_project,
    project_id,
)

SAFE = re.compile(r"^[a-z0-9][a-z0-9._-]*$")


@pytest.mark.parametrize(("url", "canonical"), [
    ("https://GitHub.com/Org/Repo.git", "https://github.com/Org/Repo"),
    ("https://github.com/org/repo/", "https://github.com/org/repo"),
    ("https://github.com/org/repo.git/", "https://github.com/org/repo"),
    ("https://user:token@gitlab.com//group/sub//repo?x=1#top", "https://gitlab.com/group/sub/repo"),
    ("HTTPS://example.org:8443/repo", "https://example.org:8443/repo"),
])
def test_canonical_repo_url(url, canonical):
    assert canonical_repo_url(url) == canonical
    assert project_id(canonical_repo_url(url)) == project_id(canonical)


@pytest.mark.parametrize("url", ["", "   ", "not a url", "https://", "file:///etc/passwd",
                                 "https://exa mple.org/x", "https://example.org/x\nrm -rf /", "x" * 3000, "ssh://host/repo",
                                 "javascript://example.org/%0aalert(1)"])
def test_bad_repo_urls_are_refused(url):
    with pytest.raises(ProjectError):
        canonical_repo_url(url)


@pytest.mark.parametrize(("url", "request_spec", "name"), [
    ("https://github.com/org/repo", "v2/gh/org/repo/0123abcd", "gh/org/repo"),
    ("https://gitlab.com/group/sub/repo", "v2/gl/group%2Fsub%2Frepo/main", "gl/group/sub/repo"),
    ("https://gist.github.com/user/abc123", "v2/gist/user/abc123/HEAD", "gist/user/abc123"),
    ("https://example.org/some/repo", "v2/git/https%3A%2F%2Fexample.org%2Fsome%2Frepo.git/main",
     "git/example.org/some/repo"),
    ("https://doi.org/10.5281/zenodo.3242074", "v2/zenodo/10.5281/zenodo.3242074/", "zenodo/10.5281/zenodo.3242074"),
    ("https://doi.org/10.6084/m9.figshare.9782777.v1", "v2/figshare/10.6084/m9.figshare.9782777.v1",
     "figshare/10.6084/m9.figshare.9782777.v1"),
    ("https://doi.org/10.7910/DVN/TJCLKP", "v2/dataverse/10.7910/DVN/TJCLKP/", "dataverse/10.7910/DVN/TJCLKP"),
    ("https://www.hydroshare.org/resource/b8f6eae9d89241cf8b5904033460af61",
     "v2/hydroshare/b8f6eae9d89241cf8b5904033460af61", "hydroshare/b8f6eae9d89241cf8b5904033460af61"),
])
def test_display_names_for_every_provider(url, request_spec, name):
    canonical = canonical_repo_url(url)
    assert display_name(canonical, request_spec) == name
    # Without BinderHub's request (a migrated project), the URL alone gives the same name.
    assert display_name(canonical) == name


def test_folder_names_are_readable_when_they_can_be():
    assert folder_name("https://github.com/binder-examples/requirements") == \
        "github.com_binder-examples_requirements"
    hashed = folder_name("https://github.com/Org/My_Repo")
    assert re.fullmatch(r"github\.com-org-my-repo__[0-9a-f]{8}", hashed)
    long = folder_name("https://github.com/org/" + "x" * 300)
    assert len(long) == 100
    assert long.endswith(folder_name("https://github.com/org/" + "x" * 300)[-10:])


def test_folder_names_never_take_reserved_names():
    assert folder_name("https://previous-home") != PREVIOUS_HOME


urls = st.builds(
    lambda scheme, host, path: f"{scheme}://{host}/{path}",
    st.sampled_from(["https", "http", "HTTPS"]),
    st.from_regex(r"[A-Za-z0-9]([A-Za-z0-9-]{0,20}[A-Za-z0-9])?(\.[A-Za-z]{2,6}){1,2}", fullmatch=True),
    st.text(min_size=0, max_size=300).filter(lambda s: not any(c.isspace() or ord(c) < 32 for c in s)),
)


@settings(max_examples=400, deadline=None)
@given(urls, st.integers(min_value=20, max_value=255))
def test_any_url_maps_to_a_safe_bounded_deterministic_folder(url, max_length):
    try:
        canonical = canonical_repo_url(url)
    except ProjectError:
        return
    folder = folder_name(canonical, max_length)
    assert SAFE.match(folder)
    assert len(folder) <= max_length
    assert folder not in (".", "..", PREVIOUS_HOME)
    assert is_safe_folder(folder)


@settings(max_examples=400, deadline=None)
@given(urls, urls)
def test_distinct_canonical_urls_get_distinct_folders(first, second):
    try:
        a, b = canonical_repo_url(first), canonical_repo_url(second)
    except ProjectError:
        return
    if a != b:
        assert folder_name(a) != folder_name(b)


# Spellings that a careless readable scheme would fold together: '/' against '-' and '_',
# case, scheme, port, dots.
NEAR_IDENTICAL = ["https://github.com/a/b-c", "https://github.com/a-b/c", "https://github.com/a_b/c",
                  "https://github.com/a/b_c", "https://github.com/A/b", "https://github.com/a/B",
                  "https://github.com/a/b..c", "https://github.com/a/b.c", "http://github.com/a/b.c",
                  "https://github.com:8443/a/b.c", "git://github.com/a/b.c", "https://github.com/a/b/c"]


def test_near_identical_repositories_get_distinct_folders():
    folders = [folder_name(canonical_repo_url(url)) for url in NEAR_IDENTICAL]
    assert len(set(folders)) == len(NEAR_IDENTICAL)


@pytest.mark.parametrize("ref", ["../../etc", "main;rm -rf ~", "a\nb", "héllo", "x" * 10000, "$(reboot)", "",
                                 "-rf", "a b", "ref'quote"])
def test_hostile_refs_are_refused(ref):
    with pytest.raises(ProjectError):
        checked_ref(ref)


@pytest.mark.parametrize("ref", ["8f5a9bd3", "main", "v1.2.3", "release/2024-01", "3242074"])
def test_ordinary_refs_are_accepted(ref):
    assert checked_ref(ref) == ref


def test_an_invalid_port_is_a_clear_error():
    with pytest.raises(ProjectError, match="invalid port"):
        canonical_repo_url("https://github.com:99999/org/repo")


def _project(name: str, **extra) -> Project:
    url = f"https://github.com/org/{name}"
    return Project(id=project_id(url), repo_url=url, ref="abc", image=f"registry.example.org/binder/{name}:abc",
                   display_name=f"gh/org/{name}", folder=folder_name(url), **extra)


def test_state_round_trip():
    state = ProjectsState((_project("a", last_used="2026-01-01T00:00:00Z", binder={"request": "v2/gh/org/a/abc"}),
                           _project("b")), ("old-folder",), adopt_previous_home=False)
    stored = state.to_dict()
    assert stored["version"] == 2
    assert ProjectsState.from_state(stored) == state
    # ...and next to KubeSpawner's own keys, as the spawner stores it.
    assert ProjectsState.from_state({**stored, "pod_name": "jupyter-alice"}) == state


def test_new_user_and_plain_kubespawner_user():
    assert ProjectsState.from_state({}) == ProjectsState()
    assert ProjectsState.from_state(None) == ProjectsState()
    plain = ProjectsState.from_state({"pod_name": "jupyter-alice", "namespace": "hub", "kubespawner_version": "7.0.0"})
    assert plain.adopt_previous_home
    assert plain.projects == ()


def test_migration_from_lists_keeps_every_project_and_its_folder():
    legacy = {"projects": [
        ["https://github.com/binder-examples/requirements", "gesiscss/binder-r2d-req:abc", "abc",
         "gh/binder-examples/requirements", "2020-01-01T00:00:00Z"],
        ["https://github.com/binder-examples/conda.git", "gesiscss/binder-r2d-conda:def", "def",
         "gh/binder-examples/conda", "never"],
    ], "deleted_projects": ["https://github.com/binder-examples/r"], "pod_name": "jupyter-alice"}
    state = ProjectsState.from_state(legacy)
    assert [p.repo_url for p in state.projects] == ["https://github.com/binder-examples/conda",
                                                    "https://github.com/binder-examples/requirements"]
    conda, requirements = state.projects
    assert conda.folder == "gh_binder-examples_conda"  # where the earlier spawner put its files
    assert requirements.folder == legacy_folder_name("https://github.com/binder-examples/requirements")
    assert (conda.image, conda.ref, conda.last_used) == ("gesiscss/binder-r2d-conda:def", "def", None)
    assert requirements.last_used == "2020-01-01T00:00:00Z"
    assert state.pending_deletions == ("gh_binder-examples_r",)
    assert not state.adopt_previous_home  # the volume already holds project folders
    assert ProjectsState.from_state(state.to_dict()) == state


def test_migration_from_dicts():
    legacy = {"projects": [
        {"repo_url": "https://gitlab.com/group/repo", "image": "img:1", "ref": "1",
         "display_name": "gl/group/repo", "last_used": "2021-05-05T10:00:00Z"},
        {"repo_url": "not a url"},  # unreadable entries are skipped, not fatal
        {"repo_url": "https://gitlab.com/group/repo/", "image": "img:2"},  # the same repository, used later
    ], "deleted_projects": []}
    state = ProjectsState.from_state(legacy)
    assert len(state.projects) == 1
    assert state.projects[0].image == "img:2"  # the newer entry wins
    assert state.projects[0].folder == "gl_group_repo"
    assert state.projects[0].display_name == "gl/group/repo"


def test_a_launch_is_recorded_then_settled():
    a, b = _project("a"), _project("b")
    state = ProjectsState((a, b), ("gone-1",))
    launching = state.with_launching(b, adopted=None)
    assert launching.launching == Launching(b, ("gone-1",))
    assert ProjectsState.from_state(launching.to_dict()) == launching  # survives a hub restart
    # Deleted while the launch ran: not part of what the launch removes.
    later = launching.without(a.id)
    after = later.launched()
    assert [p.id for p in after.projects] == [b.id]
    assert after.projects[0].last_used is not None
    assert after.pending_deletions == (a.folder,)
    assert after.launching is None
    assert launching.without_launching() == state


def test_folders_in_use_are_never_pending_deletion():
    live = _project("a")
    # A deletion queued for the folder of a live project (or of the launch under way) is dropped.
    assert ProjectsState((live,), (live.folder, "other")).pending_deletions == ("other",)
    launching = ProjectsState((), (live.folder,), launching=Launching(live, ()))
    assert launching.pending_deletions == ()
    stored = {"version": 2, "projects": [live.to_dict()], "pending_deletions": [live.folder, "../x", "ok"]}
    assert ProjectsState.from_state(stored).pending_deletions == ("ok",)


@pytest.mark.parametrize(("live", "deleted"), [
    ("https://github.com/org/repo", "http://github.com/org/repo"),  # one folder in the old scheme
    ("https://github.com/a/b_c", "https://github.com/a_b/c"),
])
def test_migrated_deletions_never_remove_a_live_project(live, deleted):
    legacy = {"projects": [[live, "img:1", "1", "x", "never"]], "deleted_projects": [deleted]}
    state = ProjectsState.from_state(legacy)
    assert legacy_folder_name(live) == legacy_folder_name(deleted)  # the collision itself
    assert state.projects[0].folder == legacy_folder_name(live)
    assert state.pending_deletions == ()


def test_damaged_entries_are_skipped():
    good = _project("a")
    stored = {"version": 2, "projects": [{"id": "x"}, good.to_dict(), "junk"], "launching": {"project": {}}}
    state = ProjectsState.from_state(stored)
    assert state.projects == (good,)
    assert state.launching is None


def test_the_limit_counts_repositories_not_the_previous_home():
    state = ProjectsState((_project("a"), previous_home_project("img")))
    assert state.repository_count == 1


def test_delete_queues_the_folder_once():
    a, b = _project("a"), _project("b")
    state = ProjectsState((a, b))
    after = state.without(a.id)
    assert after.projects == (b,)
    assert after.pending_deletions == (a.folder,)
    with pytest.raises(KeyError):
        after.without(a.id)


def test_adopting_the_previous_home_adds_it_once():
    home = previous_home_project("quay.io/jupyter/base-notebook")
    state = ProjectsState(adopt_previous_home=True)
    after = state.with_launching(_project("a"), adopted=home).launched()
    assert [p.id for p in after.projects] == [_project("a").id, PREVIOUS_HOME]
    assert not after.adopt_previous_home
    again = after.with_launching(_project("b"), adopted=home).launched()
    assert [p.id for p in again.projects].count(PREVIOUS_HOME) == 1
