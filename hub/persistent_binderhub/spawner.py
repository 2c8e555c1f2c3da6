"""PersistentBinderSpawner: a KubeSpawner that keeps several projects on each user's one volume.

A launch comes either from BinderHub (its `user_options`: image, repo_url, binder_*)
or from the home page's project table (`{"project_id": ...}`, relaunched with the
stored image, no build). The pod gets:

- an init container running the project's own image, which removes the folders of
  deleted projects, moves a plain JupyterHub home into `previous-home` once, and
  seeds the project's folder from the image's home only if the folder is missing;
- the project's folder mounted as the home directory (`subPath`), and the whole
  volume at `/projects`.

The project state (see projects.py) changes only when a launch succeeded.
"""

from __future__ import annotations

import asyncio
import copy
import re
from dataclasses import replace
from importlib.resources import files

from kubernetes_asyncio.client.models import V1Container, V1VolumeMount
from kubespawner import KubeSpawner
from tornado import web
from traitlets import Bool, Integer, List, Unicode, default

from persistent_binderhub.projects import (
    MAX_URL_LENGTH,
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
    previous_home_project,
    project_id,
)

# The init container's program, kept in a file so it is read (and shellchecked) as a whole.
# Every user-derived value reaches it as an argument, never inside the script text.
SEED_SCRIPT = files("persistent_binderhub").joinpath("seed-projects.sh").read_text()
SEED_MOUNT = "/mnt/user-volume"  # where the init container sees the user's volume: never inside a home
BINDER_FIELDS = ("binder_ref_url", "binder_launch_host", "binder_request", "binder_persistent_request")
_IMAGE = re.compile(r"^[a-z0-9]+([._-][a-z0-9]+)*(:[0-9]+)?(/[a-z0-9]+([._-]{1,2}[a-z0-9]+)*)*"
                    r"(:[A-Za-z0-9_][A-Za-z0-9._-]{0,127})?(@sha256:[a-f0-9]{64})?$")


