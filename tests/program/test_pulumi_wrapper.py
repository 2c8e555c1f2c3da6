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
  stack) [[ $2 =~ ^(init|output|export)$ || $* == *--create* || " $FAKE_PULUMI_STACKS " == *" ${*: -1} "* ]] ;;
esac
"""
LOGGED_IN = '{"current": "https://api.pulumi.com", "accounts": {}}'
# .venv/bin/python for `-m tools.policy --config STACK`; python3 for the pack's virtualenv, whose pip logs.
FAKE_PROGRAM_PYTHON = """#!/usr/bin/env bash
echo "python $*" >> "$FAKE_PULUMI_LOG"
echo '{"ingress-has-tls-for-the-stacks-domains": {"domains": ["hub.example.org"]}}'
"""
FAKE_PYTHON3 = """#!/usr/bin/env bash
echo "python3 $*" >> "$FAKE_PULUMI_LOG"
mkdir -p "$3/bin"
printf '#!/usr/bin/env bash\\necho "pip $*" >> "$FAKE_PULUMI_LOG"\\n' > "$3/bin/pip"
chmod +x "$3/bin/pip"
"""
POLICY = "--policy-pack policies --policy-pack-config policies/.config/{}.json"


def _stand_in(path: Path, script: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(script)
    path.chmod(0o755)


def _run(tmp_path: Path, *args: str, pulumi: bool = True, logged_in: bool = False, policy_venv: bool = True,
         **env: str) -> subprocess.CompletedProcess:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    if pulumi:
        _stand_in(bin_dir / "pulumi", FAKE_PULUMI)
    _stand_in(bin_dir / "python3", FAKE_PYTHON3)
    checkout = tmp_path / "checkout"
    _stand_in(checkout / ".venv" / "bin" / "python", FAKE_PROGRAM_PYTHON)
    if not (checkout / "policies").exists():
        (checkout / "policies").mkdir()
        (checkout / "policies" / "requirements.txt").write_text("pulumi-policy==1.21.0\n")
    if policy_venv and not (checkout / "policies" / "venv" / ".ready").exists():
        (checkout / "policies" / "venv").mkdir()
        (checkout / "policies" / "venv" / ".ready").touch()
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
    assert calls[-1] == f"up --stack local {POLICY.format('local')} --yes backend={state} passphrase="


def test_an_existing_login_is_used(tmp_path):
    result = _run(tmp_path, "preview", "production", "--diff", logged_in=True)
    assert result.returncode == 0, result.stderr
    calls = _calls(tmp_path)
    assert "stack select --non-interactive production backend=unset passphrase=unset" in calls
    assert calls[-1] == (f"preview --stack production {POLICY.format('production')} --diff "
                         f"backend=unset passphrase=unset")


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


def test_destroy_unprotects_then_destroys_through_the_same_backend(tmp_path):
    result = _run(tmp_path, "destroy", "local", "--yes")
    assert result.returncode == 0, result.stderr
    assert _calls(tmp_path)[-2].startswith("state unprotect --all --yes --stack local backend=file://")
    assert _calls(tmp_path)[-1].startswith("destroy --stack local --yes backend=file://")
    assert not any("policy" in call for call in _calls(tmp_path))


def test_init_creates_a_stack_in_the_backend_make_up_uses(tmp_path):
    result = _run(tmp_path, "init", "prod", PULUMI_CONFIG_PASSPHRASE="pass")
    assert result.returncode == 0, result.stderr
    backend = f"file://{tmp_path / 'checkout'}/.pulumi-state"
    assert _calls(tmp_path)[-1] == f"stack init --non-interactive prod backend={backend} passphrase=pass"


def test_output_prints_a_deployed_stacks_outputs(tmp_path):
    result = _run(tmp_path, "output", "production", "--json", logged_in=True)
    assert result.returncode == 0, result.stderr
    assert _calls(tmp_path)[-1] == "stack output --stack production --json backend=unset passphrase=unset"


def test_up_and_preview_run_the_policy_pack_with_the_stacks_configuration(tmp_path):
    result = _run(tmp_path, "preview", "production", logged_in=True)
    assert result.returncode == 0, result.stderr
    assert "python -m tools.policy --config production" in _calls(tmp_path)
    config = tmp_path / "checkout" / "policies" / ".config" / "production.json"
    assert "hub.example.org" in config.read_text()


def test_the_policy_packs_virtualenv_is_made_once_from_its_requirements(tmp_path):
    result = _run(tmp_path, "up", "local", policy_venv=False)
    assert result.returncode == 0, result.stderr
    calls = _calls(tmp_path)
    assert "python3 -m venv policies/venv" in calls
    assert "pip install --quiet --disable-pip-version-check -r policies/requirements.txt" in calls
    assert (tmp_path / "checkout" / "policies" / "venv" / ".ready").exists()
    (tmp_path / "calls.log").unlink()
    assert _run(tmp_path, "up", "local", policy_venv=False).returncode == 0
    assert not any(call.startswith(("python3", "pip")) for call in _calls(tmp_path))


def test_policy_prepares_the_pack_for_a_workflow_that_runs_pulumi_itself(tmp_path):
    result = _run(tmp_path, "policy", "production", logged_in=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("policies/.config/production.json")
    assert (tmp_path / "checkout" / "policies" / ".config" / "production.json").exists()
    assert not any(call.startswith(("preview", "up")) for call in _calls(tmp_path))


def test_export_writes_a_stacks_state_with_its_secrets_encrypted(tmp_path):
    result = _run(tmp_path, "export", "production", "--file", "production.json", logged_in=True)
    assert result.returncode == 0, result.stderr
    assert _calls(tmp_path)[-1] == ("stack export --stack production --file production.json "
                                    "backend=unset passphrase=unset")
    assert "--show-secrets" not in _calls(tmp_path)[-1]
