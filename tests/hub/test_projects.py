"""Projects: canonical URLs, display names, folder names, and the versioned state with its migrations."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from persistent_binderhub.projects import (
    PREVIOUS_HOME,
    Project,
    ProjectError,
    ProjectsState,
    canonical_repo_url,
    display_name,
    folder_name,
    is_safe_folder,
    legacy_folder_name,
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
    assert folder_name(canonical_repo_url(url), max_length) == folder


@settings(max_examples=400, deadline=None)
@given(urls, urls)
def test_distinct_canonical_urls_get_distinct_folders(first, second):
    try:
        a, b = canonical_repo_url(first), canonical_repo_url(second)
    except ProjectError:
        return
    if a != b:
        assert folder_name(a) != folder_name(b)


@pytest.mark.parametrize("path", ["a/b-c", "a-b/c", "a_b/c", "a/b_c", "A/b", "a/B", "a/b..c", "a/b.c"])
def test_near_identical_repositories_do_not_collide(path):
    folders = {folder_name(f"https://github.com/{p}") for p in ["a/b-c", "a-b/c", "a_b/c", "a/b_c", "A/b", "a/B",
                                                                 "a/b..c", "a/b.c"]}
    assert len(folders) == 8
    assert folder_name(f"https://github.com/{path}") in folders


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
        {"repo_url": "https://gitlab.com/group/repo/", "image": "img:0"},  # a duplicate of the first
    ], "deleted_projects": []}
    state = ProjectsState.from_state(legacy)
    assert len(state.projects) == 1
    assert state.projects[0].folder == "gl_group_repo"
    assert state.projects[0].display_name == "gl/group/repo"


def test_launch_moves_the_project_first_and_clears_only_done_deletions():
    a, b = _project("a"), _project("b")
    state = ProjectsState((a, b), ("gone-1", "gone-2"))
    after = state.with_launched(b, deleted=("gone-1",), adopted=None)
    assert [p.id for p in after.projects] == [b.id, a.id]
    assert after.projects[0].last_used is not None
    assert after.pending_deletions == ("gone-2",)


def test_delete_queues_the_folder_once():
    a, b = _project("a"), _project("b")
    state = ProjectsState((a, b))
    after = state.without(a.id)
    assert after.projects == (b,)
    assert after.pending_deletions == (a.folder,)
    with pytest.raises(KeyError):
        after.without(a.id)


def test_adopting_the_previous_home_adds_it_once():
    from persistent_binderhub.projects import previous_home_project

    home = previous_home_project("quay.io/jupyter/base-notebook")
    state = ProjectsState(adopt_previous_home=True)
    after = state.with_launched(_project("a"), (), adopted=home)
    assert [p.id for p in after.projects] == [_project("a").id, PREVIOUS_HOME]
    assert not after.adopt_previous_home
    assert after.with_launched(_project("b"), (), adopted=home).projects.count(home) == 1
