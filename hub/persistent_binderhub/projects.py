"""Projects and their state: one project per repository, all on the user's one volume.

Pure data, no JupyterHub: canonical repository URLs, display names, folder names,
and the versioned state kept in the spawner state (the hub database), including
the migration of the formats of the earlier persistent BinderHub.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from urllib.parse import unquote, urlsplit

STATE_VERSION = 2
PREVIOUS_HOME = "previous-home"
MAX_URL_LENGTH = 2048
_SAFE_FOLDER = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
# Folders of the earlier persistent BinderHub: letters, digits, '-', '.', '_' (any case).
_LEGACY_FOLDER = re.compile(r"^[^\W_][\w.-]*$")
_REF = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/+-]{0,254}$")
_SCHEMES = ("https", "http", "git")
_HASH_MARK = "__"  # only hashed folder names contain it (canonical paths have no empty segment)

# Hosts whose repositories BinderHub knows by a provider prefix (display names as on mybinder.org).
_DOI_PROVIDERS = {"10.5281": "zenodo", "10.6084": "figshare", "10.7910": "dataverse", "10.4211": "hydroshare"}
_DOI_PROVIDER_PREFIXES = set(_DOI_PROVIDERS.values())
_HOST_PROVIDERS = {"github.com": "gh", "gitlab.com": "gl", "gist.github.com": "gist",
                   "zenodo.org": "zenodo", "figshare.com": "figshare", "www.hydroshare.org": "hydroshare",
                   "hydroshare.org": "hydroshare", "dataverse.harvard.edu": "dataverse"}


class ProjectError(ValueError):
    """A launch or request that cannot be accepted; the message is for the user."""


def canonical_repo_url(url: str) -> str:
    """The one spelling of a repository URL: lower-case scheme and host, no credentials,
    no query, no `.git`, no trailing or doubled slash."""
    if not isinstance(url, str) or not url.strip():
        raise ProjectError("The repository URL is missing.")
    if len(url) > MAX_URL_LENGTH or any(ch.isspace() or ord(ch) < 32 for ch in url.strip()):
        raise ProjectError("The repository URL is too long or contains spaces or control characters.")
    parts = urlsplit(url.strip())
    scheme, host = parts.scheme.lower(), (parts.hostname or "").lower()
    if scheme not in _SCHEMES or not host or not re.match(r"^[a-z0-9.-]+$", host):
        raise ProjectError(f"{url[:200]!r} is not a repository URL (expected https://host/path).")
    try:
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        raise ProjectError(f"{url[:200]!r} has an invalid port.") from None
    path = re.sub(r"/{2,}", "/", parts.path).rstrip("/")
    path = path.removesuffix(".git").rstrip("/")
    return f"{scheme}://{host}{port}{path}"


def project_id(canonical_url: str) -> str:
    """A stable id: the same repository always has the same id."""
    return hashlib.sha256(canonical_url.encode()).hexdigest()[:12]


def display_name(canonical_url: str, binder_request: str | None = None) -> str:
    """`gh/org/repo`-style name, from BinderHub's request spec when there is one, else from the URL."""
    spec = _spec_from_request(binder_request) if binder_request else None
    return spec or _name_from_url(canonical_url)


def _spec_from_request(request: str) -> str | None:
    # BinderHub requests look like v2/<provider>/<spec>[/<ref>]; DOI specs carry no ref,
    # and a spec may be URL-escaped.
    parts = request.split("?", 1)[0].strip("/").split("/")
    if len(parts) < 3 or parts[0] != "v2":
        return None
    provider = parts[1]
    spec = unquote("/".join(parts[2:] if provider in _DOI_PROVIDER_PREFIXES else parts[2:-1] or parts[2:]))
    if provider == "git":
        spec = re.sub(r"^[a-z][a-z0-9+.-]*://", "", spec).removesuffix(".git")
    else:
        spec = re.sub(r"^(https?://)?(dx\.)?doi\.org/", "", spec)
    return f"{provider}/{spec.strip('/')}" if spec.strip("/") else None


def _name_from_url(canonical_url: str) -> str:
    parts = urlsplit(canonical_url)
    host, path = parts.hostname or "", parts.path.strip("/")
    if host in ("doi.org", "dx.doi.org"):
        provider = _DOI_PROVIDERS.get(path.split("/")[0], "doi")
        return f"{provider}/{path}"
    if host in _HOST_PROVIDERS:
        provider = _HOST_PROVIDERS[host]
        record = re.search(r"(?:record|records|resource|articles?/[^/]+)/([^/]+)$", path)
        return f"{provider}/{record.group(1) if record and provider != 'gl' else path}"
    if host.startswith("dataverse.") or "/dataset.xhtml" in parts.path:
        return f"dataverse/{host}/{path}"
    port = f":{parts.port}" if parts.port else ""
    return f"git/{host}{port}/{path}".rstrip("/")


