"""Property: whatever happens, a kept project's files stay, and a deleted project's never come back.

Hypothesis draws a starting volume and state (a new user, a plain JupyterHub home, the earlier
persistent BinderHub's state) and a sequence of launches from BinderHub, relaunches from the
table, bare spawns, deletions, failed launches, hub restarts in the middle of a launch, and
damage to the stored state. Each launch runs the real spawner (plan, pod manifest) and the pod's
real init containers through the kubelet stand-in over one scratch volume; after each successful
launch the user writes into the project. After every step:

- every file the user wrote into a kept project is on the volume, in the folder the state names;
- the plain home's files are kept (in the previous-home project once it exists);
- no file of a deleted project is in any kept project's folder, and a deleted folder still on the
  volume is still pending deletion;
- nothing outside the volume changed.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kubespawner import KubeSpawner
from persistent_binderhub.projects import PREVIOUS_HOME, legacy_folder_name
from tornado import web

from tests.hub.conftest import REGISTRY
from tests.hub.kubelet import Node, give_to_user, remove_tree, run_init_containers, scratch_dir

REPOS = ("https://github.com/org/alpha", "https://github.com/org/beta", "https://gitlab.com/group/gamma")
IMAGES = {repo: f"{REGISTRY}{repo.rsplit('/', 1)[1]}:1" for repo in REPOS}
DEFAULT_IMAGE = "quay.io/jupyter/base-notebook:2025-01-01"  # make_spawner's KubeSpawner.image
VOLUME = "volume-alice"
# The earlier persistent BinderHub's state: one ordinary project, one whose URL today's rules
# refuse, and a deletion by URL.
LEGACY_KEPT = ("https://github.com/org/alpha", "https://my_host.example.org/odd repo")
LEGACY_DELETED = "https://github.com/org/gone"
PLAIN_HOME = {"thesis.tex": "years of work", ".bashrc": "alias ll='ls -l'", "data/big.csv": "1,2,3",
              "previous-home/notes.txt": "a folder of that name, in the plain home"}


@dataclass
class Volume:
    """The scratch volume and what the user has on it, as the test knows it."""

    root: Path
    kept: dict[str, dict[str, str]] = field(default_factory=dict)  # project id -> file -> content
    plain: dict[str, str] = field(default_factory=dict)  # the plain home's files, not yet in a project
    deleted: set[tuple[str, str, str]] = field(default_factory=set)  # folder, file, content of deleted projects
    tokens: itertools.count = field(default_factory=itertools.count)

    def write(self, folder: str, name: str | None = None) -> tuple[str, str]:
        """The user writes a file (a new one, unless named) that no other write ever repeats."""
        token = next(self.tokens)
        name = name or f"user-{token}.txt"
        content = f"written by the user, token {token}"
        path = self.root / folder / name
        path.write_text(content)
        give_to_user(path)
        return name, content


class Hub:
    """One user's spawner as the hub runs it, restarted from its database row when asked."""

    def __init__(self, loop, make_spawner, reflector, *, node: Node, volume: Volume, state: dict | None):
        self.loop, self.make_spawner, self.reflector, self.node, self.volume = (
            loop, make_spawner, reflector, node, volume)
        self.spawner = make_spawner(state=state, image=DEFAULT_IMAGE)
        self.fail: str | None = None  # how the next pod fails: "before-init", "after-init"

    async def start_pod(self, spawner) -> str:
        """KubeSpawner.start, as the cluster would run it."""
        pod = await spawner.get_pod_manifest()
        if self.fail == "before-init":
            raise TimeoutError("the image could not be pulled")
        self.run_init_containers(spawner, pod)
        if self.fail == "after-init":
            self.reflector.remove(spawner)
            raise TimeoutError("the server did not become ready")
        return "http://10.0.0.5:8888"

    def run_init_containers(self, spawner, pod) -> None:
        results = run_init_containers(self.node, pod)
        assert [r.name for r in results] == ["project-prepare", "project-seed", "project-finish"]
        assert all(r.returncode == 0 for r in results), [(r.name, r.stderr) for r in results]
        self.reflector.show(spawner, "Running", {r.name: r.report for r in results})

    def launch(self, options: dict) -> bool:
        """A spawn as JupyterHub makes it; True when the server started."""
        spawner = self.spawner
        spawner.user_options = options
        spawner.clear_state()
        try:
            self.loop.run_until_complete(spawner.start())
        except (web.HTTPError, TimeoutError):
            return False
        finally:
            self.fail = None
        self.use_running_project()
        self.reflector.pods.clear()  # the user stops the server again
        return True

    def use_running_project(self) -> None:
        self.track_previous_home()
        project = self.spawner.project_list()[0]
        files = self.volume.kept.setdefault(project.id, {})
        files.update([self.volume.write(project.folder)])
        if (self.volume.root / project.folder / "README.md").exists():
            files.update([self.volume.write(project.folder, "README.md")])  # an edit of a seeded file

    def track_previous_home(self) -> None:
        """Once the state has the previous-home project, the plain home's files are its files."""
        if self.volume.plain and self.spawner.projects_state.find(PREVIOUS_HOME):
            self.volume.kept.setdefault(PREVIOUS_HOME, {}).update(self.volume.plain)
            self.volume.plain = {}

    def delete(self, index: int) -> None:
        projects = self.spawner.project_list()
        if not projects:
            return
        project = projects[index % len(projects)]
        self.spawner.set_projects(self.spawner.projects_state.without(project.id))
        files = self.volume.kept.pop(project.id, {})
        self.volume.deleted.update((project.folder, name, content) for name, content in files.items())

    def restart_during_launch(self, options: dict, fate: str) -> None:
        """The hub restarts right after recording a launch; the pod was lost, stayed Pending, or ran."""
        spawner = self.spawner
        spawner.user_options = options
        try:
            started = spawner.start()
        except web.HTTPError:
            return
        started.cancel()  # the hub is gone before the launch went on
        pod = None if fate == "lost" else self.loop.run_until_complete(spawner.get_pod_manifest())
        if fate == "pending":
            self.reflector.show(spawner, "Pending")
        elif fate == "ran":
            self.run_init_containers(spawner, pod)
        self.restart()
        self.poll()
        if fate == "pending":
            self.run_init_containers(self.spawner, pod)
            self.poll()
        if self.spawner.projects_state.launching is None and self.reflector.pods:
            self.use_running_project()
        self.reflector.pods.clear()  # the server stops again

    def poll(self) -> None:
        self.loop.run_until_complete(self.spawner.poll())

    def restart(self, damage: bool = False) -> None:
        old = self.spawner
        state = dict(old.orm_spawner.state)
        if damage:  # a hand-edited row: junk, and a deletion of every kept project's folder
            state["projects"] = [*state.get("projects", []), "junk", {"folder": [1]}]
            state["pending_deletions"] = [*state.get("pending_deletions", []),
                                          *(p.folder for p in old.project_list())]
        self.spawner = self.make_spawner(state=state, image=DEFAULT_IMAGE)
        self.spawner.orm_spawner.user_options = getattr(old.orm_spawner, "user_options", {})


