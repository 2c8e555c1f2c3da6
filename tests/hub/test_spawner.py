"""PersistentBinderSpawner: launches, pod manifests from the real KubeSpawner, state changes."""

from __future__ import annotations

from dataclasses import replace

import pytest
from kubespawner import KubeSpawner
from persistent_binderhub.projects import PREVIOUS_HOME, ProjectsState, canonical_repo_url, folder_name, project_id
from persistent_binderhub.spawner import (
    SEED_SCRIPT,
    STAGING_MOUNT,
    VOLUME_MOUNT,
    VOLUME_SCRIPT,
)
from tornado import web
from traitlets import TraitError

from tests.hub.conftest import MAINTENANCE_IMAGE, REGISTRY

REPO = "https://github.com/binder-examples/requirements"
IMAGE = f"{REGISTRY}binder-examples-requirements-55ab5c:8f5a9bd3"


def binder_options(repo: str = REPO, image: str = IMAGE, **extra) -> dict:
    """user_options as binderhub-service sends them to the hub API."""
    spec = repo.removeprefix("https://github.com/")
    return {"image": image, "repo_url": repo, "token": "server-token-never-stored",
            "binder_ref_url": f"{repo}/tree/8f5a9bd3", "binder_launch_host": "https://binder.example.org/",
            "binder_request": f"v2/gh/{spec}/HEAD", "binder_persistent_request": f"v2/gh/{spec}/8f5a9bd3",
            "binder_client_ip": "192.0.2.1", **extra}


@pytest.fixture
def fake_kubernetes(monkeypatch, reflector):
    """KubeSpawner.start stand-in: builds the pod manifest as the real one does, then succeeds (the
    pod Running, its init containers' reports as given) or fails."""
    outcome = {"fail": False, "pods": [], "reports": {}}

    async def start(spawner):
        outcome["pods"].append(await spawner.get_pod_manifest())
        if outcome["fail"]:
            raise TimeoutError("pod did not start")
        reflector.show(spawner, "Running", outcome["reports"])
        return "http://10.0.0.5:8888"

    monkeypatch.setattr(KubeSpawner, "start", start)
    return outcome


def init_container(pod, name: str):
    return next(c for c in pod.spec.init_containers if c.name == name)


def prepare_command(pod) -> list[str]:
    return init_container(pod, "project-prepare").command


def launch(loop, spawner, options):
    spawner.user_options = options
    spawner.clear_state()  # JupyterHub does this before every start
    return loop.run_until_complete(spawner.start())


def manifest(loop, spawner, options):
    spawner.user_options = options
    spawner.set_projects(replace(spawner.projects_state, launching=spawner.plan_launch(options)))
    return loop.run_until_complete(spawner.get_pod_manifest())


def test_binder_launch_pod(loop, make_spawner):
    spawner = make_spawner()
    pod = manifest(loop, spawner, binder_options())
    notebook = pod.spec.containers[0]
    folder = folder_name(REPO)
    assert notebook.image == IMAGE
    assert notebook.args[0] == "jupyterhub-singleuser"
    mounts = {m.mount_path: m for m in notebook.volume_mounts}
    assert mounts["/home/jovyan"].sub_path == folder
    assert mounts["/projects"].sub_path is None
    assert mounts["/home/jovyan"].name == mounts["/projects"].name == "volume-alice"
    env = {e.name: e.value for e in notebook.env}
    assert env["BINDER_REPO_URL"] == REPO
    assert env["BINDER_REF_URL"] == f"{REPO}/tree/8f5a9bd3"
    assert env["BINDER_LAUNCH_HOST"] == "https://binder.example.org/"
    assert env["BINDER_REQUEST"] == "v2/gh/binder-examples/requirements/HEAD"
    assert env["BINDER_PERSISTENT_REQUEST"] == "v2/gh/binder-examples/requirements/8f5a9bd3"
    assert env["JUPYTER_IMAGE"] == IMAGE
    assert "server-token-never-stored" not in str(pod.to_dict())

    prepare, seed, finish = pod.spec.init_containers
    assert [c.name for c in pod.spec.init_containers] == ["project-prepare", "project-seed", "project-finish"]
    # Only the deployment's own image sees the whole volume...
    assert prepare.image == finish.image == MAINTENANCE_IMAGE
    assert prepare.command == ["/bin/sh", "-c", VOLUME_SCRIPT, "volume-maintenance", "prepare", VOLUME_MOUNT,
                               folder, "keep"]
    assert finish.command == ["/bin/sh", "-c", VOLUME_SCRIPT, "volume-maintenance", "finish", VOLUME_MOUNT, folder]
    for maintenance in (prepare, finish):
        assert [(m.name, m.mount_path, m.sub_path) for m in maintenance.volume_mounts] == [
            ("volume-alice", VOLUME_MOUNT, None)]
    # ...the project's image sees nothing but its own staging folder.
    assert seed.image == IMAGE
    assert seed.command == ["/bin/sh", "-c", SEED_SCRIPT, "seed-project", "/home/jovyan", STAGING_MOUNT]
    assert [(m.name, m.mount_path, m.sub_path) for m in seed.volume_mounts] == [
        ("volume-alice", STAGING_MOUNT, f".seeding-{folder}")]
    for container in pod.spec.init_containers:
        assert [(e.name, e.value) for e in container.env] == [("REPORT_FILE", "/dev/termination-log")]
        assert container.termination_message_path == "/dev/termination-log"
        assert container.security_context == notebook.security_context  # the user's uid: files stay theirs


