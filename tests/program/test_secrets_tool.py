"""The operator command `python -m tools.secrets`, with the real sops and real age keys."""

from __future__ import annotations

import sys

import pytest
import yaml

from components.secrets import decrypt_secrets
from components.sops import public_test_key_recipient, run_sops
from tools import secrets as tool

WRITE_VALUES = """\
import sys
open(sys.argv[1], "w").write("oauth_client_secret: from-the-editor\\ngithub_api_token: ghp_from_editor\\n")
"""


@pytest.fixture
def editor(tmp_path, monkeypatch):
    """An $EDITOR that writes two secrets into whatever file sops opens."""
    script = tmp_path / "editor.py"
    script.write_text(WRITE_VALUES)
    monkeypatch.setenv("EDITOR", f"{sys.executable} {script}")


@pytest.fixture
def production(project, age_key, monkeypatch):
    """A non-example stack whose operator holds `age_key`."""
    project.copy_stack("example-gke", "production")
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(age_key.file))
    return project


def _run(project, *argv) -> int:
    return tool.main(list(argv), project_dir=project.root)


def _recipients_in_file(project, stack):
    return [r["recipient"] for r in yaml.safe_load(project.secrets_path(stack).read_text())["sops"]["age"]]


def _rules(project):
    return yaml.safe_load((project.root / ".sops.yaml").read_text())["creation_rules"]


def test_create_then_edit_then_check(production, age_key, editor, capsys):
    assert _run(production, "create", "production", "--recipient", age_key.recipient, "--no-edit") == 0
    assert _recipients_in_file(production, "production") == [age_key.recipient]
    assert any(r["age"] == [age_key.recipient] for r in _rules(production))
    # The template holds placeholders, which the program refuses.
    assert _run(production, "check", "production") == 2
    assert "still holds a placeholder (such as CHANGE-ME)" in capsys.readouterr().err
    assert _run(production, "edit", "production") == 0
    assert "holds every secret stack production needs" in capsys.readouterr().out
    assert decrypt_secrets("production", production.root) == {
        "oauth_client_secret": "from-the-editor", "github_api_token": "ghp_from_editor"}


def test_create_refuses_without_recipients_and_changes_nothing(production, capsys):
    before = (production.root / ".sops.yaml").read_text()
    assert _run(production, "create", "production", "--no-edit") == 2
    assert "pass --recipient" in capsys.readouterr().err
    assert not production.secrets_path("production").exists()
    assert (production.root / ".sops.yaml").read_text() == before


def test_create_refuses_the_test_key_for_a_real_stack(production, capsys):
    assert _run(production, "create", "production", "--recipient", public_test_key_recipient(), "--no-edit") == 2
    assert "public test-only key" in capsys.readouterr().err
    assert not production.secrets_path("production").exists()


def test_create_refuses_an_existing_file_and_a_bad_key(project, capsys):
    assert _run(project, "create", "example-gke", "--no-edit") == 2
    assert "already exists" in capsys.readouterr().err
    project.copy_stack("example-gke", "production")
    assert _run(project, "create", "production", "--recipient", "not-a-key", "--no-edit") == 2
    assert "is not an age public key" in capsys.readouterr().err


def test_add_and_remove_a_recipient(production, age_key, tmp_path, editor, capsys):
    from tests.program.conftest import AgeKey

    _run(production, "create", "production", "--recipient", age_key.recipient, "--no-edit")
    colleague = AgeKey(tmp_path)
    assert _run(production, "add-recipient", "production", colleague.recipient) == 0
    assert sorted(_recipients_in_file(production, "production")) == sorted([age_key.recipient, colleague.recipient])
    as_colleague = run_sops(["decrypt", "secrets/production.sops.yaml"], cwd=production.root,
                            age_key_file=colleague.file)
    assert as_colleague.returncode == 0

    assert _run(production, "remove-recipient", "production", colleague.recipient) == 0
    assert _recipients_in_file(production, "production") == [age_key.recipient]
    as_colleague = run_sops(["decrypt", "secrets/production.sops.yaml"], cwd=production.root,
                            age_key_file=colleague.file)
    assert as_colleague.returncode == 128

    capsys.readouterr()
    assert _run(production, "remove-recipient", "production", age_key.recipient) == 2
    assert "is the last recipient" in capsys.readouterr().err


