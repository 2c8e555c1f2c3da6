"""Projects and their state: one project per repository, all on the user's one volume.

Pure data, no JupyterHub: canonical repository URLs, display names, folder names,
and the versioned state kept in the spawner state (the hub database), including
the migration of the formats of the earlier persistent BinderHub.
"""

from __future__ import annotations

import hashlib
import re
from contextlib import suppress
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from urllib.parse import unquote, urlsplit

STATE_VERSION = 2
PREVIOUS_HOME = "previous-home"
MAX_URL_LENGTH = 2048
# Every pattern is matched against the whole string (fullmatch): `$` would let a trailing
# newline through.
_SAFE_FOLDER = re.compile(r"[a-z0-9][a-z0-9._-]*")
# Folders of the earlier persistent BinderHub: letters, digits, '-', '.', '_' (any case).
_LEGACY_FOLDER = re.compile(r"[^\W_][\w.-]*")
_REF = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/+-]{0,254}")
_HOST = re.compile(r"[a-z0-9.-]+")
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
    try:
        parts = urlsplit(url.strip())
        scheme, host = parts.scheme.lower(), (parts.hostname or "").lower()
    except ValueError:  # an unbalanced IPv6 bracket, a netloc that NFKC-normalises to '/'...
        raise ProjectError(f"{url[:200]!r} is not a repository URL (expected https://host/path).") from None
    if scheme not in _SCHEMES or not host or not _HOST.fullmatch(host):
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
    if (parts.scheme == "https" and _SAFE_FOLDER.fullmatch(readable) and "_" not in parts.path
            and len(readable) <= max_length
            and readable != PREVIOUS_HOME and _HASH_MARK not in readable):
        return readable
    digest = hashlib.sha256(canonical_url.encode()).hexdigest()[:8]
    prefix = re.sub(r"[^a-z0-9._-]+", "-", readable.lower()).replace("_", "-")
    prefix = re.sub(r"-{2,}", "-", prefix).lstrip(".-")[: max_length - len(_HASH_MARK) - len(digest)]
    return f"{prefix.rstrip('-') or 'repo'}{_HASH_MARK}{digest}"


def legacy_folder_name(repo_url: str) -> str:
    """The folder the earlier persistent BinderHub used for a repository (its display name,
    '/' and other characters as '_'), so migrated projects keep their files.

    Split by hand, not with urlsplit: any stored string, however odd, names a folder.
    """
    rest = repo_url.removesuffix(".git").split("://", 1)[-1]
    host, _, path = rest.partition("/")
    path = path.split("?", 1)[0].split("#", 1)[0]
    host = host.rpartition("@")[2].lower()
    prefix = ("gist" if "gist.github.com" in host else "gh" if "github.com" in host
              else "gl" if "gitlab.com" in host else "git")
    name = f"{prefix}/{path.strip('/')}"
    return "".join(c if c.isalnum() or c in "-." else "_" for c in name)


def checked_ref(ref: str) -> str:
    if not isinstance(ref, str) or not _REF.fullmatch(ref) or ".." in ref:
        raise ProjectError("The repository ref is not a valid Git ref or version.")
    return ref


def is_safe_folder(folder: str) -> bool:
    """A single path segment the init container may create or remove: never '.', '..', '/' or empty."""
    return bool(isinstance(folder, str) and len(folder) <= 255
                and (_SAFE_FOLDER.fullmatch(folder) or _LEGACY_FOLDER.fullmatch(folder)))


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


_PROJECT_TEXT_FIELDS = ("id", "repo_url", "ref", "image", "display_name", "folder")


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
    def from_dict(cls, data: object) -> Project:
        """A stored project; UnreadableError when it is not one this hub wrote."""
        if not isinstance(data, dict) or not all(isinstance(data.get(name), str) for name in _PROJECT_TEXT_FIELDS):
            raise UnreadableError
        binder, last_used = data.get("binder", {}), data.get("last_used")
        if (not isinstance(binder, dict) or not all(isinstance(v, str) for v in binder.values())
                or not (last_used is None or isinstance(last_used, str)) or not is_safe_folder(data["folder"])):
            raise UnreadableError
        return cls(*(data[name] for name in _PROJECT_TEXT_FIELDS), last_used, dict(binder))

    def to_dict(self) -> dict:
        return asdict(self)


