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
        {"repo_url": "not a url"},  # odd, but a project: kept, in the folder the earlier spawner gave it
        {"repo_url": "https://gitlab.com/group/repo/", "image": "img:2"},  # the same repository, used later
    ], "deleted_projects": []}
    state = ProjectsState.from_state(legacy)
    assert [p.repo_url for p in state.projects] == ["https://gitlab.com/group/repo", "not a url"]
    assert state.projects[0].image == "img:2"  # the newer entry wins
    assert state.projects[0].folder == "gl_group_repo"
    assert state.projects[0].display_name == "gl/group/repo"
    assert state.projects[1].folder == legacy_folder_name("not a url")
    # The older entry of the same repository is kept aside, not dropped.
    assert [e["value"]["image"] for e in state.kept_aside] == ["img:1"]


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
    # A deletion queued for the folder of a kept project is dropped. (Not for the launch under way:
    # it removes the deleted folder first, see test_a_deleted_folder_launched_again_...)
    assert ProjectsState((live,), (live.folder, "other")).pending_deletions == ("other",)
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


def test_damaged_entries_are_kept_aside():
    good = _project("a")
    stored = {"version": 2, "projects": [{"id": "x"}, good.to_dict(), "junk"], "launching": {"project": {}}}
    state = ProjectsState.from_state(stored)
    assert state.projects == (good,)
    assert state.launching is None
    assert state.kept_aside == ({"key": "projects", "value": {"id": "x"}}, {"key": "projects", "value": "junk"},
                                {"key": "launching", "value": {"project": {}}})
    # Kept aside for good: written back and read again, nothing is lost or duplicated.
    assert ProjectsState.from_state(state.to_dict()) == state


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


# --- damaged, odd and foreign states (issue 8) ---------------------------------------

ODD_LEGACY_URLS = ["https://bücher.example/org/repo", "https://my_host.example.org/org/repo",
                   "https://github.com/org/my repo", "https://github.com/org/repo?ref=" + "r" * 2100, "https://[::1/x"]


@pytest.mark.parametrize("url", ODD_LEGACY_URLS)
def test_migration_keeps_projects_whose_url_todays_rules_refuse(url):
    # ...and a legacy deletion that maps to the same folder never removes their files.
    legacy = {"projects": [[url, "img:1", "1", "my project", "never"]], "deleted_projects": [url + "/"]}
    state = ProjectsState.from_state(legacy)
    (project,) = state.projects
    assert (project.folder, project.display_name) == (legacy_folder_name(url), "my project")
    assert legacy_folder_name(url + "/") == project.folder
    assert state.pending_deletions == ()
    assert ProjectsState.from_state(state.to_dict()) == state


@pytest.mark.parametrize("url", ["https://[::1/x", "https://ex\uff03ample.org/x", "https://exa\u2100mple.org/x"])
def test_urls_that_break_urlsplit_are_refused_cleanly(url):
    with pytest.raises(ProjectError, match="not a repository URL"):
        canonical_repo_url(url)


# (A URL's surrounding whitespace is stripped: a pasted URL with a newline is the same repository.)
@pytest.mark.parametrize(("check", "value"), [(checked_ref, "main\n"), (checked_ref, "v1.0\n"),
                                              (canonical_repo_url, "https://github.com\n/a/b")])
def test_a_trailing_newline_is_refused(check, value):
    with pytest.raises(ProjectError):
        check(value)


def test_a_trailing_newline_is_no_safe_folder():
    assert not is_safe_folder("repo\n")
    assert not is_safe_folder("gh_org_repo\n")
    assert ProjectsState(pending_deletions=("repo\n",)).pending_deletions == ()


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30)
    | st.sampled_from(["https://[::1/x", "previous-home", "github.com_org_repo", "https://github.com/org/repo"]),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=20)
PROJECT_FIELDS = ("id", "repo_url", "ref", "image", "display_name", "folder", "last_used", "binder")
state_keys = st.sampled_from(["version", "projects", "pending_deletions", "adopt_previous_home", "launching",
                              "kept_aside", "deleted_projects", "pod_name"])
damaged_states = st.one_of(
    json_values,
    st.dictionaries(state_keys, json_values, max_size=6),
    st.dictionaries(state_keys, json_values, max_size=5).map(lambda d: {**d, "version": 2}),
    st.builds(lambda projects, extra: {"version": 2, "projects": projects, **extra},
              st.lists(st.fixed_dictionaries({}, optional=dict.fromkeys(PROJECT_FIELDS, json_values)), max_size=3),
              st.dictionaries(state_keys, json_values, max_size=3)),
)


@settings(max_examples=500, deadline=None)
@given(damaged_states)
def test_reading_any_state_never_raises_and_loses_nothing(stored):
    import json

    state = ProjectsState.from_state(stored)
    written = state.to_dict()
    json.dumps(written)  # storable as the hub stores it
    again = ProjectsState.from_state(written)
    assert again == state  # reading what was written changes nothing: stable, nothing lost or doubled
    # Every folder of a stored project is protected: never pending deletion.
    assert not set(state.pending_deletions) & {p.folder for p in state.projects}


@pytest.mark.parametrize("version", [3, "2", 2.0, True, None])
def test_a_state_of_an_unknown_version_is_never_misread(version):
    stored = {"version": version, "projects": [{"repo_url": "https://github.com/org/a"}],
              "pending_deletions": ["gh_org_a"], "pod_name": "jupyter-alice"}
    state = ProjectsState.from_state(stored)
    assert state.projects == ()
    assert state.pending_deletions == ()
    assert state.to_dict() == {k: v for k, v in stored.items() if k != "pod_name"}  # written back as it was
    with pytest.raises(ProjectError, match="format this hub cannot read"):
        state.with_launching(_project("a"), adopted=None)


def test_migration_is_linear():
    import time

    def timed(count: int) -> float:
        legacy = {"projects": [[f"https://github.com/org/repo-{n}", "img:1", "1", "n", "never"]
                               for n in range(count)], "deleted_projects": [f"https://github.com/org/old-{n}"
                                                                           for n in range(count)]}
        start = time.perf_counter()
        state = ProjectsState.from_state(legacy)
        assert len(state.projects) == len(state.pending_deletions) == count
        return time.perf_counter() - start

    small, large = min(timed(10_000) for _ in range(2)), timed(100_000)
    assert large < 10 * small * 2  # ten times the entries, about ten times the time (quadratic: a hundred)
    assert large < 5.0


def test_a_stale_launch_record_never_cancels_a_deletion():
    """The hub restarted during a launch of `a`; then `a` was deleted (no server runs): settling the
    old record must not bring `a`, and so its deleted files, back."""
    a, b = _project("a"), _project("b")
    state = ProjectsState((a, b)).with_launching(a, adopted=None).without(a.id)
    assert state.launching is None
    assert state.pending_deletions == (a.folder,)


def test_a_deleted_folder_launched_again_is_removed_by_that_launch_first():
    a = _project("a")
    deleted = ProjectsState((a,)).without(a.id)
    launching = deleted.with_launching(a, adopted=None)
    assert launching.launching.deletions == (a.folder,)  # the launch's init containers remove it first
    after = launching.launched()
    assert [p.id for p in after.projects] == [a.id]
    assert after.pending_deletions == ()
    # Failed: still pending, so the next launch removes it again before using the folder.
    assert launching.without_launching().pending_deletions == (a.folder,)


def test_the_limit_has_one_definition():
    state = ProjectsState((_project("a"), previous_home_project("img")))
    assert not state.at_limit(2)
    assert state.at_limit(1)