def _check(hub: Hub, outside: Path, outside_before: dict) -> None:
    hub.track_previous_home()
    volume, state = hub.volume, hub.spawner.projects_state
    folders = {p.id: p.folder for p in state.projects}
    assert set(volume.kept) <= set(folders), "the test tracks only kept projects"
    for project_id, files in volume.kept.items():
        for name, content in files.items():
            assert (volume.root / folders[project_id] / name).read_text() == content, (project_id, name)
    for name, content in volume.plain.items():  # not adopted yet: at the root, or moved by a failed launch
        places = [volume.root / name, *(p / name for p in volume.root.glob("previous-home*"))]
        assert any(p.is_file() and p.read_text() == content for p in places), name
    deleted_contents = {content for _, _, content in volume.deleted}
    for folder in folders.values():
        for path in (volume.root / folder).rglob("*"):
            if path.is_file() and not path.is_symlink() and path.stat().st_mode & 0o400:
                assert path.read_text(errors="replace") not in deleted_contents, f"deleted file back: {path}"
    for folder, name, content in volume.deleted:  # still there: then still to be removed
        path = volume.root / folder / name
        if path.is_file() and path.read_text() == content:
            assert folder in state.pending_deletions, f"{folder} of a deleted project is no longer pending"
    assert _tree(outside) == outside_before