def test_projects_mount_can_be_switched_off(loop, make_spawner):
    pod = manifest(loop, make_spawner(mount_projects=False), binder_options())
    mounts = [m.mount_path for m in pod.spec.containers[0].volume_mounts]
    assert mounts == ["/home/jovyan"]
    # The maintenance containers still need the whole volume; the project's image never gets it.
    mounted = {c.name: [(m.mount_path, m.sub_path) for m in c.volume_mounts] for c in pod.spec.init_containers}
    assert mounted == {"project-prepare": [(VOLUME_MOUNT, None)], "project-finish": [(VOLUME_MOUNT, None)],
                       "project-seed": [(STAGING_MOUNT, f".seeding-{folder_name(REPO)}")]}


def test_without_a_maintenance_image_nothing_is_started(loop, make_spawner):
    with pytest.raises(web.HTTPError, match="maintenance_image is not set"):
        manifest(loop, make_spawner(maintenance_image=""), binder_options())


def test_home_volume_is_found_by_mount_path_not_position(loop, make_spawner):
    spawner = make_spawner(volume_mounts={
        "a-first": {"name": "scratch", "mountPath": "/tmp/scratch"},
        "volume-{user_server}": {"name": "volume-{user_server}", "mountPath": "/home/jovyan/"},
    }, volumes={"a-first": {"name": "scratch", "emptyDir": {}},
                "volume-{user_server}": {"name": "volume-{user_server}",
                                         "persistentVolumeClaim": {"claimName": "claim-{user_server}"}}})
    mounts = {m.mount_path: m for m in manifest(loop, spawner, binder_options()).spec.containers[0].volume_mounts}
    assert mounts["/tmp/scratch"].sub_path is None
    assert mounts["/home/jovyan/"].sub_path == folder_name(REPO)


def test_no_home_volume_is_a_clear_error(loop, make_spawner):
    spawner = make_spawner(volume_mounts={}, volumes={})
    with pytest.raises(web.HTTPError, match="need the user volume mounted at /home/jovyan"):
        manifest(loop, spawner, binder_options())


@pytest.mark.parametrize("image", [
    "docker.io/evil/miner:latest",
    "registry.example.org/other/image:1",
    "registry.example.org/binder",
    f"{REGISTRY}../../evil:1",
    f"{REGISTRY}x:1 ; rm -rf /",
    f"{REGISTRY}x:1\nfoo",
    f"{REGISTRY}x:1\n",  # a trailing newline: every pattern matches the whole string
    "",
    None,
    12,
])
def test_images_outside_the_registry_are_refused(loop, make_spawner, fake_kubernetes, image):
    spawner = make_spawner()
    with pytest.raises(web.HTTPError) as refused:
        launch(loop, spawner, binder_options(image=image))
    assert refused.value.status_code == 400
    assert "registry" in refused.value.log_message or "not a valid container image" in refused.value.log_message
    assert fake_kubernetes["pods"] == []  # nothing reached Kubernetes
    assert spawner.project_list() == []


