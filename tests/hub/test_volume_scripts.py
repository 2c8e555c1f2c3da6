"""The three init containers of a launch, run for real through kubelet.py as the notebook's uid.

project-prepare and project-finish run volume-maintenance.sh with the whole volume;
project-seed runs seed-project.sh in the project's (untrusted) image with only its staging
folder. Every test runs under dash with GNU tools and under busybox sh with its applets.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from importlib.resources import files
from pathlib import Path

import pytest

from tests.hub.kubelet import InitResult, Node, give_to_user, remove_tree, run_init_containers, scratch_dir

VOLUME = "volume-alice"
VOLUME_MOUNT = "/mnt/user-volume"
STAGING_MOUNT = "/mnt/project-staging"
HOME = "/home/jovyan"
DEPLOYMENT_IMAGE = "registry.example.org/persistent-binderhub/volume-maintenance:1"
PROJECT_IMAGE = "registry.example.org/binder/github.com_org_repo:abc123"
VOLUME_SCRIPT = files("persistent_binderhub").joinpath("volume-maintenance.sh").read_text()
SEED_SCRIPT = files("persistent_binderhub").joinpath("seed-project.sh").read_text()
VOLUME_COMMAND = ["/bin/sh", "-c", VOLUME_SCRIPT, "volume-maintenance"]
MARKER = ".persistent-binderhub"
UNSAFE_NAMES = ["..", ".", "", "a/b", "../outside", ".seeding-x", "-rf"]
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root: root-owned files, mount namespaces")

# --- the pod, as the spawner builds it ------------------------------------------


def container(name: str, image: str, command: list[str], mount: dict, *,
              path: Path | None = None, report: bool = True) -> dict:
    env = [{"name": "REPORT_FILE", "value": "/dev/termination-log"}] if report else []
    if path:  # the image's own tools come first: a test's stand-ins
        env.append({"name": "PATH", "value": str(path)})
    return {"name": name, "image": image, "command": command,
            "env": env, "volumeMounts": [{"name": VOLUME, **mount}]}


def prepare(folder: str, adopt: str = "keep", *deleted: str, **options) -> dict:
    return container("project-prepare", DEPLOYMENT_IMAGE,
                     [*VOLUME_COMMAND, "prepare", VOLUME_MOUNT, folder, adopt, *deleted],
                     {"mountPath": VOLUME_MOUNT}, **options)


def seed(folder: str, **options) -> dict:
    return container("project-seed", PROJECT_IMAGE, ["/bin/sh", "-c", SEED_SCRIPT, "seed-project", HOME, STAGING_MOUNT],
                     {"mountPath": STAGING_MOUNT, "subPath": f".seeding-{folder}"}, **options)


def finish(folder: str, **options) -> dict:
    return container("project-finish", DEPLOYMENT_IMAGE, [*VOLUME_COMMAND, "finish", VOLUME_MOUNT, folder],
                     {"mountPath": VOLUME_MOUNT}, **options)


def run(node: Node, *containers: dict) -> dict[str, InitResult]:
    # The chart's own init container comes first; the kubelet stand-in skips it.
    metadata = {"name": "block-cloud-metadata", "image": "busybox", "command": ["iptables", "-A", "OUTPUT"]}
    pod = {"spec": {"initContainers": [metadata, *containers]}}
    return {result.name: result for result in run_init_containers(node, pod)}


def launch(node: Node, folder: str, adopt: str = "keep", *deleted: str, prepare_path: Path | None = None,
           seed_path: Path | None = None, report: bool = True) -> dict[str, InitResult]:
    return run(node, prepare(folder, adopt, *deleted, path=prepare_path, report=report),
               seed(folder, path=seed_path, report=report), finish(folder, report=report))


def succeeded(results: dict[str, InitResult]) -> dict[str, str]:
    """Asserts the three containers ran and succeeded; returns their reports."""
    for result in results.values():
        assert result.returncode == 0, f"{result.name}: {result.stderr}"
    assert list(results) == ["project-prepare", "project-seed", "project-finish"]
    return {name: result.report for name, result in results.items()}


NO_REPORTS = {"project-prepare": "", "project-seed": "", "project-finish": ""}

# --- scratch trees ----------------------------------------------------------------


def write(path: Path, content: str = "", mode: int | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content)
    if mode is not None:
        path.chmod(mode)
    return path


def entry(path: Path, stamps: bool) -> tuple:
    info = path.lstat()
    if path.is_symlink():
        data: object = ("link", os.readlink(path))
    elif path.is_dir():
        data = ("dir",)
    elif path.is_file():
        data = ("file", path.read_bytes(), int(info.st_mtime))
    else:
        data = ("other",)
    return (*data, oct(info.st_mode & 0o7777), info.st_uid, *((info.st_ino, info.st_mtime_ns) if stamps else ()))


def tree(path: Path, stamps: bool = False) -> dict[str, tuple]:
    """Everything under PATH ("." itself): kind, content or link target, mode, owner [, inode, mtime]."""
    found = {".": entry(path, stamps)}
    if path.is_symlink():
        return found
    for folder, dirs, names in os.walk(path):
        for name in dirs + names:
            child = Path(folder, name)
            found[str(child.relative_to(path))] = entry(child, stamps)
    return found


def copied(home: Path) -> dict[str, tuple]:
    """What the project folder holds after a first launch: the image's home, made writable."""
    expected = tree(home)
    kind, mode, owner = expected["."]
    expected["."] = (kind, oct(int(mode, 8) | 0o700), owner)
    return expected


