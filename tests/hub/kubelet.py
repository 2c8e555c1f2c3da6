"""A stand-in for the kubelet: runs a pod's containers for real, as local processes.

`run_init_containers`: only the init containers this project adds run (project-prepare,
project-seed, project-finish), in order, until one fails. Each sees what the kubelet would
give it: its volume mounts (host folders of the node's volumes, at their subPath, which must
exist and must not be a symlink), and, for the project's image, that image's home. Arguments
that are container paths are rewritten to the host folders behind them.

The project's image is untrusted: an absolute path argument outside its own mounts and home
is a failure, and, as root (the tests' usual case), its container runs in its own mount
namespace where each volume of the node is hidden under an empty tmpfs and only the
container's own mounts are bound back at their host paths: a hostile program there really
cannot reach anything else of the volume. (The deployment's containers are trusted, and are
given the whole volume anyway.) Containers run as the notebook's uid (1000:100) through
setpriv when root, else as the current user (no namespace then).

`start_container` runs a pod's main container (jupyterhub-singleuser) in a root of its own
that holds only the node's system folders and the pod's mounts at their mount paths (root
only), and `SimulatedNode` runs whole pods with both, for the fake Kubernetes API of
running_hub.py: the simulated cluster of tests/simulation.
"""

from __future__ import annotations

