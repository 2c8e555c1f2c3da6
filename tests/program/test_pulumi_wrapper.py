"""`make up` / `make preview` (tools/pulumi.sh) against a stand-in Pulumi CLI that records its calls."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tools.offline import REPO

# Knows the stacks listed in $FAKE_PULUMI_STACKS; its backend is $PULUMI_BACKEND_URL, else the login's.
FAKE_PULUMI = """#!/usr/bin/env bash
echo "$* backend=${PULUMI_BACKEND_URL-unset} passphrase=${PULUMI_CONFIG_PASSPHRASE-unset}" >> "$FAKE_PULUMI_LOG"
case "$1" in
  whoami) echo "Backend URL: ${PULUMI_BACKEND_URL:-https://api.pulumi.com}" ;;
  stack) [[ $2 == init || $2 == output || $* == *--create* || " $FAKE_PULUMI_STACKS " == *" ${*: -1} "* ]] ;;
esac
"""
LOGGED_IN = '{"current": "https://api.pulumi.com", "accounts": {}}'


def _run(tmp_path: Path, *args: str, pulumi: bool = True, logged_in: bool = False,
         **env: str) -> subprocess.CompletedProcess:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    if pulumi:
        (bin_dir / "pulumi").write_text(FAKE_PULUMI)
        (bin_dir / "pulumi").chmod(0o755)
    if logged_in:
        (tmp_path / ".pulumi").mkdir(exist_ok=True)
        (tmp_path / ".pulumi" / "credentials.json").write_text(LOGGED_IN)
    environment = {"PATH": f"{bin_dir}:/usr/bin:/bin", "HOME": str(tmp_path),
                   "FAKE_PULUMI_LOG": str(tmp_path / "calls.log"), "FAKE_PULUMI_STACKS": "production", **env}
    # A copy, so that the .pulumi-state/ it makes lands in the scratch directory, not the repository.
    script = tmp_path / "checkout" / "tools" / "pulumi.sh"
    script.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(REPO / "tools" / "pulumi.sh", script)
    return subprocess.run(["/bin/bash", str(script), *args], env=environment,
                          capture_output=True, text=True, check=False)


def _calls(tmp_path: Path) -> list[str]:
    log = tmp_path / "calls.log"
    return log.read_text().splitlines() if log.exists() else []


def test_missing_pulumi_cli_stops_with_install_instructions(tmp_path):
    if any(Path(d, "pulumi").exists() for d in ("/usr/bin", "/bin")):
        pytest.fail("a real pulumi in /usr/bin would hide what this test checks")
    result = _run(tmp_path, "up", "local", pulumi=False)
    assert result.returncode == 1
    assert "error: the Pulumi CLI is not installed" in result.stderr
    assert "curl -fsSL https://get.pulumi.com | sh" in result.stderr


def test_up_local_without_a_login_uses_a_file_backend_for_this_command_only(tmp_path):
    result = _run(tmp_path, "up", "local", "--yes")
    assert result.returncode == 0, result.stderr
    state = f"file://{tmp_path}/checkout/.pulumi-state"
    calls = _calls(tmp_path)
    assert not any(call.startswith("login") for call in calls)  # the operator's login is untouched
    assert f"stack select --create --non-interactive local backend={state} passphrase=" in calls
    assert calls[-1] == f"up --stack local --yes backend={state} passphrase="


def test_an_existing_login_is_used(tmp_path):
    result = _run(tmp_path, "preview", "production", "--diff", logged_in=True)
    assert result.returncode == 0, result.stderr
    calls = _calls(tmp_path)
    assert "stack select --non-interactive production backend=unset passphrase=unset" in calls
    assert calls[-1] == "preview --stack production --diff backend=unset passphrase=unset"


def test_a_real_stack_is_never_created_by_make_up(tmp_path):
    result = _run(tmp_path, "up", "staging", logged_in=True)
    assert result.returncode == 1
    assert "create it with: pulumi stack init staging" in result.stderr
    assert not any(call.startswith("up") or "--create" in call for call in _calls(tmp_path))


def test_other_stacks_on_a_file_backend_need_a_passphrase(tmp_path):
    result = _run(tmp_path, "up", "production")
    assert result.returncode == 1
    assert "set PULUMI_CONFIG_PASSPHRASE" in result.stderr
    assert not any(call.startswith(("up", "stack")) for call in _calls(tmp_path))
    result = _run(tmp_path, "up", "production", PULUMI_CONFIG_PASSPHRASE="correct horse")
    assert result.returncode == 0
    assert _calls(tmp_path)[-1].endswith("passphrase=correct horse")


def test_usage_error(tmp_path):
    result = _run(tmp_path, "refresh", "local")
    assert result.returncode == 2
    assert "usage:" in result.stderr


def test_destroy_goes_through_the_same_backend(tmp_path):
    result = _run(tmp_path, "destroy", "local", "--yes")
    assert result.returncode == 0, result.stderr
    assert _calls(tmp_path)[-1].startswith("destroy --stack local --yes backend=file://")


def test_init_creates_a_stack_in_the_backend_make_up_uses(tmp_path):
    result = _run(tmp_path, "init", "prod", PULUMI_CONFIG_PASSPHRASE="pass")
    assert result.returncode == 0, result.stderr
    backend = f"file://{tmp_path / 'checkout'}/.pulumi-state"
    assert _calls(tmp_path)[-1] == f"stack init --non-interactive prod backend={backend} passphrase=pass"


def test_output_prints_a_deployed_stacks_outputs(tmp_path):
    result = _run(tmp_path, "output", "production", "--json", logged_in=True)
    assert result.returncode == 0, result.stderr
    assert _calls(tmp_path)[-1] == "stack output --stack production --json backend=unset passphrase=unset"