def _tree(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): p.read_text() for p in sorted(root.rglob("*")) if p.is_file()}


def _image_home(root: Path, repo: str) -> Path:
    home = root / "images" / repo.rsplit("/", 1)[1]
    (home / "notebooks").mkdir(parents=True)
    (home / "README.md").write_text(f"the repository {repo}")
    (home / "notebooks" / "analysis.ipynb").write_text("{}")
    (home / ".postbuild-output").write_text("made by postBuild")
    (home / "link").symlink_to("README.md")
    (home / "read-only").mkdir()
    (home / "read-only" / "data.csv").write_text("1,2")
    give_to_user(home.parent)
    (home / "read-only").chmod(0o555)
    return home


def _starting_state(kind: str, volume: Volume) -> dict | None:
    """The stored state and the volume's files for a new user, a plain home, or a legacy user."""
    if kind == "plain":
        for name, content in PLAIN_HOME.items():
            (volume.root / name).parent.mkdir(parents=True, exist_ok=True)
            (volume.root / name).write_text(content)
        (volume.root / "lost+found").mkdir()
        give_to_user(volume.root)
        volume.plain = dict(PLAIN_HOME)
        return {"pod_name": "jupyter-alice", "kubespawner_version": "7.0.0"}
    if kind == "legacy":
        for url in (*LEGACY_KEPT, LEGACY_DELETED):
            (volume.root / legacy_folder_name(url)).mkdir()
            volume.write(legacy_folder_name(url), "work.txt")
        give_to_user(volume.root)
        return {"projects": [[url, IMAGES[REPOS[1]], "1", f"legacy {n}", "never"] for n, url in enumerate(LEGACY_KEPT)],
                "deleted_projects": [LEGACY_DELETED]}
    return None


def _track_legacy(hub: Hub) -> None:
    """What the user had with the earlier hub: its projects' files are kept, its deletion's are not."""
    for project in hub.spawner.project_list():
        work = hub.volume.root / project.folder / "work.txt"
        hub.volume.kept[project.id] = {"work.txt": work.read_text()}
    gone = legacy_folder_name(LEGACY_DELETED)
    hub.volume.deleted.add((gone, "work.txt", (hub.volume.root / gone / "work.txt").read_text()))


repos = st.sampled_from(REPOS[:2]) | st.sampled_from(REPOS)  # mostly two: the same repository often again
launches = st.tuples(st.just("launch"), repos)
deletions = st.tuples(st.just("delete"), st.integers(0, 5))
failures = st.tuples(st.just("fail"), repos, st.sampled_from(["before-init", "after-init"]))
# Launches, deletions and failures twice as often as the rest: the paths where files are at stake.
steps = st.lists(st.one_of(
    launches, deletions, failures, launches, deletions, failures,
    st.tuples(st.just("relaunch"), st.integers(0, 5)),
    st.tuples(st.just("bare")),
    st.tuples(st.just("restart"), repos, st.sampled_from(["lost", "pending", "ran"])),
    st.tuples(st.just("damage")),
), min_size=3, max_size=12)


def binder_options(repo: str) -> dict:
    return {"image": IMAGES[repo], "repo_url": repo, "token": "a fresh server token"}


def _step(hub: Hub, step: tuple) -> None:
    action, *args = step
    if action == "launch":
        hub.launch(binder_options(args[0]))
    elif action == "relaunch":
        projects = hub.spawner.project_list()
        if projects:
            hub.launch({"project_id": projects[args[0] % len(projects)].id})
    elif action == "bare":  # /hub/spawn: the options stored at the last launch
        hub.launch(getattr(hub.spawner.orm_spawner, "user_options", None) or {})
    elif action == "delete":
        hub.delete(args[0])
    elif action == "fail":
        hub.fail = args[1]
        assert not hub.launch(binder_options(args[0]))
    elif action == "restart":
        hub.restart_during_launch(binder_options(args[0]), args[1])
    else:
        hub.restart(damage=True)