def names(volume: Path) -> set[str]:
    return {p.name for p in volume.iterdir()}


def work_names(volume: Path) -> set[str]:
    return {n for n in names(volume) if n.startswith((".seeding-", ".deleted-"))}


def make_image_home(home: Path) -> None:
    """The image's home as repo2docker leaves it: the repository plus postBuild output."""
    write(home / "README.md", "the repository")
    write(home / "notebooks" / "analysis.ipynb", "{}")
    write(home / ".postbuild-output", "made by postBuild")
    write(home / ".config" / "tool" / "settings.toml", "[tool]")
    write(home / "run.sh", "#!/bin/sh\n", 0o755)
    write(home / "private.txt", "mine", 0o600)
    write(home / "data" / "frozen.csv", "1,2", 0o444)
    (home / "link").symlink_to("README.md")
    (home / "absolute-link").symlink_to("/etc/hostname")
    (home / "dangling").symlink_to("nowhere")
    give_to_user(home)
    (home / "data").chmod(0o555)
    (home / "notebooks").chmod(0o750)


@pytest.fixture(params=["dash", "busybox"])
def node(request) -> Iterator[Node]:
    volume, images = scratch_dir(), scratch_dir()
    make_image_home(images / "home")
    yield Node(volumes={VOLUME: volume}, images={PROJECT_IMAGE: images / "home"}, shell=request.param)
    remove_tree(volume)
    remove_tree(images)


@pytest.fixture
def volume(node) -> Path:
    return node.volumes[VOLUME]


@pytest.fixture
def home(node) -> Path:
    return node.images[PROJECT_IMAGE]


@pytest.fixture
def outside() -> Iterator[Path]:
    """A tree beside the volume that the notebook's uid could change: planted symlinks lead here."""
    path = scratch_dir()
    write(path / "precious.txt", "outside the volume")
    write(path / "ro" / "frozen.txt", "read-only", 0o444)
    give_to_user(path)
    (path / "ro").chmod(0o555)  # a chmod -R that followed a symlink would change it
    yield path
    remove_tree(path)


@pytest.fixture
def tools() -> Iterator[Path]:
    """A folder for an image's stand-in programs, put first on a container's PATH."""
    path = scratch_dir()
    yield path
    remove_tree(path)


def program(folder: Path, name: str, text: str) -> Path:
    return write(folder / name, "#!/bin/sh\n" + text, 0o755)


# --- first launch and relaunch ------------------------------------------------------


@pytest.mark.parametrize("home_mode", [0o755, 0o555])
def test_a_first_launch_copies_the_image_home_exactly(node, volume, home, home_mode):
    home.chmod(home_mode)  # a read-only home: the copy still moves into place
    assert succeeded(launch(node, "github.com_org_repo")) == NO_REPORTS
    assert tree(volume / "github.com_org_repo") == copied(home)
    assert names(volume) == {MARKER, "github.com_org_repo"}
    assert (volume / MARKER).is_file()


