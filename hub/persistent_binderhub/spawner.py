"""PersistentBinderSpawner: a KubeSpawner that keeps several projects on each user's one volume.

A launch comes either from BinderHub (its `user_options`: image, repo_url, binder_*)
or from the home page's project table (`{"project_id": ...}`, relaunched with the
stored image, no build). A project's image is untrusted code (any repository's), so the
pod gets, after the chart's own init containers:

- `project-prepare`, in the deployment's own `maintenance_image`, the only container
  that sees the user's whole volume: removes the folders of deleted projects, moves a
  plain JupyterHub home into `previous-home` once, cleans leftovers, and makes a staging
  folder when the project's folder is new (volume-maintenance.sh);
- `project-seed`, in the project's image, with nothing but that staging folder
  mounted: copies the image's home into it (seed-project.sh);
- `project-finish`, in the maintenance image again: moves the copy into place;
- the notebook container, with the project's folder as its home (`subPath`) and the
  whole volume at `/projects` only when `mount_projects` is on.

The project state (see projects.py) changes only when a launch's pod really started.
"""

from __future__ import annotations

import asyncio
import copy
import re
from dataclasses import replace
from importlib.resources import files

from kubernetes_asyncio.client.models import V1Container, V1EnvVar, V1VolumeMount
from kubespawner import KubeSpawner
from tornado import web
from traitlets import Bool, Integer, List, Unicode, default

from persistent_binderhub.projects import (
    MAX_URL_LENGTH,
    PREVIOUS_HOME,
    Launching,
    LaunchReport,
    Project,
    ProjectError,
    ProjectsState,
    canonical_repo_url,
    checked_ref,
    display_name,
    folder_name,
    previous_home_project,
    project_id,
)
from persistent_binderhub.usage import VolumeUsage