def test_recipient_change_that_sops_cannot_apply_changes_nothing(production, age_key, tmp_path, monkeypatch, capsys):
    from tests.program.conftest import AgeKey

    _run(production, "create", "production", "--recipient", age_key.recipient, "--no-edit")
    before = ((production.root / ".sops.yaml").read_text(), production.secrets_path("production").read_text())
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(tmp_path / "missing.agekey"))  # cannot decrypt any more
    assert _run(production, "add-recipient", "production", AgeKey(tmp_path).recipient) == 2
    assert "none of your keys can decrypt it" in capsys.readouterr().err
    after = ((production.root / ".sops.yaml").read_text(), production.secrets_path("production").read_text())
    assert after == before


def test_rotate_changes_the_data_key_and_keeps_the_values(project):
    path = project.secrets_path("example-gke")
    before_text, before_values = path.read_text(), decrypt_secrets("example-gke", project.root)
    assert _run(project, "rotate", "example-gke") == 0
    assert path.read_text() != before_text
    assert decrypt_secrets("example-gke", project.root) == before_values


def test_edit_refuses_a_plain_text_file(project, editor, capsys):
    project.secrets_path("example-gke").write_text("oauth_client_secret: plain\n")
    assert _run(project, "edit", "example-gke") == 2
    assert "is not SOPS-encrypted" in capsys.readouterr().err


def test_add_recipient_with_a_broader_hand_written_rule(production, age_key, tmp_path):
    from tests.program.conftest import AgeKey

    production.encrypt_secrets("production", {"oauth_client_secret": "x"}, [age_key.recipient])
    rules = _rules(production)
    (production.root / ".sops.yaml").write_text(yaml.safe_dump({"creation_rules": [
        {"path_regex": "secrets/prod.*", "age": age_key.recipient}, *rules]}))
    colleague = AgeKey(tmp_path)
    assert _run(production, "add-recipient", "production", colleague.recipient) == 0
    assert sorted(_recipients_in_file(production, "production")) == sorted([age_key.recipient, colleague.recipient])
    first = _rules(production)[0]
    assert first["path_regex"] == r"(^|/)secrets/production\.sops\.yaml$"
    assert _rules(production)[1]["age"] == age_key.recipient  # the broad rule is left as it was


def _files(project) -> dict[str, bytes]:
    """Every file of the project with its content, to prove a command changed nothing."""
    return {str(path.relative_to(project.root)): path.read_bytes()
            for path in sorted(project.root.rglob("*")) if path.is_file()}


@pytest.mark.parametrize("checkout", ["no rule for the stack", "a rule with fewer keys than the file"])
def test_adding_a_recipient_keeps_every_recipient_the_file_has(production, age_key, tmp_path, checkout):
    """A colleague's checkout of .sops.yaml may not list everybody: the file's own recipients count."""
    from tests.program.conftest import AgeKey

    bob, carol = AgeKey(tmp_path), AgeKey(tmp_path)
    production.encrypt_secrets("production", {"oauth_client_secret": "x"}, [age_key.recipient, bob.recipient])
    rules = [] if checkout == "no rule for the stack" else [
        {"path_regex": r"(^|/)secrets/production\.sops\.yaml$", "age": [bob.recipient]}]
    (production.root / ".sops.yaml").write_text(yaml.safe_dump({"creation_rules": rules}))

    assert _run(production, "add-recipient", "production", carol.recipient) == 0

    expected = sorted([age_key.recipient, bob.recipient, carol.recipient])
    assert sorted(_recipients_in_file(production, "production")) == expected
    assert sorted(_rules(production)[0]["age"]) == expected  # .sops.yaml and the file in step
    assert decrypt_secrets("production", production.root) == {"oauth_client_secret": "x"}  # still mine