def test_a_relaunch_copies_nothing_and_touches_nothing(node, volume, home, tools):
    succeeded(launch(node, "repo"))
    project = volume / "repo"
    write(project / "README.md", "the user's edits")
    (project / "notebooks" / "analysis.ipynb").unlink()
    write(home / "new-in-image.txt", "new")
    before = tree(project, stamps=True)
    program(tools, "cp", failing_cp([DISK_FULL]))  # never run: there is nothing to copy
    assert succeeded(launch(node, "repo", seed_path=tools)) == NO_REPORTS
    assert tree(project, stamps=True) == before
    assert (project / "README.md").read_text() == "the user's edits"
    assert not (project / "new-in-image.txt").exists()
    assert names(volume) == {MARKER, "repo"}


def test_a_volume_root_the_user_made_read_only_is_made_usable(node, volume, home):
    write(volume / "gone" / "file", "deleted")
    give_to_user(volume)
    volume.chmod(0o555)
    assert succeeded(launch(node, "repo", "keep", "gone")) == NO_REPORTS
    assert tree(volume / "repo") == copied(home)
    assert names(volume) == {MARKER, "repo"}


# --- the project's image is untrusted ------------------------------------------------

HOSTILE_CP = """\
# A malicious image's cp: destroys what it can reach from its arguments, then tells what it saw.
for arg in "$@"; do
  case $arg in /*) destination=$arg; rm -rf "$arg"/../* "$arg"/../.[!.]* 2>/dev/null ;; esac
done
rm -rf "$destination"/../../* "$destination"/../../.[!.]* /mnt/* /projects/* 2>/dev/null
mkdir -p "$destination"
ls -a "$destination"/../.. >"$destination/seen-beside-staging"
cat /proc/$PPID/cmdline >"$destination/seen-argv"
"""


@needs_root
def test_a_hostile_image_reaches_nothing_but_its_staging_folder(node, volume, home, tools):
    succeeded(launch(node, "sibling"))
    write(volume / "sibling" / "work.ipynb", "{}")
    write(volume / "previous-home" / "thesis.tex", "years of work")
    give_to_user(volume)
    before = tree(volume, stamps=True)
    program(tools, "cp", HOSTILE_CP)
    succeeded(launch(node, "victim", seed_path=tools))
    after = tree(volume, stamps=True)
    # The volume root's own mtime changed (new entries); nothing else did.
    assert {k: v for k, v in after.items() if k != "." and not k.startswith("victim")} == {
        k: v for k, v in before.items() if k != "."}
    seen = volume / "victim"
    assert (seen / "seen-beside-staging").read_text().split() == [".", "..", ".seeding-victim"]
    argv = (seen / "seen-argv").read_bytes().decode().split("\0")[:-1]
    assert str(volume) not in argv
    assert argv[-3:] == ["seed-project", str(home), str(volume / ".seeding-victim")]


def test_the_project_image_never_gets_the_volume(node):
    """The kubelet stand-in refuses, as the design does, to give the project image more."""
    bad = seed("repo")
    bad["command"].append(VOLUME_MOUNT + "/..")
    (node.volumes[VOLUME] / ".seeding-repo").mkdir()
    give_to_user(node.volumes[VOLUME])
    with pytest.raises(AssertionError, match="neither its own mount nor its home"):
        run(node, bad)
    with pytest.raises(AssertionError, match="only project-seed may run a project's image"):
        run(node, {**prepare("repo"), "image": PROJECT_IMAGE})


@pytest.mark.parametrize(("staging", "refusal"), [("missing", "does not exist"), ("symlink", "is a symlink")])
def test_the_seed_container_needs_its_staging_folder_made_beforehand(node, volume, staging, refusal):
    if staging == "symlink":
        (volume / ".seeding-repo").symlink_to(".")
    with pytest.raises(AssertionError, match=refusal):
        run(node, seed("repo"))


def test_the_kubelet_takes_the_spawners_v1pod(node, volume, home):
    from kubernetes_asyncio.client import V1Container, V1EnvVar, V1Pod, V1PodSpec, V1VolumeMount

    def v1(c: dict) -> V1Container:
        return V1Container(name=c["name"], image=c["image"], command=c["command"],
                           env=[V1EnvVar(**e) for e in c["env"]],
                           volume_mounts=[V1VolumeMount(name=m["name"], mount_path=m["mountPath"],
                                                        sub_path=m.get("subPath")) for m in c["volumeMounts"]])

    pod = V1Pod(spec=V1PodSpec(containers=[], init_containers=[v1(prepare("repo")), v1(seed("repo")),
                                                               v1(finish("repo"))]))
    assert succeeded({r.name: r for r in run_init_containers(node, pod)}) == NO_REPORTS
    assert tree(volume / "repo") == copied(home)


