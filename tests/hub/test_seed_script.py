"""The init container's program, run for real with /bin/sh on scratch folders."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from persistent_binderhub.spawner import SEED_SCRIPT


@pytest.fixture
def volume(tmp_path: Path) -> Path:
    path = tmp_path / "projects"
    path.mkdir()
    return path


@pytest.fixture
def image_home(tmp_path: Path) -> Path:
    """The image's home as repo2docker leaves it: the repository plus postBuild output."""
    home = tmp_path / "home-jovyan"
    (home / "notebooks").mkdir(parents=True)
    (home / "notebooks" / "analysis.ipynb").write_text("{}")
    (home / "README.md").write_text("the repository")
    (home / ".postbuild-output").write_text("made by postBuild")
    (home / "link").symlink_to("README.md")
    return home


def seed(volume: Path, folder: str, home: Path, adopt: str = "keep", *deleted: str) -> subprocess.CompletedProcess:
    # Exactly the command the spawner gives the init container, with scratch paths.
    return subprocess.run(["/bin/sh", "-c", SEED_SCRIPT, "seed-projects", str(volume), folder, str(home), adopt,
                           *deleted], capture_output=True, text=True, check=False)


def tree(path: Path) -> dict[str, str]:
    return {str(p.relative_to(path)): ("-> " + str(p.readlink())) if p.is_symlink() else
            (p.read_text() if p.is_file() else "/") for p in sorted(path.rglob("*"))}


def test_first_launch_copies_the_image_home(volume, image_home):
    result = seed(volume, "github.com_org_repo", image_home)
    assert result.returncode == 0, result.stderr
    assert tree(volume / "github.com_org_repo") == tree(image_home)
    # No temporary folder left; the marker says a persistent launch has used this volume.
    assert sorted(p.name for p in volume.iterdir()) == [".persistent-binderhub", "github.com_org_repo"]


def test_relaunch_copies_nothing(volume, image_home):
    seed(volume, "repo", image_home)
    (volume / "repo" / "README.md").write_text("the user's edits")
    (volume / "repo" / "notebooks" / "analysis.ipynb").unlink()
    (image_home / "new-in-image.txt").write_text("new")
    assert seed(volume, "repo", image_home).returncode == 0
    assert (volume / "repo" / "README.md").read_text() == "the user's edits"
    assert not (volume / "repo" / "notebooks" / "analysis.ipynb").exists()
    assert not (volume / "repo" / "new-in-image.txt").exists()


def test_deleted_projects_are_removed_first(volume, image_home):
    for name in ("old-a", "old-b", "kept"):
        (volume / name).mkdir()
        (volume / name / "file").write_text(name)
    assert seed(volume, "old-a", image_home, "keep", "old-a", "old-b").returncode == 0
    # old-a was deleted and is launched again: it starts afresh from the image.
    assert tree(volume / "old-a") == tree(image_home)
    assert not (volume / "old-b").exists()
    assert (volume / "kept" / "file").read_text() == "kept"


def test_an_interrupted_copy_is_redone(volume, image_home):
    (volume / ".seeding-repo").mkdir()
    (volume / ".seeding-repo" / "half").write_text("partial")
    assert seed(volume, "repo", image_home).returncode == 0
    assert tree(volume / "repo") == tree(image_home)
    assert not (volume / ".seeding-repo").exists()


def test_a_plain_home_is_moved_into_previous_home_once(volume, image_home):
    (volume / "thesis.tex").write_text("years of work")
    (volume / ".bashrc").write_text("alias ll='ls -l'")
    (volume / "data").mkdir()
    (volume / "data" / "big.csv").write_text("1,2,3")
    (volume / "lost+found").mkdir()
    before = tree(volume)
    assert seed(volume, "repo", image_home, "adopt").returncode == 0
    assert sorted(p.name for p in volume.iterdir()) == [
        ".persistent-binderhub", "lost+found", "previous-home", "repo"]
    assert tree(volume / "previous-home") == {k: v for k, v in before.items() if k != "lost+found"}

    (volume / "previous-home" / "new.txt").write_text("written since")
    (volume / "stray").write_text("not moved twice")
    assert seed(volume, "other", image_home, "adopt").returncode == 0
    assert (volume / "stray").exists()
    assert (volume / "previous-home" / "new.txt").exists()


def test_a_volume_used_by_persistent_launches_is_never_adopted(volume, image_home):
    """Even when the hub's database says so (state lost, a rollback): project folders stay put."""
    seed(volume, "repo-a", image_home)
    (volume / "repo-a" / "work.ipynb").write_text("{}")
    assert seed(volume, "repo-b", image_home, "adopt").returncode == 0
    assert not (volume / "previous-home").exists()
    assert (volume / "repo-a" / "work.ipynb").exists()


def test_entries_that_cannot_move_stay_and_the_launch_goes_on(volume, image_home):
    (volume / "locked").mkdir()
    (volume / "locked" / "file").write_text("kept")
    (volume / "notes.txt").write_text("moved")
    # A folder that cannot be renamed: simulated with a stand-in mv that refuses it.
    bin_dir = volume.parent / "bin"
    bin_dir.mkdir()
    (bin_dir / "mv").write_text('#!/bin/sh\ncase "$2" in */locked) exit 1 ;; esac\nexec /bin/mv "$@"\n')
    (bin_dir / "mv").chmod(0o755)
    script = f'PATH="{bin_dir}:$PATH"; export PATH; {SEED_SCRIPT}'
    result = subprocess.run(["/bin/sh", "-c", script, "seed-projects", str(volume), "repo", str(image_home), "adopt"],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert "Left locked in place" in result.stderr
    assert (volume / "locked" / "file").read_text() == "kept"
    assert (volume / "previous-home" / "notes.txt").read_text() == "moved"
    assert (volume / "repo" / "README.md").exists()


@pytest.mark.parametrize(("folder", "deleted"), [("..", ()), (".", ()), ("", ()), ("a/../../x", ()),
                                                 ("repo", ("..",)), ("repo", ("../outside",)), ("repo", ("",))])
def test_unsafe_folder_names_are_refused_before_anything_changes(tmp_path, volume, image_home, folder, deleted):
    (volume / "keep").mkdir()
    (tmp_path / "outside").mkdir()
    result = seed(volume, folder, image_home, "keep", *deleted)
    assert result.returncode != 0
    assert "refusing unsafe folder name" in result.stderr
    assert (volume / "keep").exists()
    assert (tmp_path / "outside").exists()
    assert not (volume / "repo").exists()


def test_names_are_data_never_code(tmp_path, volume, image_home):
    hostile = "$(touch PWNED);`touch PWNED2`;x"
    assert seed(volume, hostile, image_home, "keep", "-rf", "*").returncode == 0
    assert (volume / hostile / "README.md").exists()
    assert not list(tmp_path.rglob("PWNED*"))
