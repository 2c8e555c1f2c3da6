"""Offline render and diff: what the program registers, deterministic and without plain secrets."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from components.secrets import decrypt_secrets
from tests.program.conftest import EXAMPLE_STACKS
from tools import render
from tools.offline import MASKED, REPO, RecordingMonitor, run_program

PASSWORD = "random:index/randomPassword:RandomPassword"
GENERATED = ("proxy-secret-token", "hub-cookie-secret", "hub-crypt-keeper-key", "binder-api-token")


def _files(directory: Path) -> dict[str, bytes]:
    return {str(p.relative_to(directory)): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("stack", EXAMPLE_STACKS)
def test_generated_chart_secrets_are_stable_random_hex(offline, stack):
    run = offline(stack)
    component = run.named("persistent-binderhub:secrets:GeneratedSecrets", "chart-secrets")
    for name in GENERATED:
        password = run.named(PASSWORD, name)
        assert password.parent == component.urn
        # 64 characters of digits + "abcdef": 32 random bytes in hex, as z2jh expects.
        assert password.inputs == {"length": 64, "lower": False, "upper": False, "numeric": True,
                                   "special": True, "overrideSpecial": "abcdef"}
        assert "result" in password.options["additionalSecretOutputs"]  # encrypted in state


@pytest.mark.parametrize("stack", EXAMPLE_STACKS)
def test_render_is_deterministic(tmp_path, stack):
    render.render(stack, tmp_path / "first")
    render.render(stack, tmp_path / "second")
    # A separate process (as operators and CI run it) writes the very same bytes.
    subprocess.run([sys.executable, "-m", "tools.render", stack, "--out", str(tmp_path / "cli")],
                   cwd=REPO, check=True, capture_output=True)
    first = _files(tmp_path / "first")
    assert "resources.json" in first
    assert first == _files(tmp_path / "second") == _files(tmp_path / "cli")


@pytest.mark.parametrize("stack", EXAMPLE_STACKS)
def test_no_secret_value_appears_in_a_render(tmp_path, stack):
    monitor = RecordingMonitor()
    render.write_render(run_program(stack, monitor=monitor), tmp_path)
    rendered = b"".join(_files(tmp_path).values()).decode()
    secrets = list(decrypt_secrets(stack, REPO).values())
    # The values the mocks made up for the generated chart secrets must not leak either.
    secrets += [r.state["result"] for r in monitor.resources.values() if "result" in r.state]
    assert len(secrets) >= len(GENERATED)
    for value in secrets:
        assert value not in rendered
    document = json.loads((tmp_path / "resources.json").read_text())
    assert document["outputs"]["hubUrl"].endswith("/")


CHART_PROGRAM = """
import pulumi
from pulumi_kubernetes.helm.v4 import Chart

token = pulumi.Output.secret("very-secret-token-value")
Chart("hub", name="jupyterhub", chart="jupyterhub", version="4.4.0",
      values={"proxy": {"secretToken": token, "service": {"type": "ClusterIP"}}, "debug": {"enabled": False}})