def previous_home_project(image: str, folder: str = PREVIOUS_HOME) -> Project:
    """The files of a user's plain JupyterHub home, kept as a project of their own."""
    return Project(id=PREVIOUS_HOME, repo_url="", ref="", image=image, display_name="Previous home", folder=folder)


class UnreadableError(ValueError):
    """A part of a stored state this hub cannot read: it is kept aside, never dropped."""


@dataclass(frozen=True)
class Launching:
    """A launch under way: recorded before the pod is made, so a hub restart cannot lose it."""

    project: Project
    deletions: tuple[str, ...]  # the pending deletions its init containers perform
    adopted: Project | None = None  # previous-home, when it moves a plain home

    def to_dict(self) -> dict:
        return {"project": self.project.to_dict(), "deletions": list(self.deletions),
                "adopted": self.adopted.to_dict() if self.adopted else None}

    @classmethod
    def from_dict(cls, data: object) -> Launching:
        if not isinstance(data, dict) or not isinstance(data.get("deletions", []), list):
            raise UnreadableError
        deletions = data.get("deletions", [])
        if not all(is_safe_folder(folder) for folder in deletions):
            raise UnreadableError
        adopted = data.get("adopted")
        return cls(Project.from_dict(data.get("project")), tuple(deletions),
                   Project.from_dict(adopted) if adopted is not None else None)


@dataclass(frozen=True)
class LaunchReport:
    """What the init containers did, from their reports (see volume-maintenance.sh)."""

    kept_pending: tuple[str, ...] = ()  # deleted folders that could not be removed: still pending
    adopted_folder: str | None = None  # where the plain home went, when not previous-home