HOSTILE = ["https://github.com/org/../../etc", "https://github.com/org/repo;rm${IFS}-rf${IFS}~",
           "https://github.com/org/$(touch${IFS}pwned)", "https://github.com/org/'quoted\"repo`",
           "https://github.com/org/répo-ü-日本", "https://github.com/org/" + "x" * 1900,
           "https://github.com/-rf/--no-preserve-root", "https://github.com/org/repo%2F..%2F..%2Fetc"]


@pytest.mark.parametrize("repo", HOSTILE)
def test_hostile_repo_urls_become_safe_folders_passed_as_arguments(loop, make_spawner, fake_kubernetes, repo):
    spawner = make_spawner()
    launch(loop, spawner, binder_options(repo=repo))
    (pod,) = fake_kubernetes["pods"]
    prepare = prepare_command(pod)
    folder = prepare[6]
    assert prepare[:6] == ["/bin/sh", "-c", VOLUME_SCRIPT, "volume-maintenance", "prepare", VOLUME_MOUNT]
    assert init_container(pod, "project-seed").volume_mounts[0].sub_path == f".seeding-{folder}"
    assert folder == folder_name(canonical_repo_url(repo))
    assert len(folder) <= 100
    assert all(c in "abcdefghijklmnopqrstuvwxyz0123456789._-" for c in folder)
    assert folder[0].isalnum()
    assert pod.spec.containers[0].volume_mounts[0].sub_path == folder
    assert spawner.project_list()[0].repo_url == canonical_repo_url(repo)


@pytest.mark.parametrize(("options", "message"), [
    ({"repo_url": "https://github.com/org/repo\nx"}, "repository URL"),
    ({"repo_url": "x" * 10000}, "repository URL"),
    ({"repo_url": "https://github.com/org/repo; rm -rf ~"}, "repository URL"),
    ({"repo_url": "https://github.com/org/$(touch pwned)"}, "repository URL"),
    ({"repo_url": ""}, "repository URL is missing"),
    ({"image": f"{REGISTRY}x:$(reboot)"}, "container image"),
    ({"image": f"{REGISTRY}x:..%2f"}, "container image"),
    ({"binder_request": "v2/gh/a/b/\nHEAD"}, "binder_request"),
    ({"binder_ref_url": "x" * 10000}, "binder_ref_url"),
    ({"image": ""}, "not a valid container image"),
    ({}, "Choose a project"),
    ({"project_id": "unknown"}, "does not exist"),
])
def test_hostile_or_malformed_launch_requests_are_refused(loop, make_spawner, fake_kubernetes, options, message):
    spawner = make_spawner()
    with pytest.raises(web.HTTPError, match=message):
        launch(loop, spawner, binder_options(**options) if options and "project_id" not in options else options)
    assert fake_kubernetes["pods"] == []


def test_launches_update_state_only_when_they_succeed(loop, make_spawner, fake_kubernetes):
    spawner = make_spawner()
    launch(loop, spawner, binder_options())
    (project,) = spawner.project_list()
    assert (project.id, project.repo_url, project.ref, project.image) == (project_id(REPO), REPO, "8f5a9bd3", IMAGE)
    assert project.display_name == "gh/binder-examples/requirements"
    assert project.binder["persistent_request"].endswith("/8f5a9bd3")
    assert spawner.orm_spawner.state["projects"][0]["id"] == project.id  # written to the database
    assert "token" not in str(spawner.orm_spawner.state)

    other = "https://github.com/binder-examples/conda"
    fake_kubernetes["fail"] = True
    with pytest.raises(TimeoutError):
        launch(loop, spawner, binder_options(repo=other, image=f"{REGISTRY}conda:1"))
    assert [p.id for p in spawner.project_list()] == [project.id]  # the failed launch added nothing