# --- deleted projects and leftovers ----------------------------------------------------


def read_only_tree(path: Path, outside: Path | None = None) -> None:
    write(path / "a" / "b" / "deep.txt", "x", 0o444)
    write(path / "a" / "frozen.txt", "y", 0o444)
    (path / "locked").mkdir()
    if outside:  # chmod -R must not follow it
        (path / "a" / "to-outside").symlink_to(outside / "ro")
    give_to_user(path)
    for folder in (path / "a" / "b", path / "a", path / "locked", path):
        folder.chmod(0o555)
    (path / "locked").chmod(0)


def test_read_only_folders_of_a_deleted_project_are_removed(node, volume, home, outside):
    read_only_tree(volume / "gone", outside)
    before_outside = tree(outside, stamps=True)
    assert succeeded(launch(node, "repo", "keep", "gone")) == NO_REPORTS
    assert names(volume) == {MARKER, "repo"}
    assert tree(outside, stamps=True) == before_outside


@needs_root
def test_a_deletion_that_cannot_be_removed_is_reported_and_retried(node, volume):
    write(volume / "gone" / "owned-by-root", "root's")  # created as root, in a root-owned folder
    reports = succeeded(launch(node, "repo", "keep", "gone"))
    assert reports["project-prepare"] == "leftover .deleted-gone\n"
    assert (volume / ".deleted-gone" / "owned-by-root").exists()
    assert succeeded(launch(node, "repo"))["project-prepare"] == "leftover .deleted-gone\n"
    give_to_user(volume / ".deleted-gone")  # whatever blocked it is gone: the next launch removes it
    assert succeeded(launch(node, "repo")) == NO_REPORTS
    assert names(volume) == {MARKER, "repo"}


@needs_root
def test_a_leftover_name_cannot_forge_report_lines(node, volume):
    write(volume / ".deleted-x\nadopted y z" / "owned-by-root", "root's")
    assert succeeded(launch(node, "repo"))["project-prepare"] == "leftover .deleted-x?adopted?y?z\n"


REFUSING_MV = """\
# As if immutable: nothing whose name starts with gone can be renamed.
for arg; do case $arg in */gone*) echo "mv: cannot move '$arg': Operation not permitted" >&2; exit 1 ;; esac; done
PATH=${PATH#*:}
exec mv "$@"
"""


def test_a_deleted_folder_that_cannot_be_taken_away_stays_pending(node, volume, tools):
    write(volume / "gone" / "file", "kept")
    give_to_user(volume)
    program(tools, "mv", REFUSING_MV)
    reports = succeeded(launch(node, "repo", "keep", "gone", prepare_path=tools))
    assert reports["project-prepare"] == "kept-pending gone\n"
    assert (volume / "gone" / "file").read_text() == "kept"


def test_a_deleted_folder_that_cannot_be_taken_away_is_never_launched_into(node, volume, tools):
    write(volume / "gone" / "old.txt", "the deleted project's")
    give_to_user(volume)
    before = tree(volume / "gone")
    program(tools, "mv", REFUSING_MV)
    results = launch(node, "gone", "keep", "gone", prepare_path=tools)
    assert list(results) == ["project-prepare"]
    assert results["project-prepare"].returncode != 0
    assert "cannot be taken away" in results["project-prepare"].stderr
    assert results["project-prepare"].report == "kept-pending gone\n"
    assert tree(volume / "gone") == before


def test_a_deleted_project_launched_again_starts_afresh(node, volume, home):
    read_only_tree(volume / "repo")
    write(volume / "sibling" / "file", "untouched")
    give_to_user(volume)
    (volume / "repo").chmod(0o755)
    assert succeeded(launch(node, "repo", "keep", "repo")) == NO_REPORTS
    assert tree(volume / "repo") == copied(home)
    assert (volume / "sibling" / "file").read_text() == "untouched"
    assert names(volume) == {MARKER, "repo", "sibling"}


def test_an_interrupted_copy_of_read_only_folders_is_cleaned(node, volume, home):
    read_only_tree(volume / ".seeding-repo" / "home")
    give_to_user(volume / ".seeding-repo")
    assert succeeded(launch(node, "repo")) == NO_REPORTS
    assert tree(volume / "repo") == copied(home)
    assert work_names(volume) == set()