@dataclass(frozen=True)
class ProjectsState:
    """What the spawner keeps in the hub database, in `{"version": 2, ...}` form."""

    projects: tuple[Project, ...] = ()
    pending_deletions: tuple[str, ...] = ()  # folders to remove at the next launch
    adopt_previous_home: bool = False  # move a plain home's files into previous-home at the next launch
    launching: Launching | None = None
    # Parts of the stored state this hub could not read, stored again as they were, for an admin.
    kept_aside: tuple[dict, ...] = ()
    # A whole state of a version this hub does not know (written by a newer one): stored again
    # verbatim and never changed, so no launch can misread or overwrite it.
    foreign: dict | None = None

    def __post_init__(self) -> None:
        # The one rule that keeps files safe: a folder a kept project (or an entry kept aside)
        # names is never deleted, whatever an older format or a collision of names says.
        protected = {p.folder for p in self.projects} | {f for entry in self.kept_aside for f in _folders_in(entry)}
        pending = tuple(dict.fromkeys(f for f in self.pending_deletions if is_safe_folder(f) and f not in protected))
        object.__setattr__(self, "pending_deletions", pending)

    def find(self, project_id_: str) -> Project | None:
        return next((p for p in self.projects if p.id == project_id_), None)

    @property
    def repository_count(self) -> int:
        """The projects the limit counts: previous-home is no repository."""
        return sum(p.id != PREVIOUS_HOME for p in self.projects)

    def at_limit(self, limit: int) -> bool:
        """No new repository may be added (a relaunch always may): the one definition, for the
        spawner and the home page."""
        return self.repository_count >= limit

    def with_launching(self, project: Project, adopted: Project | None) -> ProjectsState:
        """The state with a launch recorded. Its init containers remove every pending deletion
        first, the launched project's own folder included (a deleted project launched again
        starts from a fresh copy)."""
        if self.foreign is not None:
            raise ProjectError("Your projects are stored in a format this hub cannot read (a newer "
                               "version of it wrote them): ask the hub's administrators to upgrade it.")
        return replace(self, launching=Launching(project, self.pending_deletions, adopted))

    def launched(self, report: LaunchReport = LaunchReport()) -> ProjectsState:
        """The state once the recorded launch's pod started: its project first, its deletions done."""
        launch = self.launching
        others = [p for p in self.projects if p.id != launch.project.id]
        if launch.adopted and not any(p.id == launch.adopted.id for p in others):
            folder = report.adopted_folder if is_safe_folder(report.adopted_folder) else launch.adopted.folder
            others.append(replace(launch.adopted, folder=folder))
        done = set(launch.deletions) - set(report.kept_pending)
        pending = tuple(f for f in self.pending_deletions if f not in done)
        adopt = self.adopt_previous_home and not launch.adopted
        return replace(self, projects=(replace(launch.project, last_used=now()), *others),
                       pending_deletions=pending, adopt_previous_home=adopt, launching=None)

    def without_launching(self) -> ProjectsState:
        """The state once the recorded launch failed: as before it."""
        return replace(self, launching=None)

    def without(self, project_id_: str) -> ProjectsState:
        """The state after the user deleted a project: its folder is removed at the next launch.

        Deletions happen only while no server runs, so a launch record of the same project is a
        stale one (the hub restarted meanwhile): it goes too, or settling it would bring the
        project, and with it the deleted files, back.
        """
        project = self.find(project_id_)
        if project is None:
            raise KeyError(project_id_)
        remaining = tuple(p for p in self.projects if p.id != project_id_)
        launching = None if self.launching and self.launching.project.id == project_id_ else self.launching
        # Another project that shares the folder (a migrated collision) keeps it: see __post_init__.
        return replace(self, projects=remaining, pending_deletions=(*self.pending_deletions, project.folder),
                       launching=launching)

    def to_dict(self) -> dict:
        if self.foreign is not None:
            return dict(self.foreign)
        stored = {"version": STATE_VERSION, "projects": [p.to_dict() for p in self.projects],
                  "pending_deletions": list(self.pending_deletions),
                  "adopt_previous_home": self.adopt_previous_home,
                  "launching": self.launching.to_dict() if self.launching else None}
        return {**stored, "kept_aside": list(self.kept_aside)} if self.kept_aside else stored

    @classmethod
    def from_state(cls, state: object) -> ProjectsState:
        """Read any format: current, the earlier persistent BinderHub's, or a plain KubeSpawner's.

        Never raises: what cannot be read is kept aside (see `kept_aside`, `foreign`).
        """
        state = state if isinstance(state, dict) else {}
        if "version" in state:
            version = state["version"]
            if type(version) is int and version == STATE_VERSION:
                return cls._from_current(state)
            return cls(foreign={k: v for k, v in state.items() if k not in _KUBESPAWNER_KEYS})
        if "projects" in state or "deleted_projects" in state:
            return cls._from_legacy(state)
        # A plain KubeSpawner state (pod_name, ...) means the user had a server, so a home
        # with files on this volume; a new user has no state at all.
        return cls(adopt_previous_home=bool(state))

    @classmethod
    def _from_current(cls, state: dict) -> ProjectsState:
        aside = _Aside(state.get("kept_aside"))
        projects = _unique(aside.each("projects", state.get("projects", []), Project.from_dict), aside)
        pending = aside.each("pending_deletions", state.get("pending_deletions", []), _checked_folder)
        adopt = aside.one("adopt_previous_home", state.get("adopt_previous_home", False), _checked_bool, False)
        launching = state.get("launching")
        launching = None if launching is None else aside.one("launching", launching, Launching.from_dict, None)
        return cls(tuple(projects), tuple(pending), adopt, launching, tuple(aside.entries))

    @classmethod
    def _from_legacy(cls, state: dict) -> ProjectsState:
        aside = _Aside()
        # The earlier spawner kept the most recently used project last: read newest first,
        # so of two entries for one repository the newer one wins.
        stored = _listed(state.get("projects"))
        entries = aside.each("projects", list(reversed(stored)) if isinstance(stored, list) else stored, _migrated)
        deletions = aside.each("deleted_projects", _listed(state.get("deleted_projects")), _legacy_deletion)
        return cls(tuple(_unique(entries, aside)), tuple(deletions), kept_aside=tuple(aside.entries))