def test_pending_deletions_are_cleared_only_after_a_successful_launch(loop, make_spawner, fake_kubernetes):
    spawner = make_spawner()
    launch(loop, spawner, binder_options())
    launch(loop, spawner, binder_options(repo="https://github.com/org/second", image=f"{REGISTRY}second:1"))
    first = next(p for p in spawner.project_list() if p.repo_url == REPO)
    spawner.set_projects(spawner.projects_state.without(first.id))
    assert spawner.projects_state.pending_deletions == (first.folder,)

    fake_kubernetes["fail"] = True
    second = spawner.project_list()[0]
    with pytest.raises(TimeoutError):
        launch(loop, spawner, {"project_id": second.id})
    assert prepare_command(fake_kubernetes["pods"][-1])[8:] == [first.folder]
    assert spawner.projects_state.pending_deletions == (first.folder,)  # not done yet, so kept

    fake_kubernetes["fail"] = False
    launch(loop, spawner, {"project_id": second.id})
    assert spawner.projects_state.pending_deletions == ()


def test_relaunch_from_the_table_uses_the_stored_image_and_updates_last_used(loop, make_spawner, fake_kubernetes):
    spawner = make_spawner()
    launch(loop, spawner, binder_options())
    before = spawner.project_list()[0]
    spawner.set_projects(ProjectsState((replace(before, last_used="2000-01-01T00:00:00Z"),)))
    launch(loop, spawner, {"project_id": before.id})
    pod = fake_kubernetes["pods"][-1]
    assert pod.spec.containers[0].image == IMAGE
    env = {e.name: e.value for e in pod.spec.containers[0].env}
    assert env["BINDER_PERSISTENT_REQUEST"] == before.binder["persistent_request"]
    assert spawner.project_list()[0].last_used > "2000-01-01T00:00:00Z"


def test_updating_a_project_keeps_its_folder(loop, make_spawner, fake_kubernetes):
    spawner = make_spawner()
    launch(loop, spawner, binder_options())
    newer = f"{REGISTRY}binder-examples-requirements-55ab5c:99aa00ff"
    launch(loop, spawner, binder_options(image=newer))
    (project,) = spawner.project_list()
    assert (project.image, project.ref, project.folder) == (newer, "99aa00ff", folder_name(REPO))


def test_the_limit_refuses_new_repositories_but_never_relaunches(loop, make_spawner, fake_kubernetes):
    spawner = make_spawner(projects_limit=2)
    launch(loop, spawner, binder_options())
    launch(loop, spawner, binder_options(repo="https://github.com/org/two", image=f"{REGISTRY}two:1"))
    with pytest.raises(web.HTTPError, match=r"You already have 2 projects.*Delete one on your home page"):
        launch(loop, spawner, binder_options(repo="https://github.com/org/three", image=f"{REGISTRY}three:1"))
    assert len(spawner.project_list()) == 2
    launch(loop, spawner, binder_options())  # an existing repository, via BinderHub
    launch(loop, spawner, {"project_id": spawner.project_list()[1].id})  # and from the table


def test_a_plain_home_is_moved_into_previous_home_once(loop, make_spawner, fake_kubernetes):
    spawner = make_spawner(state={"pod_name": "jupyter-alice", "namespace": "hub", "kubespawner_version": "7.0.0"},
                           default_image="quay.io/jupyter/scipy-notebook:2025-01-01")
    launch(loop, spawner, binder_options())
    assert prepare_command(fake_kubernetes["pods"][-1])[7] == "adopt"
    assert [p.id for p in spawner.project_list()] == [project_id(REPO), PREVIOUS_HOME]
    previous = spawner.project_list()[1]
    assert (previous.folder, previous.image) == (PREVIOUS_HOME, "quay.io/jupyter/scipy-notebook:2025-01-01")

    launch(loop, spawner, {"project_id": PREVIOUS_HOME})
    pod = fake_kubernetes["pods"][-1]
    assert prepare_command(pod)[7] == "keep"
    assert pod.spec.containers[0].image == "quay.io/jupyter/scipy-notebook:2025-01-01"
    assert pod.spec.containers[0].volume_mounts[0].sub_path == PREVIOUS_HOME


def test_a_new_user_adopts_nothing(loop, make_spawner, fake_kubernetes):
    spawner = make_spawner(state={})
    launch(loop, spawner, binder_options())
    assert prepare_command(fake_kubernetes["pods"][-1])[7] == "keep"
    assert [p.id for p in spawner.project_list()] == [project_id(REPO)]


def test_stopping_keeps_the_projects(loop, make_spawner, fake_kubernetes):
    spawner = make_spawner()
    launch(loop, spawner, binder_options())
    spawner.clear_state()  # what JupyterHub does after stop, before saving get_state()
    restored = make_spawner(state=spawner.get_state())
    assert restored.project_list() == spawner.project_list()