def test_reports_stay_within_the_termination_message_limit(node, volume, tools):
    deleted = [f"gone-{n:03}" for n in range(300)]
    for name in deleted:
        (volume / name).mkdir()
    give_to_user(volume)
    program(tools, "mv", REFUSING_MV)
    report = succeeded(launch(node, "repo", "keep", *deleted, prepare_path=tools))["project-prepare"]
    assert 4000 < len(report) <= 4096
    lines = report.splitlines(keepends=True)
    assert lines == [f"kept-pending {name}\n" for name in deleted[:len(lines)]]


# --- names on the volume are the user's: planted symlinks -----------------------------


@pytest.mark.parametrize("adopt", ["adopt", "keep"])
def test_planted_symlinks_never_lead_outside_the_volume(node, volume, home, outside, adopt):
    planted = {".previous-home.moving": outside, ".previous-home.AbC123": outside, ".seeding-repo": outside,
               ".seeding-other": outside / "ro", ".deleted-x": outside / "ro", "previous-home": outside,
               "repo": outside, "repo.moved-aside": outside}
    for name, target in planted.items():
        (volume / name).symlink_to(target)
    write(volume / "notes.txt", "the plain home")
    give_to_user(volume)
    before_outside = tree(outside, stamps=True)
    reports = succeeded(launch(node, "repo", adopt))
    assert tree(outside, stamps=True) == before_outside
    assert tree(volume / "repo") == copied(home)
    assert work_names(volume) == set()
    kept = volume / "previous-home" if adopt == "adopt" else volume
    survivors = [".previous-home.moving", ".previous-home.AbC123"] + (
        ["previous-home", "repo.moved-aside"] if adopt == "adopt" else [])
    for name in survivors:
        link = volume / name if name.startswith(".") else kept / name
        assert os.readlink(link) == str(planted[name])
    if adopt == "adopt":
        assert reports["project-prepare"] == "adopted previous-home\n"
        assert not (volume / "previous-home").is_symlink()
        assert (volume / "previous-home" / "notes.txt").read_text() == "the plain home"
        assert os.readlink(volume / "previous-home" / "repo") == str(outside)
    else:
        assert reports["project-prepare"] == "moved-aside repo repo.moved-aside-2\n"
        assert os.readlink(volume / "repo.moved-aside-2") == str(outside)


# --- the project folder's name is taken ----------------------------------------------


def obstacle(volume: Path, kind: str) -> None:
    write(volume / "other" / "work.ipynb", "another project's")
    if kind == "dangling symlink":
        (volume / "repo").symlink_to("nowhere")
    elif kind == "symlink to another project":
        (volume / "repo").symlink_to("other")
    elif kind == "fifo":
        os.mkfifo(volume / "repo")
    else:
        write(volume / "repo", "a file")
        if kind == "file, with repo.moved-aside a folder":
            (volume / "repo.moved-aside").mkdir()
        elif kind == "file, with repo.moved-aside a dangling symlink":
            (volume / "repo.moved-aside").symlink_to("nowhere")
    give_to_user(volume)


@pytest.mark.parametrize(("kind", "aside"), [
    ("dangling symlink", "repo.moved-aside"), ("symlink to another project", "repo.moved-aside"),
    ("file", "repo.moved-aside"), ("fifo", "repo.moved-aside"),
    ("file, with repo.moved-aside a folder", "repo.moved-aside-2"),
    ("file, with repo.moved-aside a dangling symlink", "repo.moved-aside-2")])
def test_an_obstacle_at_the_project_folder_is_moved_aside(node, volume, home, kind, aside):
    obstacle(volume, kind)
    before, other = tree(volume, stamps=True), tree(volume / "other", stamps=True)
    reports = succeeded(launch(node, "repo"))
    assert reports["project-prepare"] == f"moved-aside repo {aside}\n"
    assert tree(volume / aside, stamps=True) == {".": before["repo"]}
    if aside != "repo.moved-aside":
        assert tree(volume / "repo.moved-aside", stamps=True) == {".": before["repo.moved-aside"]}
    assert tree(volume / "other", stamps=True) == other
    assert tree(volume / "repo") == copied(home)


def test_without_report_file_nothing_is_reported(node, volume):
    obstacle(volume, "file")
    results = launch(node, "repo", report=False)
    assert {name: r.returncode for name, r in results.items()} == dict.fromkeys(NO_REPORTS, 0)
    assert (volume / "repo.moved-aside").read_text() == "a file"


# --- adoption of a plain JupyterHub home ---------------------------------------------