def test_removing_your_own_only_key_is_refused_and_changes_nothing(production, age_key, tmp_path, capsys):
    from tests.program.conftest import AgeKey

    bob = AgeKey(tmp_path)
    production.encrypt_secrets("production", {"oauth_client_secret": "x"}, [age_key.recipient, bob.recipient])
    before = _files(production)
    assert _run(production, "remove-recipient", "production", age_key.recipient) == 2
    assert "none of your own keys could decrypt it" in capsys.readouterr().err
    assert _files(production) == before


def test_create_makes_the_secrets_folder_it_needs(production, age_key):
    import shutil

    shutil.rmtree(production.root / "secrets")
    assert _run(production, "create", "production", "--recipient", age_key.recipient, "--no-edit") == 0
    assert _recipients_in_file(production, "production") == [age_key.recipient]
    assert not list(production.root.glob(".secrets-work-*"))  # its workspace is gone


def test_a_failed_create_leaves_sops_config_as_it_was(production, age_key, monkeypatch, capsys):
    before = _files(production)
    monkeypatch.delenv("EDITOR", raising=False)
    monkeypatch.delenv("SOPS_EDITOR", raising=False)
    assert _run(production, "create", "production", "--recipient", age_key.recipient) == 2
    assert "no editor: set EDITOR" in capsys.readouterr().err
    assert _files(production) == before


BROKEN_YAML = """\
import sys
open(sys.argv[1], "w").write("oauth_client_secret: [unclosed\\n")
"""


def test_an_edit_that_writes_invalid_yaml_stops_without_a_terminal_and_changes_nothing(project, tmp_path,
                                                                                      monkeypatch, capfd):
    script = tmp_path / "broken-editor.py"
    script.write_text(BROKEN_YAML)
    monkeypatch.setenv("EDITOR", f"{sys.executable} {script}")
    before = _files(project)
    assert _run(project, "edit", "example-gke") == 2  # pytest's stdin is no terminal: no waiting for a key
    err = capfd.readouterr().err  # sops and the editor write to the terminal's stderr
    assert "the edited file cannot be saved: it is not valid YAML (line 2)" in err
    assert "the edit did not finish" in err
    assert _files(project) == before


def test_hostile_and_mistaken_arguments_are_refused_without_echoing_key_material(production, capsys):
    secret_key = "AGE-SECRET-KEY-1QQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQ"
    before = _files(production)
    assert _run(production, "add-recipient", "production", secret_key) == 2
    err = capsys.readouterr().err
    assert "is an age secret key" in err
    assert secret_key not in err
    assert _run(production, "check", "x" * 300) == 2
    assert "a stack name has at most 100" in capsys.readouterr().err
    assert _files(production) == before


@pytest.mark.parametrize(("content", "expected"), [
    (b"creation_rules: [unclosed\n", ".sops.yaml: is not valid YAML"),
    (b"creation_rules:\n  - path_regex: \xff\n", ".sops.yaml: is not UTF-8 text (line 2"),
    (b"creation_rules: 5\n", ".sops.yaml: must hold 'creation_rules:'"),
])
def test_a_broken_sops_config_is_named_not_blamed_on_the_secrets_file(project, capsys, content, expected):
    (project.root / ".sops.yaml").write_bytes(content)
    assert _run(project, "check", "example-gke") == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {expected}")
    assert "secrets/example-gke.sops.yaml" not in err


def test_a_secrets_file_that_is_a_link_is_refused(project, tmp_path, capsys):
    outside = tmp_path / "elsewhere.sops.yaml"
    path = project.secrets_path("example-gke")
    outside.write_bytes(path.read_bytes())
    path.unlink()
    path.symlink_to(outside)
    assert _run(project, "rotate", "example-gke") == 2
    assert "secrets/example-gke.sops.yaml: is a symbolic link" in capsys.readouterr().err
    assert outside.read_bytes() == project.secrets_path("example-gke").read_bytes()