def folder_name(canonical_url: str, max_length: int = 100) -> str:
    """The project's folder on the volume: `[a-z0-9._-]`, at most `max_length` characters.

    Readable and reversible when it can be (an https URL's host and path, '/' as '_');
    otherwise, or when too long, a readable prefix and `__` plus a hash of the URL, so
    that distinct URLs never share a folder and the same URL always gets the same one.
    """
    parts = urlsplit(canonical_url)
    location = f"{parts.netloc}{parts.path}"
    readable = location.replace("/", "_")
    if (parts.scheme == "https" and _SAFE_FOLDER.match(readable) and "_" not in parts.path
            and len(readable) <= max_length
            and readable != PREVIOUS_HOME and _HASH_MARK not in readable):
        return readable
    digest = hashlib.sha256(canonical_url.encode()).hexdigest()[:8]
    prefix = re.sub(r"[^a-z0-9._-]+", "-", readable.lower()).replace("_", "-")
    prefix = re.sub(r"-{2,}", "-", prefix).lstrip(".-")[: max_length - len(_HASH_MARK) - len(digest)]
    return f"{prefix.rstrip('-') or 'repo'}{_HASH_MARK}{digest}"


def legacy_folder_name(repo_url: str) -> str:
    """The folder the earlier persistent BinderHub used for a repository (its display name,
    '/' and other characters as '_'), so migrated projects keep their files."""
    url = repo_url.removesuffix(".git")
    parts = urlsplit(url)
    host = parts.netloc.lower()
    prefix = ("gist" if "gist.github.com" in host else "gh" if "github.com" in host
              else "gl" if "gitlab.com" in host else "git")
    name = f"{prefix}/{parts.path.strip('/')}"
    return "".join(c if c.isalnum() or c in "-." else "_" for c in name)


def checked_ref(ref: str) -> str:
    if not isinstance(ref, str) or not _REF.match(ref) or ".." in ref:
        raise ProjectError("The repository ref is not a valid Git ref or version.")
    return ref


def is_safe_folder(folder: str) -> bool:
    """A single path segment the init container may create or remove: never '.', '..', '/' or empty."""
    return bool(isinstance(folder, str) and len(folder) <= 255
                and (_SAFE_FOLDER.match(folder) or _LEGACY_FOLDER.match(folder)))


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Project:
    """One repository the user works on, with what is needed to relaunch it without a build."""

    id: str
    repo_url: str
    ref: str
    image: str
    display_name: str
    folder: str
    last_used: str | None = None
    binder: dict[str, str] = field(default_factory=dict)  # BINDER_* values of the launch

    @classmethod
    def from_dict(cls, data: dict) -> Project:
        known = {name: data[name] for name in cls.__dataclass_fields__ if name in data}
        return cls(**known)

    def to_dict(self) -> dict:
        return asdict(self)


def previous_home_project(image: str) -> Project:
    """The files of a user's plain JupyterHub home, kept as a project of their own."""
    return Project(id=PREVIOUS_HOME, repo_url="", ref="", image=image, display_name="Previous home",
                   folder=PREVIOUS_HOME)


@dataclass(frozen=True)
class Launching:
    """A launch under way: recorded before the pod is made, so a hub restart cannot lose it."""

    project: Project
    deletions: tuple[str, ...]  # the pending deletions its init container performs
    adopted: Project | None = None  # previous-home, when it moves a plain home

    def to_dict(self) -> dict:
        return {"project": self.project.to_dict(), "deletions": list(self.deletions),
                "adopted": self.adopted.to_dict() if self.adopted else None}

    @classmethod
    def from_dict(cls, data: dict) -> Launching:
        adopted = data.get("adopted")
        return cls(Project.from_dict(data["project"]), tuple(data.get("deletions", [])),
                   Project.from_dict(adopted) if adopted else None)