def plain_home(volume: Path) -> dict[str, tuple]:
    write(volume / "thesis.tex", "years of work")
    write(volume / ".bashrc", "alias ll='ls -l'")
    write(volume / "..hidden-too", "odd name")
    write(volume / "data" / "nested" / "big.csv", "1,2,3")
    (volume / "lost+found").mkdir()
    give_to_user(volume)
    return {k: v for k, v in tree(volume).items() if k != "." and not k.startswith("lost+found")}


def test_a_plain_home_moves_into_previous_home_once(node, volume):
    before = plain_home(volume)
    assert succeeded(launch(node, "repo", "adopt"))["project-prepare"] == "adopted previous-home\n"
    assert names(volume) == {MARKER, "lost+found", "previous-home", "repo"}
    assert {k: v for k, v in tree(volume / "previous-home").items() if k != "."} == before

    write(volume / "previous-home" / "new.txt", "written since")
    write(volume / "stray", "not moved twice")
    give_to_user(volume)
    kept = tree(volume / "previous-home")
    assert succeeded(launch(node, "other", "adopt")) == NO_REPORTS
    assert (volume / "stray").exists()
    assert tree(volume / "previous-home") == kept


@pytest.mark.parametrize(("mode", "holder"), [(0o755, "previous-home"), (0o555, "previous-home-2")])
def test_a_plain_home_with_a_previous_home_entry_is_adopted_fully(node, volume, mode, holder):
    write(volume / "previous-home" / "older.txt", "from an earlier hub")
    before = plain_home(volume)
    (volume / "previous-home").chmod(mode)  # read-only: it cannot move to another folder, and stays
    assert succeeded(launch(node, "repo", "adopt"))["project-prepare"] == f"adopted {holder}\n"
    stays = {"previous-home"} if holder != "previous-home" else set()
    assert names(volume) == {MARKER, "lost+found", "repo", holder} | stays
    moved = {k: v for k, v in before.items() if k.split("/")[0] not in stays}
    assert {k: v for k, v in tree(volume / holder).items() if k != "."} == moved


@pytest.mark.parametrize("marker", ["file", "folder", "symlink to a folder outside", "dangling symlink"])
def test_a_volume_with_the_marker_is_never_adopted(node, volume, outside, marker):
    if marker == "file":
        write(volume / MARKER)
    elif marker == "folder":
        write(volume / MARKER / "inside", "untouched")
    else:
        (volume / MARKER).symlink_to(outside if marker.endswith("outside") else "nowhere")
    write(volume / "thesis.tex", "stays")
    give_to_user(volume)
    before, before_outside = tree(volume), tree(outside, stamps=True)
    assert succeeded(launch(node, "repo", "adopt")) == NO_REPORTS
    after = tree(volume)
    assert {k: v for k, v in after.items() if k != "." and not k.startswith("repo")} == {
        k: v for k, v in before.items() if k != "."}
    assert tree(outside, stamps=True) == before_outside


# --- names -----------------------------------------------------------------------------


def unsafe_pods() -> list:
    return ([pytest.param(prepare(name), id=f"prepare folder {name!r}") for name in UNSAFE_NAMES]
            + [pytest.param(prepare("repo", "keep", "old", name), id=f"deleted {name!r}") for name in UNSAFE_NAMES]
            + [pytest.param(finish(name), id=f"finish folder {name!r}") for name in UNSAFE_NAMES]
            + [pytest.param(prepare("repo", "yes"), id="adopt 'yes'")])


@pytest.mark.parametrize("refused", unsafe_pods())
def test_unsafe_names_are_refused_before_anything_changes(node, volume, outside, refused):
    plain_home(volume)
    write(volume / "old" / "file", "deleted, but only with safe names")
    give_to_user(volume)
    volume.chmod(0o555)  # the mount root, made u+rwx only once the names are checked
    before, before_outside = tree(volume), tree(outside, stamps=True)
    results = run(node, refused)
    assert len(results) == 1
    (result,) = results.values()
    assert result.returncode == 1
    assert "refusing" in result.stderr
    assert tree(volume) == before
    assert tree(outside, stamps=True) == before_outside


