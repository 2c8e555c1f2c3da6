"""What the pull-request, deploy and drift workflows run: the affected stacks, the keyless render,
the Markdown diff, the report comment and the drift issue (against a stand-in of GitHub's API)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from components import secrets
from components.errors import OperatorError
from tests.program.conftest import EXAMPLE_STACKS
from tests.program.github_stand_in import REPOSITORY, TOKEN, StandInGitHub
from tools import affected, drift_issue, pr_comment
from tools.github import GitHub
from tools.offline import REPO
from tools.render import main as render_main
from tools.render import markdown_diff, render

# --- which stacks a change touches -----------------------------------------------------------------


@pytest.mark.parametrize(("files", "stacks"), [
    (["stacks/Pulumi.example-gke.yaml"], ["example-gke"]),
    (["secrets/local.sops.yaml"], ["local"]),
    (["components/platforms/magnum.py"], ["example-magnum"]),
    (["components/platforms/kubeadm/lib.sh"], ["example-kubeadm"]),
    (["components/platforms/existing.py", "stacks/Pulumi.example-gke.yaml"], ["example-gke", "local"]),
    (["components/jupyterhub.py"], sorted(EXAMPLE_STACKS)),
    (["hub/persistent_binderhub/spawner.py"], sorted(EXAMPLE_STACKS)),
    (["requirements.txt"], sorted(EXAMPLE_STACKS)),
    (["policies/rules/data.py"], sorted(EXAMPLE_STACKS)),
    (["README.md", "docs/architecture.md", "hub/README.md"], []),
    (["tests/hub/kubelet.py", ".github/workflows/e2e.yml", "renovate.json"], []),
    (["stacks/Pulumi.gone.yaml"], []),  # a deleted stack: nothing to render or deploy
])
def test_a_change_touches_the_stacks_it_can_change(files, stacks):
    assert affected.affected_stacks(files) == stacks


def test_ci_deploys_staging_first_and_never_the_example_or_local_stacks(tmp_path, capsys):
    assert affected.deploy_plan(["example-gke", "local", "lab", "lab-staging", "staging", "prod"]) == {
        "staging": ["lab-staging", "staging"], "production": ["lab", "prod"]}
    assert affected.main(["--deploy", "--all"]) == 0
    assert json.loads(capsys.readouterr().out) == {"staging": [], "production": []}  # only examples here


def test_affected_reads_the_changes_from_git(tmp_path, capsys):
    project = tmp_path / "project"
    shutil.copytree(REPO / "stacks", project / "stacks")

    def git(*args: str) -> None:
        command = [shutil.which("git") or "git", "-c", "user.name=t", "-c", "user.email=t@example.org", *args]
        subprocess.run(command, cwd=project, check=True, capture_output=True)

    git("init", "-q", "-b", "main")
    git("add", ".")
    git("commit", "-q", "-m", "base")
    stack_file = project / "stacks" / "Pulumi.example-magnum.yaml"
    stack_file.write_text(stack_file.read_text() + "# a comment\n")
    git("commit", "-q", "-am", "change")
    assert affected.main(["--base", "HEAD~1", "--project-dir", str(project)]) == 0
    assert capsys.readouterr().out == "example-magnum\n"
    assert affected.main(["--base", "no-such-ref", "--project-dir", str(project)]) == 2
    assert "git cannot compare with no-such-ref" in capsys.readouterr().err


# --- the render without the decryption key -------------------------------------------------------


@pytest.fixture
def renders(example_renders) -> dict[str, Path]:
    return example_renders


def _files(directory: Path) -> dict[str, bytes]:
    return {str(p.relative_to(directory)): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("stack", EXAMPLE_STACKS)
def test_the_keyless_render_equals_the_real_one(renders, tmp_path, monkeypatch, stack):
    def no_key(*args, **kwargs):
        raise AssertionError("the keyless render decrypted the secrets")

    monkeypatch.setattr(secrets, "run_sops", no_key)
    render(stack, tmp_path / "keyless", without_secrets=True)
    assert _files(tmp_path / "keyless") == _files(renders[stack])
    assert secrets.WITHOUT_SECRETS not in os.environ  # set for the run only


def _project_with(tmp_path: Path, stack: str, secrets_text: str) -> Path:
    for folder in ("stacks", "secrets"):
        shutil.copytree(REPO / folder, tmp_path / folder)
    (tmp_path / "secrets" / f"{stack}.sops.yaml").write_text(secrets_text)
    return tmp_path


def test_the_keyless_render_still_checks_the_secrets_file(tmp_path):
    original = (REPO / "secrets" / "example-magnum.sops.yaml").read_text()
    without_key = "\n".join(line for line in original.splitlines()
                            if not line.startswith("harbor_admin_password:")) + "\n"
    project = _project_with(tmp_path / "missing", "example-magnum", without_key)
    with pytest.raises(OperatorError, match="'harbor_admin_password' is missing"):
        render("example-magnum", tmp_path / "out", project, without_secrets=True)
    project = _project_with(tmp_path / "plain", "local", "oauth_client_secret: hunter2\n")
    with pytest.raises(OperatorError, match="is not SOPS-encrypted") as refused:
        render("local", tmp_path / "out2", project, without_secrets=True)
    assert "hunter2" not in str(refused.value)
    assert not (tmp_path / "out").exists()


def test_without_secrets_is_refused_outside_the_offline_render(monkeypatch):
    monkeypatch.setenv(secrets.WITHOUT_SECRETS, "1")
    monkeypatch.setattr(secrets, "get_monitor", object)  # a real engine's monitor
    with pytest.raises(OperatorError, match="is for offline renders only"):
        secrets.load_secrets(None, "local", REPO)


# --- the Markdown diff and the report comment -----------------------------------------------------


def _changed_copy(renders: dict[str, Path], tmp_path: Path) -> Path:
    changed = tmp_path / "head"
    shutil.copytree(renders["example-gke"], changed)
    document = json.loads((changed / "resources.json").read_text())
    for resource in document["resources"]:
        if resource["inputs"].get("chart") == "jupyterhub":
            resource["inputs"]["values"]["cull"]["users"] = True
            resource["inputs"]["values"]["hub"]["config"]["Authenticator"]["admin_users"] = [
                "<img src=x onerror=alert(1)> @octocat [x](https://evil.example)"]
    document["resources"] = [r for r in document["resources"] if r["name"] != "letsencrypt-staging"]
    (changed / "resources.json").write_text(json.dumps(document))
    return changed


def test_the_markdown_diff_shows_changes_and_policy_results_inertly(renders, tmp_path, capsys):
    head = _changed_copy(renders, tmp_path)
    assert render_main(["--diff", str(renders["example-gke"]), str(head), "--markdown"]) == 0
    section = capsys.readouterr().out
    assert section.startswith("### Stack <code>example-gke</code>\n\n0 added, 1 removed, 1 changed\n")
    assert "<code>inputs.values.cull.users</code>: <code>false</code> → <code>true</code>" in section
    assert "- - <code>kubernetes&#58;cert-manager.io/v1&#58;ClusterIssuer  letsencrypt-staging</code>" in section
    assert "Policy: 1 mandatory violation(s), 0 advisory" in section
    assert "❌ <code>hub-keeps-users-and-volumes</code>" in section
    for active in ("<img", "@octocat", "[x]", "(https"):
        assert active not in section
    same = markdown_diff(renders["example-gke"], renders["example-gke"])
    assert "No changes." in same
    assert "Policy: every rule passes." in same


def test_a_long_report_keeps_each_stacks_summary_and_links_the_full_diff(renders, tmp_path):
    head = _changed_copy(renders, tmp_path)
    section = markdown_diff(renders["example-gke"], head)
    whole = pr_comment.assemble([section, section])
    assert whole.startswith(pr_comment.MARKER)
    assert whole.count("<details>") == 2
    short = pr_comment.assemble([section] * 3, "https://github.com/o/r/actions/runs/1", limit=len(section) * 2)
    assert len(short) <= len(section) * 2
    assert "<details>" not in short
    assert short.count("Policy: 1 mandatory violation(s)") == 3
    assert "[the full diff](https://github.com/o/r/actions/runs/1)" in short
    huge = pr_comment.assemble(["x" * 100_000])
    assert len(huge) <= pr_comment.COMMENT_LIMIT
    assert "(cut short)" in huge


@pytest.fixture
def github(monkeypatch):
    with StandInGitHub() as stand_in:
        monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
        monkeypatch.setenv("GITHUB_API_URL", stand_in.url)
        yield stand_in


def test_the_report_is_one_comment_that_later_pushes_update(github, tmp_path):
    github.add_issue("A pull request", [], head="c0ffee")
    for index in range(150):  # the report's comment is not on the first page
        github.add_comment(1, f"a review comment {index}")
    report = tmp_path / "report.md"
    report.write_text(pr_comment.assemble(["### Stack <code>local</code>\n\nNo changes.\n"]))
    args = ["post", str(report), "--repository", REPOSITORY, "--pull-request", "1", "--head-sha", "c0ffee"]
    assert pr_comment.main(args) == 0
    report.write_text(pr_comment.assemble(["### Stack <code>local</code>\n\n1 added, 0 removed, 0 changed\n"]))
    assert pr_comment.main(args) == 0
    ours = [c for c in github.comments_of(1) if c["body"].startswith(pr_comment.MARKER)]
    assert len(ours) == 1
    assert "1 added" in ours[0]["body"]
    assert len(github.comments_of(1)) == 151
    assert pr_comment.main([*args[:-1], "dead"]) == 2  # a report of another commit: not posted
    assert "1 added" in ours[0]["body"]


def test_a_wrong_token_or_a_foreign_api_is_one_message_without_the_token(github, tmp_path, capsys, monkeypatch):
    report = tmp_path / "report.md"
    report.write_text(pr_comment.assemble([]))
    monkeypatch.setenv("GITHUB_TOKEN", "ghs_wrong")
    assert pr_comment.main(["post", str(report), "--repository", REPOSITORY, "--pull-request", "1",
                            "--head-sha", "c0ffee"]) == 2
    error = capsys.readouterr().err
    assert "HTTP 401" in error
    assert "ghs_wrong" not in error
    with pytest.raises(OperatorError, match="neither https nor a stand-in"):
        GitHub(REPOSITORY, "t", "http://evil.example.com")
    report.write_text("not a report")
    assert pr_comment.main(["post", str(report), "--repository", REPOSITORY, "--pull-request", "1",
                            "--head-sha", "c0ffee"]) == 2


# --- drift: one issue per stack ------------------------------------------------------------------------


def test_drift_opens_one_issue_per_stack_updates_it_and_closes_it(github, tmp_path):
    preview = tmp_path / "preview.txt"
    preview.write_text("~ gcp:container/nodePool:NodePool cluster-user\n    autoscaling.maxNodeCount: 10 => 12\n")
    args = ["--repository", REPOSITORY, "--stack", "example-gke", "--run-url", "https://example.org/run/1"]
    assert drift_issue.main([*args, "--diff", str(preview)]) == 0
    (issue,) = github.issues.values()
    assert issue["title"] == "Drift: stack example-gke"
    assert [label["name"] for label in issue["labels"]] == ["drift"]
    assert "maxNodeCount: 10 => 12" in issue["body"]
    preview.write_text("~ gcp:container/nodePool:NodePool cluster-user\n    autoscaling.maxNodeCount: 10 => 14\n")
    assert drift_issue.main([*args, "--diff", str(preview)]) == 0
    assert len(github.issues) == 1
    assert "10 => 14" in issue["body"]
    assert drift_issue.main([*args, "--no-drift"]) == 0
    assert issue["state"] == "closed"
    assert "No drift any more" in github.comments_of(issue["number"])[0]["body"]
    assert drift_issue.main([*args, "--no-drift"]) == 0  # nothing open: nothing to do
    assert len(github.issues) == 1


def test_a_diff_with_backticks_stays_in_its_code_block():
    body = drift_issue.body_of("local", "a ``` fence\n", None)
    assert "\n````text\na ``` fence\n" in body
    assert body.endswith("\n````\n")


# --- the whole fork-safe check, as the workflow runs it ---------------------------------------------


def test_the_pull_request_check_reports_the_touched_stacks_diff_and_policy(tmp_path):
    checkout = tmp_path / "checkout"
    shutil.copytree(REPO, checkout, ignore=shutil.ignore_patterns(
        ".git", ".venv*", "node_modules", ".chart-cache", ".tools", ".pulumi-state", "render", "__pycache__",
        ".pytest_cache", ".ruff_cache", ".hypothesis", "venv", "pr-diff"))

    def git(*args: str) -> str:
        command = [shutil.which("git") or "git", "-c", "user.name=t", "-c", "user.email=t@example.org", *args]
        return subprocess.run(command, cwd=checkout, check=True, capture_output=True, text=True).stdout.strip()

    git("init", "-q", "-b", "main")
    git("add", "-A")
    git("commit", "-q", "-m", "base")
    base = git("rev-parse", "HEAD")
    stack_file = checkout / "stacks" / "Pulumi.example-magnum.yaml"
    stack_file.write_text(stack_file.read_text().replace("projectsLimit: 3", "projectsLimit: 4"))
    git("commit", "-q", "-am", "four projects")
    done = subprocess.run(["/bin/bash", str(checkout / "tools" / "pr-diff.sh"), base, "42", "https://example.org/run"],
                          cwd=checkout, env={**os.environ, "PYTHON": sys.executable}, capture_output=True, text=True,
                          check=False)
    assert done.returncode == 0, done.stderr
    report = (checkout / "pr-diff" / "report.md").read_text()
    assert report.startswith(pr_comment.MARKER)
    assert "### Stack <code>example-magnum</code>\n\n0 added, 0 removed, 1 changed" in report
    assert "projects&#95;limit</code>: <code>3</code> → <code>4</code>" in report
    assert "Policy: every rule passes." in report
    assert "example-gke" not in report
    assert (checkout / "pr-diff" / "pull-request").read_text() == "42\n"
    assert "projects_limit: 3 -> 4" in (checkout / "pr-diff" / "full" / "example-magnum.diff").read_text()
    assert git("worktree", "list").count("\n") == 0  # the base's worktree is gone


STAND_IN_PULUMI_SH = """#!/usr/bin/env bash
echo "pulumi.sh $*" >> "$CALLS"
case $FAKE_PREVIEW in
  clean) echo "Resources: 40 unchanged" ;;
  drift) echo "~ gcp:container/nodePool:NodePool cluster-user"
         echo "error: no changes were expected but changes were proposed"; exit 255 ;;
  broken) echo "error: could not read the stack's state"; exit 255 ;;