pulumi.export("token", token)
"""


def test_chart_values_are_written_with_secrets_masked(tmp_path):
    program = tmp_path / "program.py"
    program.write_text(CHART_PROGRAM)
    out = tmp_path / "render"
    render.write_render(run_program("local", program=program), out)
    values = yaml.safe_load((out / "values" / "jupyterhub.yaml").read_text())
    assert values == {"proxy": {"secretToken": MASKED, "service": {"type": "ClusterIP"}}, "debug": {"enabled": False}}
    document = json.loads((out / "resources.json").read_text())
    assert document["outputs"] == {"token": MASKED}
    assert "very-secret-token-value" not in "".join(p.read_text() for p in out.rglob("*") if p.is_file())


def _edit_render(directory: Path, edit) -> None:
    path = directory / "resources.json"
    document = json.loads(path.read_text())
    edit(document)
    path.write_text(json.dumps(document))


def test_diff_of_identical_renders_exits_0(tmp_path, capsys):
    render.render("example-gke", tmp_path / "a")
    render.render("example-gke", tmp_path / "b")
    assert render.main(["--diff", str(tmp_path / "a"), str(tmp_path / "b")]) == 0
    assert capsys.readouterr().out.strip() == "no differences"


def test_diff_shows_added_removed_and_changed_paths(tmp_path, capsys):
    render.render("example-gke", tmp_path / "a")
    render.render("example-gke", tmp_path / "b")

    def edit(document):
        resources = {r["name"]: r for r in document["resources"]}
        resources["hub-cookie-secret"]["inputs"]["length"] = 32
        resources["proxy-secret-token"]["options"]["protect"] = True
        document["resources"].remove(resources["binder-api-token"])
        added = json.loads(json.dumps(resources["hub-crypt-keeper-key"]))
        added["urn"] = added["urn"].replace("hub-crypt-keeper-key", "extra-key")
        added["name"] = "extra-key"
        document["resources"].append(added)
        document["outputs"]["hubUrl"] = "https://elsewhere.example.org/"

    _edit_render(tmp_path / "b", edit)
    assert render.main(["--diff", str(tmp_path / "a"), str(tmp_path / "b")]) == 1
    out = capsys.readouterr().out.splitlines()
    assert f"- {PASSWORD}  binder-api-token" in out
    assert f"+ {PASSWORD}  extra-key" in out
    changed = out.index(f"~ {PASSWORD}  hub-cookie-secret")
    assert out[changed + 1] == "    inputs.length: 64 -> 32"
    assert "    options.protect: false -> true" in out
    assert "~ stack outputs" in out


def test_diff_of_a_directory_that_is_not_a_render_exits_2(tmp_path, capsys):
    (tmp_path / "a").mkdir()
    assert render.main(["--diff", str(tmp_path / "a"), str(tmp_path / "a")]) == 2
    assert "resources.json: not found" in capsys.readouterr().err


ALIAS_BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n" + "".join(
    f"{chr(99 + i)}: &{chr(99 + i)} [{', '.join([f'*{chr(98 + i)}'] * 9)}]\n" for i in range(8))


@pytest.mark.parametrize(("break_project", "expected"), [
    (lambda p: p.stack_path("example-gke").write_text("config: [unclosed\n"),
     "error: stacks/Pulumi.example-gke.yaml: is not valid YAML at line 2, column 1"),
    (lambda p: p.secrets_path("example-gke").write_text("oauth_client_secret: hunter2\n"),
     "error: secrets/example-gke.sops.yaml: is not SOPS-encrypted"),
    (lambda p: p.stack_path("example-gke").unlink(),
     "error: stacks/Pulumi.example-gke.yaml: not found"),
    # a billion laughs: refused before anything expands it (it would grow to gigabytes)
    (lambda p: p.stack_path("example-gke").write_text(ALIAS_BOMB),
     "error: stacks/Pulumi.example-gke.yaml: is not valid YAML at line 2, column 8: uses the alias *a"),
    (lambda p: p.secrets_path("example-gke").write_text(ALIAS_BOMB),
     "error: secrets/example-gke.sops.yaml: is not valid YAML at line 2, column 8: uses the alias *a"),
    (lambda p: p.stack_path("example-gke").write_bytes(p.stack_path("example-gke").read_bytes() + b"# caf\xe9\n"),
     "error: stacks/Pulumi.example-gke.yaml: is not UTF-8 text"),
    (lambda p: p.secrets_path("example-gke").write_bytes(b"\xff\xfe" + p.secrets_path("example-gke").read_bytes()),
     "error: secrets/example-gke.sops.yaml: is not UTF-8 text (line 1"),
    (lambda p: p.stack_path("example-gke").write_text("base: &b {x: 1}\nconfig:\n  <<: {a: 1}\n"),
     "error: stacks/Pulumi.example-gke.yaml: is not valid YAML at line 3, column 3: uses a merge key (<<)"),
])
def test_render_cli_reports_bad_input_with_exit_2_and_no_traceback(project, break_project, expected):
    break_project(project)
    out = project.root / "render"
    result = subprocess.run([sys.executable, "-m", "tools.render", "example-gke", "--out", str(out),
                             "--project-dir", str(project.root)], cwd=REPO, capture_output=True, text=True, check=False)
    assert result.returncode == 2
    assert result.stderr.startswith(expected)
    assert "Traceback" not in result.stderr
    assert "hunter2" not in result.stderr
    assert not out.exists()  # nothing written


def test_bench_keeps_every_example_stack_within_1_3x_of_its_floor(capsys):
    """A stack's floor: its provider modules imported and one provider each (tools/bench.py)."""
    from tools import bench

    ratios = bench.measure(repeat=2)  # the best of two: one slow start is noise, not a regression
    assert set(ratios) == set(EXAMPLE_STACKS)
    for stack, ratio in ratios.items():
        assert ratio <= 1.3, f"{stack} renders in {ratio:.2f}x its floor"
    out = capsys.readouterr().out
    assert "minimal program" in out
    assert "x its floor" in out