import atexit
import contextlib
import itertools
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
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
# TARGET | rbind SOURCE TARGET, with its submounts | tmpfs TARGET, each creating TARGET and its parents if missing |
# link TARGET NAME, a symlink), then "--" and the container's command. The mounts
# use the node's own tools, whatever PATH the container asked for.
_MOUNT_SCRIPT = """
container_path=$PATH
PATH=/usr/sbin:/usr/bin:/sbin:/bin
set -e
while [ "$1" != -- ]; do
  case $1 in
    bind) mount --bind -o X-mount.mkdir "$2" "$3"; shift 3 ;;
    rbind) mount --rbind -o X-mount.mkdir "$2" "$3"; shift 3 ;;
    tmpfs) mount -t tmpfs -o mode=0755,X-mount.mkdir kubelet "$2"; shift 2 ;;
    link) ln -s "$2" "$3"; shift 3 ;;
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


# --- a pod's main container: the notebook server, as a process in a root of its own ----------

# What a container gets of the node besides its volumes (its image's system, the runtime's
# /dev, /proc and /sys): here the node's own, with the Python that runs jupyterhub-singleuser.
SYSTEM_DIRS = ("/usr", "/etc", "/dev", "/proc", "/sys")
PYTHON_PREFIXES = tuple(sorted({os.path.realpath(p) for p in (sys.prefix, sys.base_prefix)}))
IMAGE_ENV = {"USER": "jovyan", "SHELL": "/bin/sh"}  # what a Binder image's configuration sets
START_TIMEOUT = 60  # seconds until the server must answer
STOP_TIMEOUT = 10  # the pod's grace period, then SIGKILL


@dataclass
class Container:
    """A running main container: its process, and the folder its root was mounted on."""

    process: subprocess.Popen
    workdir: Path

    def stop(self) -> int:
        """Stops it as the kubelet does after the grace period; returns its exit code."""
        stop_process(self.process, STOP_TIMEOUT)
        shutil.rmtree(self.workdir, ignore_errors=True)
        return self.process.returncode


def stop_process(process: subprocess.Popen, timeout: float = 10.0) -> None:
    """Stop one process we started, and its process group: SIGTERM, then SIGKILL after TIMEOUT."""
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(5)


def start_container(node: Node, container: dict, pod_ip: str, log: Path) -> Container:
    """Starts a pod's main container in a mount namespace of its own, as the notebook's uid.

    Its root is an empty tmpfs holding the node's system folders, the Python that runs
    jupyterhub-singleuser and the container's volume mounts at their mount paths, and
    nothing else: of the user's volume it sees exactly what the pod mounts, at the paths a
    real container would (the project's folder at /home/jovyan, the whole volume at
    /projects). Its server listens on the pod's own IP (one loopback address per pod), as
    a pod listens in its own network namespace.
    """
    assert os.geteuid() == 0, "the simulated cluster's pods need root (mount namespaces)"
    image = container["image"]
    assert image in node.images, f"image {image} was never built: the node cannot pull it"
    mounts = sorted((_mount(node, m) for m in container.get("volumeMounts") or []), key=lambda m: len(m.path))
    workdir = Path(tempfile.mkdtemp(prefix="kubelet-container-"))
    root = workdir / "root"
    root.mkdir()
    # The container's own /tmp first: the Python may live under the node's /tmp (a checkout there).
    operations = ["tmpfs", str(root), "tmpfs", f"{root}/tmp"]
    for entry in sorted(os.scandir("/"), key=lambda e: e.name):
        if entry.is_symlink():  # /bin -> usr/bin and the like
            operations += ["link", os.readlink(entry.path), f"{root}/{entry.name}"]
    for folder in (*SYSTEM_DIRS, *(p for p in PYTHON_PREFIXES if not _within(p, "/usr"))):
        operations += ["rbind", folder, f"{root}{folder}"]
    for mount in mounts:
        operations += ["bind", str(mount.host), f"{root}{mount.path}"]
    argv = [*(container.get("command") or []), *(container.get("args") or [])]
    command = [_tool("unshare"), "--mount", "--propagation", "private", "--",
               "/bin/sh", "-c", _MOUNT_SCRIPT, "kubelet-mounts", *operations, "--",
               _tool("chroot"), str(root), *as_user(["/usr/bin/env", "-C", container.get("workingDir") or
                                                    node.home_path, *argv])]
    with log.open("ab") as output:
        process = subprocess.Popen(command, env=_server_environment(node, container, pod_ip), cwd="/",
                                   stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    return Container(process, workdir)


def _server_environment(node: Node, container: dict, pod_ip: str) -> dict[str, str]:
    env = {e["name"]: e.get("value") or "" for e in container.get("env") or []}
    # The spawner binds to all addresses of the pod (0.0.0.0): here, that is the pod's own IP.
    env["JUPYTERHUB_SERVICE_URL"] = env["JUPYTERHUB_SERVICE_URL"].replace("://0.0.0.0:", f"://{pod_ip}:")
    return {**IMAGE_ENV, "HOME": node.home_path, "PATH": f"{sys.prefix}/bin:{NODE_PATH}", **env}


# --- the node: each pod's life, from its init containers to its deletion --------------------


class SimulatedNode:
    """The one node of the simulated cluster: runs the pods FakeKubernetes is given.

    Each pod runs in a thread of its own, as the kubelet would run it: its project init
    containers in order (run_init_containers), then its main container (start_container),
    and the pod is reported Running only once the server answers on the pod's IP. A failed
    init container or a server that exits makes the pod Failed (restartPolicy Never: the
    simulation does not retry). Volumes are claims: `provision(claim)` is the storage
    class's provisioner, an empty folder under CLAIMS that outlives every pod.
    """

    def __init__(self, directory: Path, images: dict[str, Path]) -> None:
        self.claims = directory / "claims"
        self.logs = directory / "pods"
        self.images = images  # what the stand-in BinderHub built: image -> the image's home
        self.claims.mkdir(parents=True, exist_ok=True)
        self.logs.mkdir(parents=True, exist_ok=True)
        self._containers: dict[str, Container] = {}
        self._deleted: set[str] = set()
        self._addresses = itertools.count(1)
        self._lock = threading.Lock()

    def provision(self, claim: str) -> None:
        """A new volume: an empty folder the notebook's uid owns (as the pod's fsGroup makes it)."""
        volume = self.claims / claim
        if not volume.exists():
            volume.mkdir(mode=0o755)
            give_to_user(volume)

    def volume(self, claim: str) -> Path:
        return self.claims / claim

    def run(self, pod: dict, report: Callable[[dict], None]) -> None:
        """Runs POD in the background; REPORT gets each new status of it."""
        with self._lock:
            self._deleted.discard(pod["metadata"]["name"])
        threading.Thread(target=self._run, args=(pod, report), name=f"pod-{pod['metadata']['name']}",
                         daemon=True).start()

    def delete(self, name: str) -> None:
        """Stops the pod's container (if it runs) and keeps it from starting (if it does not yet)."""
        with self._lock:
            self._deleted.add(name)
            container = self._containers.pop(name, None)
        if container:
            container.stop()

    def stop_all(self) -> None:
        for name in list(self._containers):
            self.delete(name)

    def _run(self, pod: dict, report: Callable[[dict], None]) -> None:
        try:
            self._run_pod(pod, report)
        # What a kubelet refuses (a missing claim, a symlinked subPath, an image never built): a Failed pod.
        except (AssertionError, OSError, subprocess.SubprocessError) as exc:
            with (self.logs / f"{pod['metadata']['name']}.kubelet.log").open("a") as log:
                log.write(f"the pod cannot run: {exc!r}\n")
            notebook = pod["spec"]["containers"][0]
            report(_status("Failed", [], _container_status(notebook["name"], notebook["image"],
                                                           {"waiting": {"reason": "CreateContainerError"}},
                                                           ready=False)))

    def _run_pod(self, pod: dict, report: Callable[[dict], None]) -> None:
        name = pod["metadata"]["name"]
        node = Node(volumes=self._volumes(pod), images=self.images)
        results = run_init_containers(node, pod)
        images = {c["name"]: c["image"] for c in [*pod["spec"].get("initContainers", []), *pod["spec"]["containers"]]}
        init_statuses = [_container_status(r.name, images[r.name], {"terminated": {
            "exitCode": r.returncode, "reason": "Error" if r.returncode else "Completed", "message": r.report}},
            ready=not r.returncode) for r in results]
        for result in results:
            (self.logs / f"{name}.{result.name}.log").write_text(result.stdout + result.stderr)
        notebook = pod["spec"]["containers"][0]
        if any(r.returncode for r in results):
            report(_status("Failed", init_statuses, _container_status(
                notebook["name"], notebook["image"], {"waiting": {"reason": "PodInitializing"}}, ready=False)))
            return
        address = f"127.0.1.{next(self._addresses)}"
        with self._lock:
            if name in self._deleted:
                return
            container = self._containers[name] = start_container(node, notebook, address,
                                                                  self.logs / f"{name}.log")
        answered = _answers(container, address, notebook)
        state = {"running": {"startedAt": now()}} if answered else {"terminated": {"exitCode": 1, "reason": "Error"}}
        report(_status("Running" if answered else "Failed", init_statuses,
                       _container_status(notebook["name"], notebook["image"], state, ready=answered), ip=address))

    def _volumes(self, pod: dict) -> dict[str, Path]:
        volumes = {}
        for volume in pod["spec"].get("volumes") or []:
            if "persistentVolumeClaim" in volume:
                claim = volume["persistentVolumeClaim"]["claimName"]
                assert self.volume(claim).is_dir(), f"claim {claim} was never created: the pod cannot start"
                volumes[volume["name"]] = self.volume(claim)
        return volumes


def _answers(container: Container, address: str, notebook: dict) -> bool:
    """Whether the server answers on the pod's IP within START_TIMEOUT (while its process lives)."""
    env = {e["name"]: e.get("value") or "" for e in notebook.get("env") or []}
    url = f"http://{address}:{notebook['ports'][0]['containerPort']}{env['JUPYTERHUB_SERVICE_PREFIX']}api"
    deadline = time.monotonic() + START_TIMEOUT
    while container.process.poll() is None and time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return True
        except urllib.error.HTTPError:
            return True  # any HTTP answer: the server is up
        except OSError:
            time.sleep(0.1)
    return False


def _status(phase: str, init_statuses: list[dict], notebook: dict, ip: str | None = None) -> dict:
    return {"phase": phase, "podIP": ip,
            "conditions": [{"type": "Ready", "status": "True" if notebook["ready"] else "False"}],
            "initContainerStatuses": init_statuses, "containerStatuses": [notebook]}


def _container_status(name: str, image: str, state: dict, *, ready: bool) -> dict:
    return {"name": name, "image": image, "imageID": "", "ready": ready, "restartCount": 0, "state": state}


def now() -> str:
    """The time as the Kubernetes API writes it."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