def test_legacy_state_is_migrated_on_load(make_spawner):
    spawner = make_spawner(state={"projects": [["https://github.com/org/old", "img:1", "1", "gh/org/old", "never"]],
                                  "deleted_projects": []})
    (project,) = spawner.project_list()
    assert project.folder == "gh_org_old"
    assert spawner.get_state()["version"] == 2


def test_storage_shared_between_users_keeps_each_user_in_their_sub_path(loop, make_spawner):
    # z2jh static storage: one claim for everybody, each home a sub-path of it.
    spawner = make_spawner(volume_mounts={"home": {"name": "home", "mountPath": "/home/jovyan",
                                                   "subPath": "home/{username}"}},
                           volumes={"home": {"name": "home", "persistentVolumeClaim": {"claimName": "shared"}}})
    pod = manifest(loop, spawner, binder_options())
    mounts = {m.mount_path: m.sub_path for m in pod.spec.containers[0].volume_mounts}
    assert mounts == {"/home/jovyan": f"home/alice/{folder_name(REPO)}", "/projects": "home/alice"}
    subpaths = {c.name: c.volume_mounts[0].sub_path for c in pod.spec.init_containers}
    assert subpaths == {"project-prepare": "home/alice", "project-finish": "home/alice",
                        "project-seed": f"home/alice/.seeding-{folder_name(REPO)}"}


def test_the_seeding_runs_after_the_charts_init_containers(loop, make_spawner):
    block = {"name": "block-cloud-metadata", "image": "busybox", "command": ["iptables", "..."]}
    pod = manifest(loop, make_spawner(init_containers=[block]), binder_options())
    assert [c.name for c in pod.spec.init_containers] == [
        "block-cloud-metadata", "project-prepare", "project-seed", "project-finish"]


def test_volumes_are_never_deleted_with_their_user(make_spawner):
    assert make_spawner().delete_pvc is False


def test_a_stored_image_from_outside_the_registry_is_not_relaunched(loop, make_spawner, fake_kubernetes):
    spawner = make_spawner()
    launch(loop, spawner, binder_options())
    stored = spawner.project_list()[0]
    spawner.set_projects(ProjectsState((replace(stored, image="docker.io/evil/image:1"),)))
    with pytest.raises(web.HTTPError, match="not from this hub's registry"):
        launch(loop, spawner, {"project_id": stored.id})


def test_the_previous_home_does_not_count_against_the_limit(loop, make_spawner, fake_kubernetes):
    spawner = make_spawner(state={"pod_name": "jupyter-alice"}, projects_limit=1)
    launch(loop, spawner, binder_options())
    assert len(spawner.project_list()) == 2
    with pytest.raises(web.HTTPError, match="You already have 1 projects"):
        launch(loop, spawner, binder_options(repo="https://github.com/org/two", image=f"{REGISTRY}two:1"))


def test_a_launch_is_in_the_database_before_the_pod_exists(loop, make_spawner, monkeypatch):
    seen = {}

    async def start(spawner):
        seen["state"] = dict(spawner.orm_spawner.state)  # what JupyterHub has committed by now
        return "http://10.0.0.5:8888"

    monkeypatch.setattr(KubeSpawner, "start", start)
    spawner = make_spawner()
    launch(loop, spawner, binder_options())
    assert seen["state"]["launching"]["project"]["repo_url"] == REPO
    assert seen["state"]["projects"] == []
    assert spawner.orm_spawner.state["launching"] is None
    assert spawner.orm_spawner.state["projects"][0]["repo_url"] == REPO


def _restarted_during_a_launch(make_spawner, options: dict, state: dict | None = None):
    """A spawner as the hub loads it after restarting while `options` were being launched."""
    spawner = make_spawner(state=state)
    recorded = replace(spawner.projects_state, launching=spawner.plan_launch(options))
    return make_spawner(state={**spawner.get_state(), **recorded.to_dict()})