@pytest.fixture
def scenario(loop, make_spawner, reflector, monkeypatch):
    """scenario(start, shell): a scratch volume with a sentinel tree beside it, the images' homes,
    and the user's hub, with KubeSpawner's start and poll played by the cluster stand-in."""

    async def poll(spawner):  # KubeSpawner's answer: None while the pod exists (Pending or Running)
        return None if f"{spawner.namespace}/{spawner.pod_name}" in reflector.pods else 1

    monkeypatch.setattr(KubeSpawner, "poll", poll)

    @contextmanager
    def make(start: str, shell: str = "dash") -> Iterator[Hub]:
        scratch = scratch_dir()
        try:
            volume = Volume(scratch / "volume")
            volume.root.mkdir()
            give_to_user(volume.root)
            node = Node(volumes={VOLUME: volume.root}, shell=shell,
                        images={**{IMAGES[r]: _image_home(scratch, r) for r in REPOS},
                                DEFAULT_IMAGE: _image_home(scratch, "https://example.org/default")})
            hub = Hub(loop, make_spawner, reflector, node=node, volume=volume, state=_starting_state(start, volume))

            async def start_pod(spawner):  # a function, bound to each spawner as KubeSpawner.start is
                return await hub.start_pod(spawner)

            monkeypatch.setattr(KubeSpawner, "start", start_pod)
            if start == "legacy":
                _track_legacy(hub)
            outside = scratch / "outside"
            outside.mkdir()
            (outside / "sentinel").write_text("never touched")
            hub.check = partial(_check, hub, outside, _tree(outside))
            yield hub
        finally:
            reflector.pods.clear()
            remove_tree(scratch)

    return make


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(start=st.sampled_from(["new", "plain", "legacy"]), shell=st.sampled_from(["dash", "busybox"]), steps=steps)
def test_no_sequence_of_launches_loses_a_kept_file_or_brings_back_a_deleted_one(scenario, start, shell, steps):
    with scenario(start, shell) as hub:
        for step in steps:
            _step(hub, step)
            hub.check()


def test_every_kind_of_step_in_one_sequence(scenario):
    """A fixed sequence through every step, so that a step that does nothing cannot hide in random draws."""
    with scenario("plain") as hub:
        root = hub.volume.root
        assert hub.launch(binder_options(REPOS[0]))
        alpha, previous = hub.spawner.project_list()
        assert previous.id == PREVIOUS_HOME
        assert (root / previous.folder / "thesis.tex").read_text() == "years of work"
        edited = hub.volume.kept[alpha.id]["README.md"]
        assert set(hub.volume.kept[alpha.id]) == {"README.md", "user-0.txt"}
        hub.delete(0)
        assert hub.launch(binder_options(REPOS[0]))  # the same repository again: a fresh copy
        assert not (root / alpha.folder / "user-0.txt").exists()
        assert (root / alpha.folder / "README.md").read_text() not in (edited, "")
        hub.check()
        hub.delete(0)
        hub.fail = "before-init"  # a launch of the deleted project that never ran its init containers
        assert not hub.launch(binder_options(REPOS[0]))
        hub.check()  # its folder is still pending deletion
        hub.fail = "after-init"
        assert not hub.launch(binder_options(REPOS[1]))
        assert [p.repo_url for p in hub.spawner.project_list()] == [""]  # the previous home alone
        hub.restart_during_launch(binder_options(REPOS[2]), "pending")
        assert hub.spawner.project_list()[0].repo_url == REPOS[2]
        hub.restart(damage=True)
        assert hub.spawner.projects_state.pending_deletions == ()  # no kept folder is ever deleted
        assert hub.launch({"project_id": PREVIOUS_HOME})
        assert hub.launch(hub.spawner.orm_spawner.user_options)  # a bare spawn: the same project again
        hub.check()
        assert len(hub.volume.kept[PREVIOUS_HOME]) == len(PLAIN_HOME) + 2