class PersistentBinderSpawner(KubeSpawner):
    projects_limit = Integer(5, min=1, config=True, help="The most projects a user may keep.")
    mount_projects = Bool(True, config=True, help="Mount the whole volume at projects_mount_path.")
    projects_mount_path = Unicode("/projects", config=True, help="Where the whole volume is mounted.")
    home_mount_path = Unicode("/home/jovyan", config=True,
                              help="The home directory: where the user volume is mounted, and the "
                                   "image's home the init container copies from.")
    allowed_image_prefixes = List(Unicode(), config=True,
                                  help="Image name prefixes a launch may use (BinderHub's image_prefix).")
    binder_url = Unicode("", config=True, help="The BinderHub form, for the 'New project' link.")
    default_image = Unicode(config=True, help="The image of the previous-home project.")
    folder_name_max_length = Integer(100, min=20, max=255, config=True,
                                     help="The longest project folder name.")

    @default("default_image")
    def _default_image(self) -> str:
        return self.image

    @default("cmd")
    def _default_cmd(self) -> list[str]:
        return ["jupyterhub-singleuser"]

    @default("apply_user_options")
    def _default_apply_user_options(self):
        def checked_by_start(spawner, user_options):
            """Launch options are checked and applied by start(), see plan_launch()."""

        return checked_by_start

    @default("delete_pvc")
    def _default_delete_pvc(self) -> bool:
        return False  # deleting a user never deletes the volume with their projects

    _projects = ProjectsState()

    # --- state ------------------------------------------------------------

    @property
    def projects_state(self) -> ProjectsState:
        return self._projects

    def load_state(self, state: dict) -> None:
        super().load_state(state)
        self._projects = ProjectsState.from_state(state)

    def get_state(self) -> dict:
        return {**super().get_state(), **self._projects.to_dict()}

    # clear_state (called before every start and after every stop) keeps the projects:
    # KubeSpawner's clear_state resets only the pod's own values.

    def set_projects(self, projects: ProjectsState) -> None:
        """Replace the project state, also in the database row; the caller commits
        (JupyterHub does right after start returns)."""
        self._projects = projects
        self.orm_spawner.state = self.get_state()

    def project_list(self) -> list[Project]:
        """The projects, most recently used first."""
        return list(self._projects.projects)

    @property
    def running_project_id(self) -> str | None:
        """The project of the running server: every launch puts its project first."""
        projects = self._projects.projects
        return projects[0].id if projects and self.ready and not self._projects.launching else None

    # --- launching --------------------------------------------------------

    def start(self):
        """Record the launch in the state (JupyterHub commits it as start returns), then start.

        Not a coroutine, so the record is in the database before the pod exists: after a hub
        restart, poll() finds out how the launch ended.
        """
        try:
            launching = self.plan_launch(self.user_options or {})
        except ProjectError as exc:
            raise web.HTTPError(400, str(exc)) from None
        self.log.info("Launching project %s (%s) for %s", launching.project.id, launching.project.display_name,
                      self.user.name)
        self.set_projects(replace(self._projects, launching=launching))
        return asyncio.ensure_future(self._start_recorded())

    async def _start_recorded(self):
        try:
            url = await super().start()
        except BaseException:
            self.set_projects(self._projects.without_launching())
            raise
        # Only now, with the pod running, is the launch part of the user's projects.
        self.set_projects(self._projects.launched())
        return url

    async def poll(self):
        status = await super().poll()
        if self._projects.launching and not self._start_pending:
            # A launch the hub lost track of (it restarted meanwhile): its pod tells how it ended.
            self.set_projects(self._projects.launched() if status is None else self._projects.without_launching())
        return status

    @property
    def launching_project(self) -> Project | None:
        return self._projects.launching.project if self._projects.launching else None

    def plan_launch(self, options: dict) -> Launching:
        """Check the launch request and work out what it starts; raise ProjectError if it cannot."""
        state = self._projects
        if options.get("project_id"):
            project = state.find(str(options["project_id"]))
            if project is None:
                raise ProjectError("That project does not exist (any more): reload your home page.")
            if not project.image:
                raise ProjectError(f"Project {project.display_name} has no image: launch it again "
                                   f"from the BinderHub form to rebuild it.")
            if project.id != PREVIOUS_HOME:  # which runs the deployment's own default image
                self._checked_image(project.image)
        elif "image" in options:
            project = self._project_from_binder(options, state)
        else:
            raise ProjectError("Choose a project on your home page, or start a new one from the BinderHub form.")
        if not is_safe_folder(project.folder):
            raise ProjectError(f"Project {project.display_name} has an unusable folder name.")
        adopted = previous_home_project(self.default_image) if state.adopt_previous_home else None
        return state.with_launching(project, adopted).launching

    def _project_from_binder(self, options: dict, state: ProjectsState) -> Project:
        image = self._checked_image(options["image"])
        repo_url = canonical_repo_url(options.get("repo_url", ""))
        binder = {key.removeprefix("binder_"): _checked_text(options[key], key)
                  for key in BINDER_FIELDS if options.get(key)}
        ref = checked_ref(image.rpartition(":")[2] if ":" in image.rpartition("/")[2] else "latest")
        existing = state.find(project_id(repo_url))
        if existing is None and state.repository_count >= self.projects_limit:
            raise ProjectError(
                f"You already have {state.repository_count} projects, the most this hub keeps per user. "
                f"Delete one on your home page to start {display_name(repo_url, binder.get('request'))}.")
        return Project(
            id=project_id(repo_url), repo_url=repo_url, ref=ref, image=image,
            display_name=display_name(repo_url, binder.get("request")),
            folder=existing.folder if existing else folder_name(repo_url, self.folder_name_max_length),
            last_used=existing.last_used if existing else None, binder=binder)

    def _checked_image(self, image: object) -> str:
        if not isinstance(image, str) or len(image) > 512 or not _IMAGE.match(image):
            raise ProjectError("The image name is not a valid container image reference.")
        if not any(prefix and image.startswith(prefix) for prefix in self.allowed_image_prefixes):
            raise ProjectError(f"Image {image} is not from this hub's registry: only images built by this "
                               f"BinderHub, under {' or '.join(self.allowed_image_prefixes) or '(none set)'}, "
                               f"can be launched.")
        return image

    # --- the pod ----------------------------------------------------------

    def get_env(self) -> dict[str, str]:
        env = super().get_env()
        project = self.launching_project
        if project:
            env["JUPYTER_IMAGE"] = env["JUPYTER_IMAGE_SPEC"] = project.image
            env["BINDER_REPO_URL"] = project.repo_url
            env.update({f"BINDER_{key.upper()}": value for key, value in project.binder.items()})
        return env

    async def get_pod_manifest(self):
        pod = await super().get_pod_manifest()
        project = self.launching_project
        if project is None:
            return pod
        notebook = pod.spec.containers[0]
        home = next((m for m in notebook.volume_mounts or [] if m.mount_path.rstrip("/") == self._home), None)
        if home is None:
            raise web.HTTPError(500, f"Persistent projects need the user volume mounted at {self._home} "
                                     f"(z2jh singleuser.storage.type: dynamic).")
        # The user's part of the volume: all of it, or (storage shared between users, such as
        # z2jh's static storage) the sub-path the home was mounted from.
        volume_part = home.sub_path
        notebook.image = project.image
        home.sub_path = f"{volume_part}/{project.folder}" if volume_part else project.folder
        if self.mount_projects:
            notebook.volume_mounts.append(
                V1VolumeMount(name=home.name, mount_path=self.projects_mount_path, sub_path=volume_part))
        # After the chart's own init containers: z2jh's block-cloud-metadata must run before
        # any code from the project's image does.
        volume = V1VolumeMount(name=home.name, mount_path=SEED_MOUNT, sub_path=volume_part)
        pod.spec.init_containers = [*(pod.spec.init_containers or []), self._seed_container(notebook, volume)]
        return pod

    @property
    def _home(self) -> str:
        return self.home_mount_path.rstrip("/")

    def _seed_container(self, notebook: V1Container, volume: V1VolumeMount) -> V1Container:
        launch = self._projects.launching
        arguments = [SEED_MOUNT, launch.project.folder, self._home,
                     "adopt" if launch.adopted else "keep", *launch.deletions]
        return V1Container(
            name="project-manager",
            image=launch.project.image,
            image_pull_policy=notebook.image_pull_policy,
            command=["/bin/sh", "-c", SEED_SCRIPT, "seed-projects", *arguments],
            security_context=copy.deepcopy(notebook.security_context),
            resources=copy.deepcopy(notebook.resources),
            volume_mounts=[volume],
        )


def _checked_text(value: object, key: str) -> str:
    if not isinstance(value, str) or len(value) > MAX_URL_LENGTH or any(ord(c) < 32 for c in value):
        raise ProjectError(f"{key} is not a valid value.")
    return value