@pytest.mark.parametrize("case", [("Running", [project_id(REPO)]), (None, []), ("Failed", [])])
def test_after_a_hub_restart_poll_settles_the_recorded_launch(loop, make_spawner, monkeypatch, reflector, case):
    phase, projects = case
    restarted = _restarted_during_a_launch(make_spawner, binder_options())
    if phase:
        reflector.show(restarted, phase)

    async def poll(spawner):  # KubeSpawner's answer: None while the pod exists and has not ended
        return None if phase == "Running" else 1

    monkeypatch.setattr(KubeSpawner, "poll", poll)
    loop.run_until_complete(restarted.poll())
    assert [p.id for p in restarted.project_list()] == projects
    assert restarted.projects_state.launching is None
    assert restarted.orm_spawner.state["launching"] is None


def test_a_pending_pod_after_a_hub_restart_is_no_launch_yet(loop, make_spawner, monkeypatch, reflector):
    """Its init containers have not run: neither its deletions nor its adoption count as done."""
    state = {**ProjectsState(pending_deletions=("gone",), adopt_previous_home=True).to_dict(), "pod_name": "x"}
    restarted = _restarted_during_a_launch(make_spawner, binder_options(), state)
    reflector.show(restarted, "Pending")

    async def poll(spawner):
        return None  # KubeSpawner says "running" for a Pending pod too

    monkeypatch.setattr(KubeSpawner, "poll", poll)
    loop.run_until_complete(restarted.poll())
    assert restarted.project_list() == []
    assert restarted.projects_state.pending_deletions == ("gone",)
    assert restarted.projects_state.adopt_previous_home
    assert restarted.projects_state.launching.project.repo_url == REPO  # settled at a later poll

    reflector.show(restarted, "Running", {"project-prepare": "adopted previous-home-2\n"})
    loop.run_until_complete(restarted.poll())
    assert [p.folder for p in restarted.project_list()] == [folder_name(REPO), "previous-home-2"]
    assert restarted.projects_state.pending_deletions == ()
    assert not restarted.projects_state.adopt_previous_home


def test_a_deletion_the_volume_refused_stays_pending(loop, make_spawner, fake_kubernetes):
    spawner = make_spawner(state=ProjectsState(pending_deletions=("stuck", "gone")).to_dict())
    fake_kubernetes["reports"] = {"project-prepare": "kept-pending stuck\nleftover .deleted-old\n"}
    launch(loop, spawner, binder_options())
    assert prepare_command(fake_kubernetes["pods"][-1])[8:] == ["stuck", "gone"]
    assert spawner.projects_state.pending_deletions == ("stuck",)
    assert [p.repo_url for p in spawner.project_list()] == [REPO]


def test_a_bare_spawn_never_relaunches_a_deleted_project(loop, make_spawner, fake_kubernetes):
    """JupyterHub starts a spawn without options (/hub/spawn) with the options stored at the last one."""
    spawner = make_spawner()
    launch(loop, spawner, binder_options())
    (project,) = spawner.project_list()
    assert spawner.orm_spawner.user_options == {"project_id": project.id}
    launch(loop, spawner, spawner.orm_spawner.user_options)  # a bare spawn relaunches the project, files kept
    assert prepare_command(fake_kubernetes["pods"][-1])[8:] == []
    spawner.set_projects(spawner.projects_state.without(project.id))
    with pytest.raises(web.HTTPError, match="does not exist"):
        launch(loop, spawner, spawner.orm_spawner.user_options)
    assert spawner.projects_state.pending_deletions == (project.folder,)


def test_a_deleted_project_launched_again_starts_from_a_fresh_copy(loop, make_spawner, fake_kubernetes):
    spawner = make_spawner()
    launch(loop, spawner, binder_options())
    (project,) = spawner.project_list()
    spawner.set_projects(spawner.projects_state.without(project.id))
    launch(loop, spawner, binder_options())  # BinderHub again, the same repository
    # Its old folder is removed first, then seeded afresh, by the same pod's init containers.
    assert prepare_command(fake_kubernetes["pods"][-1])[6:] == [project.folder, "keep", project.folder]
    assert spawner.projects_state.pending_deletions == ()
    assert [p.folder for p in spawner.project_list()] == [project.folder]


