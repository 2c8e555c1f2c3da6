"""Every class of mistaken or hostile input, through the real commands as an operator runs them.

Each must end with exit code 2, no traceback, one message naming the file (and the key, where
there is one) and saying what to do, and nothing changed on disk.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import pytest

from tools.offline import REPO

P = "persistent-binderhub"
SECRET_KEY = "AGE-SECRET-KEY-1QQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQ"


def _append(path: Path, text: str) -> None:
    path.write_text(path.read_text() + text)


def _set(project, stack: str, block: str, **values) -> None:
    config = project.config(stack)
    config.setdefault(f"{P}:{block}", {}).update(values)
    project.write_config(stack, config)


def _link_secrets(project) -> None:
    path = project.secrets_path("example-gke")
    outside = project.root.parent / "outside.sops.yaml"
    outside.write_bytes(path.read_bytes())
    path.unlink()
    path.symlink_to(outside)


RENDER = ["-m", "tools.render", "example-gke", "--out", "{out}", "--project-dir", "{project}"]
CHECK = ["-m", "tools.secrets", "--project-dir", "{project}", "check", "example-gke"]
# (the mistake, the command, the message it must start with)
MISTAKES = {
    "YAML that does not parse": (
        lambda p: p.stack_path("example-gke").write_text("config: [unclosed\n"), RENDER,
        "stacks/Pulumi.example-gke.yaml: is not valid YAML at line 2, column 1"),
    "an alias bomb": (
        lambda p: p.stack_path("example-gke").write_text("a: &a [x]\nb: [*a, *a]\n"), RENDER,
        "stacks/Pulumi.example-gke.yaml: is not valid YAML at line 2, column 5: uses the alias *a"),
    "bytes that are not UTF-8": (
        lambda p: p.stack_path("example-gke").write_bytes(b"config:\n  persistent-binderhub:platform: g\xe9ke\n"),
        RENDER, "stacks/Pulumi.example-gke.yaml: is not UTF-8 text (line 2"),
    "an unknown key": (
        lambda p: _set(p, "example-gke", "servers", cpuLimmit=2), RENDER,
        f"stacks/Pulumi.example-gke.yaml: the stack settings have 1 problem(s):\n  - {P}:servers.cpuLimmit: "
        f"is not a known setting; did you mean 'cpuLimit'?"),
    "a typo in the namespace": (
        lambda p: _append(p.stack_path("example-gke"), "  persistent-binderhb:servers:\n    cpuLimit: 4\n"), RENDER,
        "stacks/Pulumi.example-gke.yaml: the stack settings have 1 problem(s):\n  - persistent-binderhb:servers: "
        "'persistent-binderhb' is not a known namespace"),
    "a value out of range": (
        lambda p: _set(p, "example-gke", "storage", userHomeSize="999999Ti"), RENDER,
        f"stacks/Pulumi.example-gke.yaml: the stack settings have 1 problem(s):\n  - {P}:storage.userHomeSize: "
        f"'999999Ti' is out of range: expected from 1Gi to 64Ti"),
    "a secrets file in plain text": (
        lambda p: p.secrets_path("example-gke").write_text("oauth_client_secret: hunter2\n"), RENDER,
        "secrets/example-gke.sops.yaml: is not SOPS-encrypted"),
    "a secret in a plain-text comment": (
        lambda p: _append(p.secrets_path("example-gke"), "# backup: hunter2\n"), CHECK,
        "secrets/example-gke.sops.yaml: line"),
    "a missing secrets file": (
        lambda p: p.secrets_path("example-gke").unlink(), CHECK,
        "secrets/example-gke.sops.yaml: not found. Every stack needs its SOPS-encrypted secrets file; create it"),
    "a secrets file that is a link": (
        _link_secrets, CHECK, "secrets/example-gke.sops.yaml: is a symbolic link"),
    "a broken .sops.yaml": (
        lambda p: (p.root / ".sops.yaml").write_text("creation_rules: [unclosed\n"), CHECK,
        ".sops.yaml: is not valid YAML"),
    "a stack name with a space": (
        lambda p: None, ["-m", "tools.render", "my prod", "--out", "{out}", "--project-dir", "{project}"],
        "'my prod' is not a valid stack name: use letters, digits, '.', '_' and '-' (and no spaces)"),
    "a stack name of 300 characters": (
        lambda p: None, ["-m", "tools.secrets", "--project-dir", "{project}", "check", "x" * 300],
        "the stack name is 300 characters long; a stack name has at most 100"),
    "a hostile stack name": (
        lambda p: None, ["-m", "tools.secrets", "--project-dir", "{project}", "check", "../../etc/passwd"],
        "'../../etc/passwd' is not a valid stack name"),
    "a pasted secret key as a recipient": (
        lambda p: None, ["-m", "tools.secrets", "--project-dir", "{project}", "add-recipient", "example-gke",
                         SECRET_KEY],
        "the recipient given is an age secret key"),
    "a render into a folder of other files": (
        lambda p: None, ["-m", "tools.render", "example-gke", "--out", "{project}/stacks", "--project-dir",
                         "{project}"],
        "{project}/stacks: is not empty and not a render"),
}


def _checksums(root: Path) -> dict[str, str]:
    return {str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "dir"
            for path in sorted(root.rglob("*"))}


@pytest.mark.parametrize("mistake", MISTAKES)
def test_a_mistake_gets_exit_2_one_clear_message_and_changes_nothing(project, tmp_path, mistake):
    breaks, command, expected = MISTAKES[mistake]
    breaks(project)
    out = tmp_path / "render"
    fill = {"out": str(out), "project": str(project.root)}
    before = _checksums(tmp_path)

    result = subprocess.run([sys.executable, *(arg.format(**fill) for arg in command)], cwd=REPO,
                            capture_output=True, text=True, check=False, timeout=120)

    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith(f"error: {expected.format(**fill)}"), result.stderr
    assert "Traceback" not in result.stderr
    for secret in ("hunter2", SECRET_KEY):
        assert secret not in result.stderr + result.stdout
    assert _checksums(tmp_path) == before  # nothing written, nothing removed