EVERY_SECRET_PROGRAM = """
from pathlib import Path

import pulumi
from pulumi_kubernetes.core.v1 import Secret
from pulumi_kubernetes.helm.v4 import Chart

from components.secrets import SECRETS, load_secrets
from components.settings import load_settings

secrets = load_secrets(load_settings(), pulumi.get_stack(), Path(pulumi.get_root_directory()))
values = {key: secrets.get(key) for key in SECRETS if secrets.get(key) is not None}
Secret("every-secret", string_data=values)
Chart("every-secret", chart="example", values={"nested": {"deeper": values}, "list": list(values.values())})
pulumi.export("secrets", values)
"""


@pytest.mark.parametrize("stack", EXAMPLE_STACKS)
def test_every_sops_secret_is_masked_wherever_it_is_used(tmp_path, stack):
    program = tmp_path / "program.py"
    program.write_text(EVERY_SECRET_PROGRAM)
    out = tmp_path / "render"
    render.write_render(run_program(stack, program=program), out)
    rendered = "".join(p.read_text() for p in out.rglob("*") if p.is_file())
    secrets = decrypt_secrets(stack, REPO)
    for value in secrets.values():
        assert value not in rendered
    values = yaml.safe_load((out / "values" / "every-secret.yaml").read_text())
    assert values["nested"]["deeper"] == dict.fromkeys(secrets, MASKED)
    assert values["list"] == [MASKED] * len(secrets)


def test_render_into_a_path_that_is_a_file_exits_2(tmp_path, capsys):
    (tmp_path / "taken").write_text("")
    assert render.main(["local", "--out", str(tmp_path / "taken")]) == 2
    assert f"error: {tmp_path / 'taken'}: exists and is not a directory" in capsys.readouterr().err


def _tree(directory: Path) -> dict[str, bytes]:
    return {str(p.relative_to(directory)): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("place", ["a folder of other files", "the project folder", "stacks"])
def test_a_render_never_writes_into_a_directory_that_is_not_one(project, capsys, place):
    out = {"a folder of other files": project.root / "notes", "the project folder": project.root,
           "stacks": project.root / "stacks"}[place]
    out.mkdir(exist_ok=True)
    (out / "values").mkdir(exist_ok=True)
    (out / "values" / "mine.yaml").write_text("kept: true\n")
    before = _tree(project.root)
    assert render.main(["local", "--out", str(out), "--project-dir", str(project.root)]) == 2
    assert f"error: {out}: is not empty and not a render" in capsys.readouterr().err
    assert _tree(project.root) == before


def test_a_render_replaces_an_earlier_render_whole_and_a_failed_one_leaves_it(project, tmp_path):
    out = tmp_path / "render"
    render.render("local", out, project.root)
    (out / "values" / "retired-release.yaml").write_text("{}\n")  # a release a later commit removed
    render.render("local", out, project.root)
    assert not (out / "values" / "retired-release.yaml").exists()  # the render is replaced whole
    first = _tree(out)
    project.stack_path("local").write_text("config: [broken\n")
    assert render.main(["local", "--out", str(out), "--project-dir", str(project.root)]) == 2
    assert _tree(out) == first  # the failed render left the previous one as it was
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".render")] == []  # no staging left behind


def test_a_diff_of_a_directory_whose_resources_json_is_a_folder_exits_2(tmp_path, capsys):
    render.render("local", tmp_path / "a")
    (tmp_path / "b" / "resources.json").mkdir(parents=True)
    assert render.main(["--diff", str(tmp_path / "a"), str(tmp_path / "b")]) == 2
    assert "resources.json: is not a render written by python -m tools.render" in capsys.readouterr().err


@pytest.mark.parametrize("content", ["[]", '{"resources": [{"urn": "x"}], "outputs": {}}',
                                     '{"resources": [], "outputs": []}', "not json"])
def test_diff_of_a_malformed_render_exits_2(tmp_path, capsys, content):
    render.render("local", tmp_path / "a")
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "resources.json").write_text(content)
    assert render.main(["--diff", str(tmp_path / "a"), str(tmp_path / "b")]) == 2
    assert "is not a render written by python -m tools.render" in capsys.readouterr().err
