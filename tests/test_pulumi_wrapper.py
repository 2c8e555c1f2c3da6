"""`make up` / `make preview` (tools/pulumi.sh) against a stand-in Pulumi CLI that records its calls."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tools.offline import REPO

FAKE_PULUMI = """#!/usr/bin/env bash
echo "$* passphrase=${PULUMI_CONFIG_PASSPHRASE-unset}" >> "$FAKE_PULUMI_LOG"
case "$1" in
  whoami)
    [[ -f $FAKE_PULUMI_BACKEND ]] || exit 1
    if [[ $* == *--verbose* ]]; then echo "Backend URL: $(cat "$FAKE_PULUMI_BACKEND")"; fi ;;
  login) echo "${*: -1}" > "$FAKE_PULUMI_BACKEND" ;;
esac
"""


def _run(tmp_path: Path, *args: str, pulumi: bool = True, **env: str) -> subprocess.CompletedProcess:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    if pulumi:
        (bin_dir / "pulumi").write_text(FAKE_PULUMI)
        (bin_dir / "pulumi").chmod(0o755)
    environment = {
        "PATH": f"{bin_dir}:/usr/bin:/bin",
        "HOME": str(tmp_path),
        "FAKE_PULUMI_LOG": str(tmp_path / "calls.log"),
        "FAKE_PULUMI_BACKEND": str(tmp_path / "backend"),
        **env,
    }
    return subprocess.run(["/bin/bash", str(REPO / "tools" / "pulumi.sh"), *args], env=environment,
                          capture_output=True, text=True, check=False)


def _calls(tmp_path: Path) -> list[str]:
    return (tmp_path / "calls.log").read_text().splitlines()


def test_missing_pulumi_cli_stops_with_install_instructions(tmp_path):
    if any(Path(d, "pulumi").exists() for d in ("/usr/bin", "/bin")):
        pytest.fail("a real pulumi in /usr/bin would hide what this test checks")
    result = _run(tmp_path, "up", "local", pulumi=False)
    assert result.returncode == 1
    assert "error: the Pulumi CLI is not installed" in result.stderr
    assert "curl -fsSL https://get.pulumi.com | sh" in result.stderr


def test_up_local_logs_in_to_a_file_backend_and_creates_the_stack(tmp_path):
    result = _run(tmp_path, "up", "local", "--yes")
    assert result.returncode == 0, result.stderr
    calls = _calls(tmp_path)
    assert f"login --non-interactive file://{REPO}/.pulumi-state passphrase=unset" in calls
    assert "stack select --create --non-interactive local passphrase=" in calls
    assert calls[-1] == "up --stack local --yes passphrase="


def test_an_existing_login_is_kept(tmp_path):
    (tmp_path / "backend").write_text("https://api.pulumi.com\n")
    result = _run(tmp_path, "preview", "example-gke", "--diff")
    assert result.returncode == 0, result.stderr
    calls = _calls(tmp_path)
    assert not any(call.startswith("login") for call in calls)
    assert calls[-1] == "preview --stack example-gke --diff passphrase=unset"


def test_other_stacks_on_a_file_backend_need_a_passphrase(tmp_path):
    result = _run(tmp_path, "up", "production")
    assert result.returncode == 1
    assert "set PULUMI_CONFIG_PASSPHRASE" in result.stderr
    assert not any(call.startswith("up") for call in _calls(tmp_path))
    result = _run(tmp_path, "up", "production", PULUMI_CONFIG_PASSPHRASE="correct horse")
    assert result.returncode == 0
    assert _calls(tmp_path)[-1] == "up --stack production passphrase=correct horse"


def test_usage_error(tmp_path):
    result = _run(tmp_path, "destroy", "local")
    assert result.returncode == 2
    assert "usage:" in result.stderr