@dataclass(frozen=True)
class ProjectsState:
    """What the spawner keeps in the hub database, in `{"version": 2, ...}` form."""

    projects: tuple[Project, ...] = ()
    pending_deletions: tuple[str, ...] = ()  # folders to remove at the next launch
    adopt_previous_home: bool = False  # move a plain home's files into previous-home at the next launch
    launching: Launching | None = None

    def __post_init__(self) -> None:
        # The one rule that keeps files safe: a folder a project uses is never to be deleted,
        # whatever an older format or a collision of names says.
        used = {p.folder for p in self.projects}
        if self.launching:
            used.add(self.launching.project.folder)
        pending = tuple(dict.fromkeys(f for f in self.pending_deletions if is_safe_folder(f) and f not in used))
        object.__setattr__(self, "pending_deletions", pending)

    def find(self, project_id_: str) -> Project | None:
        return next((p for p in self.projects if p.id == project_id_), None)

    @property
    def repository_count(self) -> int:
        """The projects the limit counts: previous-home is no repository."""
        return sum(p.id != PREVIOUS_HOME for p in self.projects)

    def with_launching(self, project: Project, adopted: Project | None) -> ProjectsState:
        return replace(self, launching=Launching(project, self.pending_deletions, adopted))

    def launched(self) -> ProjectsState:
        """The state once the recorded launch succeeded: its project first, its deletions done."""
        launch = self.launching
        others = [p for p in self.projects if p.id != launch.project.id]
        if launch.adopted and not any(p.id == launch.adopted.id for p in others):
            others.append(launch.adopted)
        pending = tuple(f for f in self.pending_deletions if f not in launch.deletions)
        adopt = self.adopt_previous_home and not launch.adopted
        return ProjectsState((replace(launch.project, last_used=now()), *others), pending, adopt)

    def without_launching(self) -> ProjectsState:
        """The state once the recorded launch failed: as before it."""
        return replace(self, launching=None)

    def without(self, project_id_: str) -> ProjectsState:
        """The state after the user deleted a project: its folder is removed at the next launch."""
        project = self.find(project_id_)
        if project is None:
            raise KeyError(project_id_)
        remaining = tuple(p for p in self.projects if p.id != project_id_)
        # Another project that shares the folder (a migrated collision) keeps it: see __post_init__.
        return replace(self, projects=remaining, pending_deletions=(*self.pending_deletions, project.folder))

    def to_dict(self) -> dict:
        return {"version": STATE_VERSION, "projects": [p.to_dict() for p in self.projects],
                "pending_deletions": list(self.pending_deletions),
                "adopt_previous_home": self.adopt_previous_home,
                "launching": self.launching.to_dict() if self.launching else None}

    @classmethod
    def from_state(cls, state: dict | None) -> ProjectsState:
        """Read any format: current, the earlier persistent BinderHub's, or a plain KubeSpawner's."""
        state = state or {}
        if state.get("version") == STATE_VERSION:
            launching = state.get("launching")
            return cls(tuple(_readable(Project.from_dict, state.get("projects", []))),
                       tuple(state.get("pending_deletions", [])), bool(state.get("adopt_previous_home")),
                       next(iter(_readable(Launching.from_dict, [launching] if launching else [])), None))
        if "projects" in state or "deleted_projects" in state:
            return cls._from_legacy(state)
        # A plain KubeSpawner state (pod_name, ...) means the user had a server, so a home
        # with files on this volume; a new user has no state at all.
        return cls(adopt_previous_home=bool(state))

    @classmethod
    def _from_legacy(cls, state: dict) -> ProjectsState:
        projects: list[Project] = []
        # The earlier spawner kept the most recently used project last: read newest first,
        # so of two entries for one repository the newer one wins.
        for stored in reversed(state.get("projects") or []):
            # The first format kept each project as a list, the second as a dict.
            entry = (dict(zip(("repo_url", "image", "ref", "display_name", "last_used"), stored, strict=False))
                     if isinstance(stored, list | tuple) else stored)
            if not isinstance(entry, dict) or not entry.get("repo_url"):
                continue
            project = _migrated(entry)
            if project and not any(p.id == project.id for p in projects):
                projects.append(project)
        deletions = [legacy_folder_name(url) for url in state.get("deleted_projects") or [] if isinstance(url, str)]
        return cls(tuple(projects), tuple(deletions))


def _readable(read, entries: list) -> list:
    """The entries `read` can make sense of; a damaged one is skipped, not fatal."""
    readable = []
    for entry in entries:
        try:
            readable.append(read(entry))
        except (TypeError, KeyError, AttributeError):
            continue
    return readable


def _migrated(entry: dict) -> Project | None:
    url = str(entry["repo_url"])
    try:
        canonical = canonical_repo_url(url)
    except ProjectError:
        return None
    last_used = entry.get("last_used")
    return Project(
        id=project_id(canonical), repo_url=canonical, ref=str(entry.get("ref") or ""),
        image=str(entry.get("image") or ""), display_name=str(entry.get("display_name") or display_name(canonical)),
        folder=legacy_folder_name(url), last_used=None if last_used in (None, "never") else str(last_used))
