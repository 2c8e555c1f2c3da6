"""A stand-in for the kubelet: runs a pod's project init containers for real, as local processes.

Only the containers this project adds run (project-prepare, project-seed, project-finish), in
order, until one fails. Each sees what the kubelet would give it: its volume mounts (host
folders of the node's volumes, at their subPath, which must exist and must not be a symlink),
and, for the project's image, that image's home. Arguments that are container paths are
rewritten to the host folders behind them.

The project's image is untrusted: an absolute path argument outside its own mounts and home
is a failure, and, as root (the tests' usual case), its container runs in its own mount
namespace where each volume of the node is hidden under an empty tmpfs and only the
container's own mounts are bound back at their host paths: a hostile program there really
cannot reach anything else of the volume. (The deployment's containers are trusted, and are
given the whole volume anyway.) Containers run as the notebook's uid (1000:100) through
setpriv when root, else as the current user (no namespace then).
"""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from functools import cache
from pathlib import Path, PurePosixPath
from typing import Any

USER_UID, USER_GID = 1000, 100
PROJECT_CONTAINERS = ("project-prepare", "project-seed", "project-finish")
TERMINATION_MESSAGE_LIMIT = 4096  # bytes of the termination message the kubelet keeps
NODE_PATH = "/usr/local/bin:/usr/bin:/bin"
SHELLS = {"dash": ["/usr/bin/dash"], "busybox": ["/usr/bin/busybox", "sh"]}
TIMEOUT = 120  # seconds: a hung script fails its test instead of hanging it

# Runs as root inside the container's new mount namespace: a list of operations (bind SOURCE
# TARGET, creating TARGET if missing | tmpfs TARGET), then "--" and the container's command.
# The mounts use the node's own tools, whatever PATH the container asked for.
_MOUNT_SCRIPT = """
container_path=$PATH
PATH=/usr/sbin:/usr/bin:/sbin:/bin
set -e
while [ "$1" != -- ]; do
  case $1 in
    bind) mount --bind -o X-mount.mkdir "$2" "$3"; shift 3 ;;
    tmpfs) mount -t tmpfs -o mode=0755 kubelet "$2"; shift 2 ;;
  esac
done
shift
PATH=$container_path
exec "$@"
"""


@dataclass
class Node:
    """A scratch node: the host folders behind the pod's volumes and the images' homes."""

    volumes: dict[str, Path]  # pod volume name -> host directory of that (PVC) volume
    images: dict[str, Path]  # project image name -> host directory that is the image's home
    shell: str = "dash"  # "dash" or "busybox": busybox sh with busybox applets first on PATH
    home_path: str = "/home/jovyan"  # the home mount path inside images


@dataclass
class InitResult:
    name: str
    returncode: int
    stdout: str
    stderr: str
    report: str  # the termination message: what the container wrote to REPORT_FILE


@dataclass
class _Mount:
    path: str  # inside the container
    host: Path


def run_init_containers(node: Node, pod: Any) -> list[InitResult]:
    """Runs the pod's project init containers in order, stopping after the first that fails."""
    containers = [c for c in _as_dict(pod)["spec"].get("initContainers") or [] if c["name"] in PROJECT_CONTAINERS]
    results = []
    for container in containers:
        results.append(_run(node, container))
        if results[-1].returncode:
            break
    return results


def scratch_dir(base: str = "/tmp") -> Path:
    """A fresh folder under BASE that the notebook's uid owns (pytest's tmp_path is root-only)."""
    path = Path(tempfile.mkdtemp(prefix="kubelet-", dir=base))
    path.chmod(0o755)
    give_to_user(path)
    return path


def give_to_user(path: Path) -> None:
    """Makes the notebook's uid own PATH and everything in it (symlinks themselves), as root."""
    if os.geteuid() != 0:
        return
    os.lchown(path, USER_UID, USER_GID)
    if path.is_dir() and not path.is_symlink():
        for entry in path.rglob("*"):
            os.lchown(entry, USER_UID, USER_GID)


def remove_tree(path: Path) -> None:
    """Removes a scratch tree, read-only folders included (for a non-root run)."""
    if path.is_dir() and not path.is_symlink():
        _make_writable(path)
        shutil.rmtree(path)
    elif path.is_symlink() or path.exists():
        path.unlink()


def _make_writable(folder: Path) -> None:
    # Before listing it: a folder of mode 0000 cannot be listed. Symlinks are not followed.
    folder.chmod(folder.lstat().st_mode | 0o700)
    for entry in os.scandir(folder):
        if entry.is_dir(follow_symlinks=False):
            _make_writable(Path(entry.path))


def _as_dict(pod: Any) -> dict:
    if isinstance(pod, dict):
        return pod
    from kubernetes_asyncio.client import ApiClient

    # ApiClient() opens an aiohttp connector, which needs a running event loop;
    # sanitize_for_serialization uses nothing the constructor sets.
    return ApiClient.sanitize_for_serialization(ApiClient.__new__(ApiClient), pod)


def _run(node: Node, container: dict) -> InitResult:
    mounts, home, command = _container_command(node, container)
    with tempfile.TemporaryDirectory(prefix="kubelet-run-") as workdir:
        Path(workdir).chmod(0o755)
        report = Path(workdir) / "termination-log"
        report.touch()
        give_to_user(report)
        if home is not None:
            command = _isolated(node, mounts, Path(workdir) / "mounts", command)
        done = subprocess.run(command, env=_environment(node, container, report), cwd="/", stdin=subprocess.DEVNULL,
                              capture_output=True, text=True, timeout=TIMEOUT, check=False)
        message = report.read_bytes()[:TERMINATION_MESSAGE_LIMIT].decode(errors="replace")
    return InitResult(container["name"], done.returncode, done.stdout, done.stderr, message)