def test_names_are_data_never_code(node, volume, home):
    folder = "$(id>&2)`id>&2`;id>&2 *"
    for name in ("keep", "a", "a b"):
        write(volume / name / "file", name)
    give_to_user(volume)
    results = launch(node, folder, "keep", "*", "a b", "$(id>&2)")
    assert succeeded(results) == NO_REPORTS
    assert not any("uid=" in r.stdout + r.stderr for r in results.values())
    assert tree(volume / folder) == copied(home)
    assert names(volume) == {MARKER, folder, "keep", "a"}


def test_the_longest_names_fit(node, volume, home):
    """Work names stay within NAME_MAX; the staging folder's prefix sets the folder limit: 246."""
    write(volume / ("d" * 255) / "file", "deleted")
    give_to_user(volume)
    assert succeeded(launch(node, "f" * 246, "keep", "d" * 255)) == NO_REPORTS
    assert names(volume) == {MARKER, "f" * 246}
    assert run(node, prepare("g" * 247))["project-prepare"].returncode != 0


# --- copying the image's home ---------------------------------------------------------


@needs_root
@pytest.mark.parametrize("unreadable", ["secret.txt", "secret-folder"])
def test_unreadable_files_of_the_image_are_left_out_and_reported(node, volume, home, unreadable):
    write(home / "root-readable.txt", "root's, readable")  # busybox cp warns: it cannot chown it
    secret = write(home / unreadable / "key" if unreadable == "secret-folder" else home / unreadable, "root's")
    (home / unreadable).chmod(0o700 if unreadable == "secret-folder" else 0o600)
    reports = succeeded(launch(node, "repo"))
    assert reports["project-seed"] == "unreadable 1\n"
    expected = {k: v for k, v in copied(home).items() if not k.startswith(unreadable)}
    assert {k: v for k, v in tree(volume / "repo").items() if not k.startswith(unreadable)} == {
        **expected, "root-readable.txt": (*expected["root-readable.txt"][:-1], 1000)}
    assert not (volume / "repo" / secret.relative_to(home)).exists()


def failing_cp(lines: list[str]) -> str:
    return "".join(f"echo \"{line}\" >&2\n" for line in lines) + "exit 1\n"


DISK_FULL = "cp: error writing '/x': No space left on device"
DENIED = "cp: cannot open '/y' for reading: Permission denied"


@pytest.mark.parametrize("lines", [[DISK_FULL], [DENIED, DISK_FULL], []])
def test_a_copy_that_fails_otherwise_fails_the_launch(node, volume, home, tools, lines):
    program(tools, "cp", failing_cp(lines))
    results = launch(node, "repo", seed_path=tools)
    assert list(results) == ["project-prepare", "project-seed"]
    assert results["project-seed"].returncode != 0
    assert results["project-seed"].report == ""
    assert not (volume / "repo").exists()
    # The next launch sweeps the half-made staging folder and copies afresh.
    assert succeeded(launch(node, "repo")) == NO_REPORTS
    assert tree(volume / "repo") == copied(home)
    assert work_names(volume) == set()


def test_permission_errors_alone_let_the_launch_go_on(node, volume, tools):
    program(tools, "cp", failing_cp([DENIED, DENIED.replace("/y", "/z")]))
    assert succeeded(launch(node, "repo", seed_path=tools))["project-seed"] == "unreadable 2\n"
    assert (volume / "repo").is_dir()


# --- finish -----------------------------------------------------------------------------


def no_copy(staging: Path) -> None:
    remove_tree(staging / "home")


def copy_is_a_symlink(staging: Path) -> None:
    remove_tree(staging / "home")
    (staging / "home").symlink_to(staging.parent / "other")


def copy_is_a_file(staging: Path) -> None:
    remove_tree(staging / "home")
    write(staging / "home", "not a folder")


@pytest.mark.parametrize("spoil", [no_copy, copy_is_a_symlink, copy_is_a_file, remove_tree])
def test_finish_refuses_to_leave_the_notebook_without_its_folder(node, volume, spoil):
    write(volume / "other" / "work.ipynb", "another project's")
    give_to_user(volume)
    (volume / "other").chmod(0o555)  # a chmod that followed a symlink would change it
    assert run(node, prepare("repo"))["project-prepare"].returncode == 0
    spoil(volume / ".seeding-repo")
    give_to_user(volume)
    before = tree(volume / "other", stamps=True)
    result = run(node, finish("repo"))["project-finish"]
    assert result.returncode == 1
    assert "refusing to start the notebook" in result.stderr
    assert not os.path.lexists(volume / "repo")
    assert tree(volume / "other", stamps=True) == before
    assert work_names(volume) == set()