# The init containers' programs, kept in files so they are read (and shellchecked) as a whole.
# Every user-derived value reaches them as an argument, never inside the script text.
VOLUME_SCRIPT = files("persistent_binderhub").joinpath("volume-maintenance.sh").read_text()
SEED_SCRIPT = files("persistent_binderhub").joinpath("seed-project.sh").read_text()
VOLUME_MOUNT = "/mnt/user-volume"  # where the maintenance containers see the user's volume
STAGING_MOUNT = "/mnt/project-seed"  # where the project's image sees its staging folder, and nothing else
STAGING_PREFIX = ".seeding-"  # the staging folder of FOLDER is .seeding-FOLDER, made by project-prepare
# Where each init container leaves its report: the Kubernetes termination message, read back
# from the pod's status once it started.
REPORT_PATH = "/dev/termination-log"
MAINTENANCE_CONTAINERS = ("project-prepare", "project-finish")
# What BinderHub's own spawner mixin passes from user_options to the server's environment.
BINDER_FIELDS = ("binder_ref_url", "binder_launch_host", "binder_request", "binder_persistent_request")
CLIENT_IP_FIELD = "binder_client_ip"  # in the pod's environment only: never kept in the state
_USAGE: dict[str, VolumeUsage] = {}  # one reader (and cache) per Prometheus, shared by every user's spawner
_IMAGE = re.compile(r"[a-z0-9]+([._-][a-z0-9]+)*(:[0-9]+)?(/[a-z0-9]+([._-]{1,2}[a-z0-9]+)*)*"
                    r"(:[A-Za-z0-9_][A-Za-z0-9._-]{0,127})?(@sha256:[a-f0-9]{64})?")


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
    maintenance_image = Unicode("", config=True,
                                help="The deployment's own image (pinned) that prepares the user volume: "
                                     "the only container that sees all of it. Needs a POSIX sh with "
                                     "cp, mv, rm, chmod and mktemp (busybox or coreutils).")
    usage_prometheus_url = Unicode("", config=True,
                                   help="Prometheus, whose volume statistics give the home page's 'USED of "
                                        "CAPACITY' line; empty: the line is not shown.")
    # At most 246: the staging folder `.seeding-FOLDER` must fit in a file name's 255 bytes.
    folder_name_max_length = Integer(100, min=20, max=255 - len(STAGING_PREFIX), config=True,
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

    _client_ip: str | None = None  # of the BinderHub launch under way; never stored

    def load_state(self, state: dict) -> None:
        super().load_state(state)
        self._projects = ProjectsState.from_state(state)
        if self._projects.foreign is not None:
            self.log.error("The projects of %s are stored in a format this hub cannot read (version %r): "
                           "kept unchanged, launches refused until the hub is upgraded.", self.user.name,
                           self._projects.foreign.get("version"))
        elif self._projects.kept_aside:
            self.log.warning("Parts of the stored projects of %s could not be read and are kept aside "
                             "unchanged in the spawner state (kept_aside): %d entries", self.user.name,
                             len(self._projects.kept_aside))

    def get_state(self) -> dict:
        # KubeSpawner's own keys last: a foreign state kept verbatim never overrides them.
        return {**self._projects.to_dict(), **super().get_state()}

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

    @property
    def at_project_limit(self) -> bool:
        return self._projects.at_limit(self.projects_limit)

    async def volume_usage(self) -> str | None:
        """How full the user's volume is ('6.1 GiB of 10 GiB'), or None when that cannot be told."""
        if not self.usage_prometheus_url:
            return None
        reader = _USAGE.setdefault(self.usage_prometheus_url, VolumeUsage(self.usage_prometheus_url))
        return await reader.text(self.namespace, self.pvc_name)

    # --- launching --------------------------------------------------------

    def start(self):
        """Record the launch in the state (JupyterHub commits it as start returns), then start.

        Not a coroutine, so the record is in the database before the pod exists: after a hub
        restart, poll() finds out how the launch ended.
        """
        options = self.user_options or {}
        try:
            launching = self.plan_launch(options)
            self._client_ip = _checked_text(options[CLIENT_IP_FIELD], CLIENT_IP_FIELD) \
                if options.get(CLIENT_IP_FIELD) and "image" in options else None
        except ProjectError as exc:
            raise web.HTTPError(400, str(exc)) from None
        self.log.info("Launching project %s (%s) for %s", launching.project.id, launching.project.display_name,
                      self.user.name)
        self.set_projects(replace(self._projects, launching=launching))
        # JupyterHub starts a bare spawn (/hub/spawn, a POST without a body) with the options of
        # the last launch: make those name this project, so that such a spawn relaunches it with
        # its files, or is refused once it was deleted, and never builds a deleted one again.
        self.user_options = self.orm_spawner.user_options = {"project_id": launching.project.id}
        return asyncio.ensure_future(self._start_recorded())

    async def _start_recorded(self):
        try:
            url = await super().start()
        except BaseException:
            self.set_projects(self._projects.without_launching())
            raise
        # Only now, with the pod running, is the launch part of the user's projects.
        self.set_projects(self._projects.launched(self._launch_report(self._pod())))
        return url

    async def poll(self):
        status = await super().poll()
        if self._projects.launching and self.pending != "spawn":
            # A launch the hub lost track of (it restarted meanwhile): its pod tells how it ended.
            # (While a spawn is pending, start() settles its own record.)
            # A pod still Pending has not run its init containers: settled at a later poll.
            pod = self._pod()
            phase = pod["status"].get("phase") if status is None and pod else None
            if phase == "Running":
                self.set_projects(self._projects.launched(self._launch_report(pod)))
            elif phase != "Pending":
                self.set_projects(self._projects.without_launching())
        return status

    def _pod(self) -> dict | None:
        """The user's pod as KubeSpawner's pod reflector last saw it."""
        reflector = self.pod_reflector
        return reflector.pods.get(f"{self.namespace}/{self.pod_name}") if reflector else None

    def _launch_report(self, pod: dict | None) -> LaunchReport:
        """What the init containers reported (their termination messages), logged for the admin.

        Only the maintenance containers' reports decide anything: project-seed runs the
        project's image, whose report is untrusted text, so it is only logged (as `unreadable N`).
        """
        statuses = ((pod or {}).get("status") or {}).get("initContainerStatuses") or []
        messages = {status.get("name"): ((status.get("state") or {}).get("terminated") or {}).get("message") or ""
                    for status in statuses}
        lines = [line.split() for name in MAINTENANCE_CONTAINERS for line in messages.get(name, "").splitlines()]
        seed = re.fullmatch(r"unreadable ([0-9]{1,9})\n?", messages.get("project-seed", ""))
        project = self.launching_project.display_name
        for words in lines:
            if words and words[0] != "adopted":
                self.log.warning("Launch of %s for %s: %s", project, self.user.name, " ".join(words))
        if seed:
            self.log.warning("Launch of %s for %s: %s files of the image's home could not be read and were not "
                             "copied", project, self.user.name, seed.group(1))
        return LaunchReport(
            kept_pending=tuple(w[1] for w in lines if len(w) == 2 and w[0] == "kept-pending"),
            adopted_folder=next((w[1] for w in lines if len(w) == 2 and w[0] == "adopted"), None))

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
            if project.id == PREVIOUS_HOME:  # the deployment's default image of today, never a stored one
                project = replace(project, image=self.default_image)
            else:
                self._checked_image(project.image)
        elif "image" in options:
            project = self._project_from_binder(options, state)
        else:
            raise ProjectError("Choose a project on your home page, or start a new one from the BinderHub form.")
        adopted = previous_home_project(self.default_image) if state.adopt_previous_home else None
        return state.with_launching(project, adopted).launching

    def _project_from_binder(self, options: dict, state: ProjectsState) -> Project:
        image = self._checked_image(options["image"])
        repo_url = canonical_repo_url(options.get("repo_url", ""))
        binder = {key.removeprefix("binder_"): _checked_text(options[key], key)
                  for key in BINDER_FIELDS if options.get(key)}
        ref = checked_ref(image.rpartition(":")[2] if ":" in image.rpartition("/")[2] else "latest")
        existing = state.find(project_id(repo_url))
        if existing is None and state.at_limit(self.projects_limit):
            raise ProjectError(
                f"You already have {state.repository_count} projects, the most this hub keeps per user. "
                f"Delete one on your home page to start {display_name(repo_url, binder.get('request'))}.")
        return Project(
            id=project_id(repo_url), repo_url=repo_url, ref=ref, image=image,
            display_name=display_name(repo_url, binder.get("request")),
            folder=existing.folder if existing else folder_name(repo_url, self.folder_name_max_length),
            last_used=existing.last_used if existing else None, binder=binder)

    def _checked_image(self, image: object) -> str:
        if not isinstance(image, str) or len(image) > 512 or not _IMAGE.fullmatch(image):
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
            if self._client_ip:
                env["BINDER_CLIENT_IP"] = self._client_ip
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
        home.sub_path = _within(volume_part, project.folder)
        if self.mount_projects:
            notebook.volume_mounts.append(
                V1VolumeMount(name=home.name, mount_path=self.projects_mount_path, sub_path=volume_part))
        # After the chart's own init containers: z2jh's block-cloud-metadata must run before
        # any code from the project's image does.
        pod.spec.init_containers = [*(pod.spec.init_containers or []),
                                    *self._volume_containers(notebook, home.name, volume_part)]
        return pod

    @property
    def _home(self) -> str:
        return self.home_mount_path.rstrip("/")

    def _volume_containers(self, notebook: V1Container, volume_name: str, volume_part: str | None
                           ) -> list[V1Container]:
        """project-prepare, project-seed and project-finish (see the module docstring)."""
        if not self.maintenance_image:
            raise web.HTTPError(500, "c.PersistentBinderSpawner.maintenance_image is not set: the hub "
                                     "cannot prepare the user volume.")
        launch = self._projects.launching
        folder = launch.project.folder
        volume = V1VolumeMount(name=volume_name, mount_path=VOLUME_MOUNT, sub_path=volume_part)
        staging = V1VolumeMount(name=volume_name, mount_path=STAGING_MOUNT,
                                sub_path=_within(volume_part, STAGING_PREFIX + folder))

        def container(name: str, image: str, pull_policy: str | None, *, script: str, arguments: list[str],
                      mount: V1VolumeMount) -> V1Container:
            return V1Container(
                name=name, image=image, image_pull_policy=pull_policy, command=["/bin/sh", "-c", script, *arguments],
                env=[V1EnvVar(name="REPORT_FILE", value=REPORT_PATH)], termination_message_path=REPORT_PATH,
                # never FallbackToLogsOnError: a failed container's log is no report
                termination_message_policy="File",
                # the notebook's user, so that every file on the volume stays the user's own
                security_context=copy.deepcopy(notebook.security_context),
                resources=copy.deepcopy(notebook.resources), volume_mounts=[copy.deepcopy(mount)])

        return [
            container("project-prepare", self.maintenance_image, "IfNotPresent", script=VOLUME_SCRIPT,
                      arguments=["volume-maintenance", "prepare", VOLUME_MOUNT, folder,
                                 "adopt" if launch.adopted else "keep", *launch.deletions], mount=volume),
            container("project-seed", launch.project.image, notebook.image_pull_policy, script=SEED_SCRIPT,
                      arguments=["seed-project", self._home, STAGING_MOUNT], mount=staging),
            container("project-finish", self.maintenance_image, "IfNotPresent", script=VOLUME_SCRIPT,
                      arguments=["volume-maintenance", "finish", VOLUME_MOUNT, folder], mount=volume),
        ]


def _within(volume_part: str | None, name: str) -> str:
    return f"{volume_part}/{name}" if volume_part else name


def _checked_text(value: object, key: str) -> str:
    if not isinstance(value, str) or len(value) > MAX_URL_LENGTH or any(ord(c) < 32 for c in value):
        raise ProjectError(f"{key} is not a valid value.")
    return value