esac
"""


@pytest.mark.parametrize(("preview", "code", "issue_state"), [
    ("drift", 1, "open"), ("clean", 0, None), ("broken", 1, None)])
def test_the_nightly_check_turns_the_preview_into_the_drift_issue(github, tmp_path, preview, code, issue_state):
    checkout = tmp_path / "checkout"
    (checkout / "tools").mkdir(parents=True)
    shutil.copy(REPO / "tools" / "drift-check.sh", checkout / "tools")
    (checkout / "tools" / "pulumi.sh").write_text(STAND_IN_PULUMI_SH)
    (checkout / "tools" / "pulumi.sh").chmod(0o755)
    env = {**os.environ, "PYTHON": sys.executable, "PYTHONPATH": str(REPO), "FAKE_PREVIEW": preview,
           "CALLS": str(tmp_path / "calls")}
    done = subprocess.run(["/bin/bash", str(checkout / "tools" / "drift-check.sh"), "prod", REPOSITORY,
                           "https://example.org/run/7"], env=env, capture_output=True, text=True, check=False)
    assert done.returncode == code, done.stderr
    assert (tmp_path / "calls").read_text() == ("pulumi.sh preview prod --refresh --expect-no-changes --diff "
                                                "--non-interactive\n")
    states = [issue["state"] for issue in github.issues.values()]
    assert states == ([issue_state] if issue_state else [])
    if preview == "broken":
        assert "failed (not drift)" in done.stderr