def _container_command(node: Node, container: dict) -> tuple[list[_Mount], Path | None, list[str]]:
    """The container's mounts, its image's home (a project image only) and its command on the node."""
    name, image = container["name"], container["image"]
    assert (image in node.images) == (name == "project-seed"), (
        f"{name} runs {image}: only project-seed may run a project's image (untrusted code), "
        f"and it must (it copies that image's home)")
    home = node.images.get(image)
    mounts = sorted((_mount(node, m) for m in container.get("volumeMounts") or []),
                    key=lambda m: len(m.path), reverse=True)
    argv = [*(container.get("command") or []), *(container.get("args") or [])]
    assert argv[:2] == ["/bin/sh", "-c"], f"{name}: not /bin/sh -c SCRIPT NAME ...: {argv}"
    assert len(argv) >= 4, f"{name}: not /bin/sh -c SCRIPT NAME ...: {argv}"
    script, program, *args = argv[2:]
    args = [_host_argument(arg, mounts, home, node.home_path) for arg in args]
    if home is not None:
        _check_isolated(name, args, mounts, home, node.home_path)
    return mounts, home, as_user([*SHELLS[node.shell], "-c", script, program, *args])


def _mount(node: Node, mount: dict) -> _Mount:
    host = node.volumes[mount["name"]]
    sub_path = mount.get("subPath") or ""
    parts = PurePosixPath(sub_path).parts
    assert not PurePosixPath(sub_path).is_absolute(), f"invalid subPath {sub_path!r}"
    assert ".." not in parts, f"invalid subPath {sub_path!r}"
    for part in parts:
        host = host / part
        assert not host.is_symlink(), f"subPath {sub_path!r} is a symlink: the kubelet refuses it"
    assert host.exists(), f"subPath {sub_path!r} does not exist: the kubelet would create it root-owned"
    assert host.is_dir(), f"subPath {sub_path!r} is not a directory"
    return _Mount(mount["mountPath"].rstrip("/") or "/", host)


def _host_argument(arg: str, mounts: list[_Mount], home: Path | None, home_path: str) -> str:
    for mount in mounts:
        if arg == mount.path or arg.startswith(mount.path + "/"):
            return str(mount.host) + arg[len(mount.path):]
    if home is not None and arg == home_path:
        return str(home)
    return arg


def _check_isolated(name: str, args: list[str], mounts: list[_Mount], home: Path, home_path: str) -> None:
    for mount in mounts:
        assert not _within(mount.path, home_path), (
            f"{name} mounts {mount.path} inside the image's home {home_path}: it would copy it into itself")
    allowed = [str(m.host) for m in mounts] + [str(home)]
    for arg in args:
        if arg.startswith("/"):
            assert any(_within(os.path.normpath(arg), root) for root in allowed), (
                f"{name} runs the project's image and gets {arg}: neither its own mount nor its home")


def _within(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def _environment(node: Node, container: dict, report: Path) -> dict[str, str]:
    env = {e["name"]: e.get("value") or "" for e in container.get("env") or []}
    if "REPORT_FILE" in env:
        env["REPORT_FILE"] = str(report)
    node_path = f"{_busybox_applets()}:{NODE_PATH}" if node.shell == "busybox" else NODE_PATH
    # An image's PATH (a test's hostile tools) comes before the node's tools.
    env["PATH"] = f"{env['PATH']}:{node_path}" if env.get("PATH") else node_path
    return env


def as_user(command: list[str]) -> list[str]:
    """COMMAND run as the notebook's uid (when root)."""
    if os.geteuid() != 0:
        return command
    return [_tool("setpriv"), f"--reuid={USER_UID}", f"--regid={USER_GID}", "--clear-groups", "--", *command]


def _isolated(node: Node, mounts: list[_Mount], jail: Path, command: list[str]) -> list[str]:
    """COMMAND in a mount namespace that shows, of the node's volumes, only these mounts.

    JAIL (root-only) holds each mount's source while the volumes are hidden; its mount points
    are plain empty folders again once the namespace is gone.
    """
    if os.geteuid() != 0:
        return command
    jail.mkdir(mode=0o700)
    operations = []
    for index, mount in enumerate(mounts):
        (jail / str(index)).mkdir()
        operations += ["bind", str(mount.host), str(jail / str(index))]
    operations += [op for volume in node.volumes.values() if volume.is_dir() for op in ("tmpfs", str(volume))]
    for index, mount in enumerate(mounts):
        operations += ["bind", str(jail / str(index)), str(mount.host)]
    return [_tool("unshare"), "--mount", "--propagation", "private", "--",
            "/bin/sh", "-c", _MOUNT_SCRIPT, "kubelet-mounts", *operations, "--", *command]


@cache
def _busybox_applets() -> Path:
    """A folder of busybox applet links, as an Alpine image's /bin; root-owned, for the session."""
    folder = Path(tempfile.mkdtemp(prefix="busybox-applets-"))
    folder.chmod(0o755)
    atexit.register(shutil.rmtree, folder, True)
    busybox = _tool("busybox")
    for applet in subprocess.run([busybox, "--list"], capture_output=True, text=True, check=True).stdout.split():
        (folder / applet).symlink_to(busybox)
    return folder


@cache
def _tool(name: str) -> str:
    path = shutil.which(name, path="/usr/sbin:/usr/bin:/sbin:/bin")
    assert path, f"{name} is not installed (make test-deps)"
    return path