def test_the_previous_home_runs_todays_default_image(loop, make_spawner, fake_kubernetes):
    spawner = make_spawner(state={"pod_name": "jupyter-alice"}, default_image="quay.io/jupyter/base-notebook:old")
    launch(loop, spawner, binder_options())
    spawner.default_image = "quay.io/jupyter/base-notebook:2026-11-30"  # a security fix
    launch(loop, spawner, {"project_id": PREVIOUS_HOME})
    assert fake_kubernetes["pods"][-1].spec.containers[0].image == "quay.io/jupyter/base-notebook:2026-11-30"


def test_the_client_ip_reaches_the_server_but_is_never_stored(loop, make_spawner, fake_kubernetes):
    spawner = make_spawner()
    launch(loop, spawner, binder_options())
    env = {e.name: e.value for e in fake_kubernetes["pods"][-1].spec.containers[0].env}
    assert env["BINDER_CLIENT_IP"] == "192.0.2.1"
    assert "192.0.2.1" not in str(spawner.get_state())
    assert "192.0.2.1" not in str(spawner.orm_spawner.user_options)
    launch(loop, spawner, {"project_id": spawner.project_list()[0].id})  # a relaunch from the table has none
    assert "BINDER_CLIENT_IP" not in {e.name for e in fake_kubernetes["pods"][-1].spec.containers[0].env}


@pytest.mark.parametrize("damaged", [{"version": 2, "projects": 5}, {"version": 2, "projects": [{"folder": ["x"]}]},
                                     {"projects": [["https://[::1/x", "img", "1", "n", "never"]]},
                                     {"version": 2, "pending_deletions": "all", "launching": 7}])
def test_a_damaged_state_is_kept_aside_and_the_user_can_launch(loop, make_spawner, fake_kubernetes, damaged):
    spawner = make_spawner(state=damaged)
    launch(loop, spawner, binder_options())
    assert spawner.project_list()[0].repo_url == REPO
    assert spawner.get_state().get("kept_aside") or spawner.project_list()[1:]  # nothing dropped


@pytest.mark.parametrize("version", [3, "2", 2.5, True])
def test_a_state_of_an_unknown_version_is_kept_verbatim_and_launches_refused(loop, make_spawner, fake_kubernetes,
                                                                           version):
    stored = {"version": version, "projects": [{"anything": "new"}], "pending_deletions": ["x"], "pod_name": "p"}
    spawner = make_spawner(state=stored)
    with pytest.raises(web.HTTPError, match="format this hub cannot read"):
        launch(loop, spawner, binder_options())
    assert fake_kubernetes["pods"] == []
    kept = spawner.get_state()
    assert {k: kept[k] for k in ("version", "projects", "pending_deletions")} == {
        "version": version, "projects": [{"anything": "new"}], "pending_deletions": ["x"]}


def test_the_project_images_report_decides_nothing(loop, make_spawner, fake_kubernetes):
    """project-seed runs untrusted code: its termination message could claim anything."""
    spawner = make_spawner(state={**ProjectsState(pending_deletions=("gone",), adopt_previous_home=True).to_dict(),
                                  "pod_name": "x"})
    fake_kubernetes["reports"] = {"project-seed": "kept-pending gone\nadopted github.com_org_other\n"}
    launch(loop, spawner, binder_options())
    assert spawner.projects_state.pending_deletions == ()
    assert spawner.projects_state.find(PREVIOUS_HOME).folder == PREVIOUS_HOME


def test_reports_are_termination_messages_never_logs(loop, make_spawner):
    pod = manifest(loop, make_spawner(), binder_options())
    assert {c.termination_message_policy for c in pod.spec.init_containers} == {"File"}


def test_folder_names_leave_room_for_the_staging_prefix(make_spawner):
    assert make_spawner(folder_name_max_length=246).folder_name_max_length == 246
    with pytest.raises(TraitError):
        make_spawner(folder_name_max_length=247)


def test_poll_during_the_spawn_leaves_the_record_to_start(loop, make_spawner, monkeypatch, reflector):
    restarted = _restarted_during_a_launch(make_spawner, binder_options())
    restarted._spawn_pending = True  # what JupyterHub sets while start() runs (Spawner.pending == "spawn")

    async def poll(spawner):
        return 1  # no pod yet

    monkeypatch.setattr(KubeSpawner, "poll", poll)
    loop.run_until_complete(restarted.poll())
    assert restarted.projects_state.launching is not None
