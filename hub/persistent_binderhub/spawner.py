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

import copy
import re
from dataclasses import dataclass
from importlib.resources import files

from kubernetes_asyncio.client.models import V1Container, V1VolumeMount
from kubespawner import KubeSpawner
from tornado import web
from traitlets import Bool, Integer, List, Unicode, default

from persistent_binderhub.projects import (
    MAX_URL_LENGTH,
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
BINDER_FIELDS = ("binder_ref_url", "binder_launch_host", "binder_request", "binder_persistent_request")
_IMAGE = re.compile(r"^[a-z0-9]+([._-][a-z0-9]+)*(:[0-9]+)?(/[a-z0-9]+([._-]{1,2}[a-z0-9]+)*)*"
                    r"(:[A-Za-z0-9_][A-Za-z0-9._-]{0,127})?(@sha256:[a-f0-9]{64})?$")


@dataclass(frozen=True)
class Launch:
    """What one launch starts: the project, and the volume housekeeping done before it."""

    project: Project
    deletions: tuple[str, ...]
    adopted: Project | None  # the previous-home project, when this launch moves a plain home


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

    _projects = ProjectsState()
    _launch: Launch | None = None

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
        return projects[0].id if projects and self.ready else None

    # --- launching --------------------------------------------------------

    async def start(self):
        try:
            launch = self.plan_launch(self.user_options or {})
        except ProjectError as exc:
            raise web.HTTPError(400, str(exc)) from None
        self._launch = launch
        self.log.info("Launching project %s (%s) for %s", launch.project.id, launch.project.display_name,
                      self.user.name)
        url = await super().start()
        # Only now, with the pod running, is the launch part of the user's projects.
        self.set_projects(self._projects.with_launched(launch.project, launch.deletions, launch.adopted))
        return url

    def plan_launch(self, options: dict) -> Launch:
        """Check the launch request and work out what it starts; raise ProjectError if it cannot."""
        state = self._projects
        if options.get("project_id"):
            project = state.find(str(options["project_id"]))
            if project is None:
                raise ProjectError("That project does not exist (any more): reload your home page.")
            if not project.image:
                raise ProjectError(f"Project {project.display_name} has no image: launch it again "
                                   f"from the BinderHub form to rebuild it.")
        elif "image" in options:
            project = self._project_from_binder(options, state)
        else:
            raise ProjectError("Choose a project on your home page, or start a new one from the BinderHub form.")
        if not is_safe_folder(project.folder):
            raise ProjectError(f"Project {project.display_name} has an unusable folder name.")
        adopted = previous_home_project(self.default_image) if state.adopt_previous_home else None
        return Launch(project, state.pending_deletions, adopted)

    def _project_from_binder(self, options: dict, state: ProjectsState) -> Project:
        image = self._checked_image(options["image"])
        repo_url = canonical_repo_url(options.get("repo_url", ""))
        binder = {key.removeprefix("binder_"): _checked_text(options[key], key)
                  for key in BINDER_FIELDS if options.get(key)}
        ref = checked_ref(image.rpartition(":")[2] if ":" in image.rpartition("/")[2] else "latest")
        existing = state.find(project_id(repo_url))
        if existing is None and len(state.projects) >= self.projects_limit:
            raise ProjectError(
                f"You already have {len(state.projects)} projects, the most this hub keeps per user. "
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
        if self._launch:
            project = self._launch.project
            env["JUPYTER_IMAGE"] = env["JUPYTER_IMAGE_SPEC"] = project.image
            env["BINDER_REPO_URL"] = project.repo_url
            env.update({f"BINDER_{key.upper()}": value for key, value in project.binder.items()})
        return env

    async def get_pod_manifest(self):
        pod = await super().get_pod_manifest()
        if self._launch is None:
            return pod
        notebook = pod.spec.containers[0]
        home = next((m for m in notebook.volume_mounts or [] if m.mount_path.rstrip("/") == self._home), None)
        if home is None:
            raise web.HTTPError(500, f"Persistent projects need the user volume mounted at {self._home} "
                                     f"(z2jh singleuser.storage.type: dynamic).")
        project = self._launch.project
        notebook.image = project.image
        home.sub_path = project.folder
        projects_mount = V1VolumeMount(name=home.name, mount_path=self.projects_mount_path)
        if self.mount_projects:
            notebook.volume_mounts.append(projects_mount)
        pod.spec.init_containers = [self._seed_container(notebook, projects_mount),
                                    *(pod.spec.init_containers or [])]
        return pod

    @property
    def _home(self) -> str:
        return self.home_mount_path.rstrip("/")

    def _seed_container(self, notebook: V1Container, projects_mount: V1VolumeMount) -> V1Container:
        launch = self._launch
        arguments = [self.projects_mount_path, launch.project.folder, self._home,
                     "adopt" if launch.adopted else "keep", *launch.deletions]
        return V1Container(
            name="project-manager",
            image=launch.project.image,
            image_pull_policy=notebook.image_pull_policy,
            command=["/bin/sh", "-c", SEED_SCRIPT, "seed-projects", *arguments],
            security_context=copy.deepcopy(notebook.security_context),
            resources=copy.deepcopy(notebook.resources),
            volume_mounts=[projects_mount],
        )


def _checked_text(value: object, key: str) -> str:
    if not isinstance(value, str) or len(value) > MAX_URL_LENGTH or any(ord(c) < 32 for c in value):
        raise ProjectError(f"{key} is not a valid value.")
    return value