# KubeSpawner's own keys in the spawner state: everything else in a foreign state is kept.
_KUBESPAWNER_KEYS = frozenset({"pod_name", "namespace", "dns_name", "pvc_name", "kubespawner_version"})


class _Aside:
    """Collects the parts of a stored state that cannot be read, each with where it was."""

    def __init__(self, earlier: object = None) -> None:
        self.entries: list[dict] = list(earlier) if isinstance(earlier, list) else []
        if earlier is not None and not isinstance(earlier, list):
            self.entries.append({"key": "kept_aside", "value": earlier})

    def one(self, key: str, value: object, read, default):
        try:
            return read(value)
        except UnreadableError:
            self.entries.append({"key": key, "value": value})
            return default

    def each(self, key: str, values: object, read) -> list:
        if not isinstance(values, list):
            self.entries.append({"key": key, "value": values})
            return []
        return [item for item in (self.one(key, value, read, _MISSING) for value in values) if item is not _MISSING]


_MISSING = object()


def _listed(value: object) -> object:
    return [] if value is None else value


def _unique(projects: list[Project], aside: _Aside) -> list[Project]:
    """The first project of each id; later duplicates are kept aside (their folders stay protected)."""
    seen: dict[str, Project] = {}
    for project in projects:
        if project.id in seen:
            aside.entries.append({"key": "projects", "value": project.to_dict()})
        else:
            seen[project.id] = project
    return list(seen.values())


def _checked_folder(value: object) -> str:
    if not is_safe_folder(value):
        raise UnreadableError
    return value


def _checked_bool(value: object) -> bool:
    if not isinstance(value, bool):
        raise UnreadableError
    return value


def _legacy_deletion(url: object) -> str:
    if not isinstance(url, str):
        raise UnreadableError
    return legacy_folder_name(url)


def _folders_in(entry: object) -> set[str]:
    """Every folder a kept-aside entry may name: such a folder is never deleted."""
    value = entry.get("value") if isinstance(entry, dict) else entry
    found: set[str] = set()
    stack = [value]
    while stack:  # any string anywhere in it: a folder name, or a repository URL
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list | tuple):
            stack.extend(item)
        elif isinstance(item, str):
            found.add(item)
            found.add(legacy_folder_name(item))
            with suppress(ProjectError):
                found.add(folder_name(canonical_repo_url(item)))
    return found


def _migrated(stored: object) -> Project:
    """A project of the earlier persistent BinderHub, in its folder, whatever its URL looks like."""
    # The first format kept each project as a list, the second as a dict.
    entry = (dict(zip(("repo_url", "image", "ref", "display_name", "last_used"), stored, strict=False))
             if isinstance(stored, list) else stored)
    if not isinstance(entry, dict) or not isinstance(entry.get("repo_url"), str) or not entry["repo_url"]:
        raise UnreadableError
    url = entry["repo_url"]
    folder = legacy_folder_name(url)
    if not is_safe_folder(folder):  # no such folder can exist: kept aside, its name still protected
        raise UnreadableError
    try:
        repo_url = canonical_repo_url(url)
    except ProjectError:  # a URL today's rules refuse (IDN host, '_' in the host, too long): kept as it was
        repo_url = url
    last_used = entry.get("last_used")
    name = entry.get("display_name")
    return Project(
        id=project_id(repo_url), repo_url=repo_url, ref=str(entry.get("ref") or ""),
        image=str(entry.get("image") or ""),
        display_name=name if isinstance(name, str) and name else _legacy_display_name(repo_url),
        folder=folder, last_used=None if last_used in (None, "never") else str(last_used))


def _legacy_display_name(repo_url: str) -> str:
    try:
        return display_name(canonical_repo_url(repo_url))
    except ProjectError:
        return repo_url[:200]
