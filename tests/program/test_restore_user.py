"""`make restore-user` (tools/restore_user.py) against a stand-in kubectl: never while the user's
server runs, never over a volume that exists (unless beside it), and the Restore it creates."""

from __future__ import annotations

import json

import pytest

from components.errors import OperatorError
from tools import restore_user

# Logs its arguments; what exists (a running server, a claim) and the restore's phase come from $STATE.
STAND_IN = r"""#!/usr/bin/env bash
echo "kubectl $*" >> "$STATE/calls.log"
case "$*" in
  *"get pods"*) [[ -e $STATE/running ]] && echo "pod/jupyter-ada" ;;
  *"get pvc"*) [[ -e $STATE/claim ]] && echo "persistentvolumeclaim/claim-ada" ;;
  *"create -f -"*) cat > "$STATE/created.json" ;;
  *"get restore"*) cat "$STATE/phase" ;;
esac
exit 0
"""


@pytest.fixture
def kubectl(tmp_path, monkeypatch):
    bin_dir, state = tmp_path / "bin", tmp_path / "state"
    bin_dir.mkdir()
    state.mkdir()
    (bin_dir / "kubectl").write_text(STAND_IN)
    (bin_dir / "kubectl").chmod(0o755)
    (state / "phase").write_text("Completed")
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    monkeypatch.setenv("STATE", str(state))
    monkeypatch.setattr(restore_user, "POLL", 0.01)
    return state


def test_a_lost_volume_is_restored_where_it_was(kubectl):
    message = restore_user.restore_user(restore_user.Kubectl(None), "ada", "user-volumes-20261130")
    assert "back in namespace binderhub" in message
    created = json.loads((kubectl / "created.json").read_text())
    assert created["kind"] == "Restore"
    assert created["metadata"]["namespace"] == "velero"
    assert created["spec"]["backupName"] == "user-volumes-20261130"
    assert created["spec"]["labelSelector"] == {"matchLabels": {"component": "singleuser-storage",
                                                                "hub.jupyter.org/username": "ada"}}
    assert created["spec"]["existingResourcePolicy"] == "none"
    assert "namespaceMapping" not in created["spec"]


def test_never_while_the_server_runs(kubectl):
    (kubectl / "running").touch()
    with pytest.raises(OperatorError, match="ada's server is running: stop it first"):
        restore_user.restore_user(restore_user.Kubectl(None), "ada", "nightly")
    assert not (kubectl / "created.json").exists()


def test_a_volume_that_exists_is_never_replaced_only_restored_beside(kubectl):
    (kubectl / "claim").touch()
    with pytest.raises(OperatorError, match="a restore never replaces a volume"):
        restore_user.restore_user(restore_user.Kubectl(None), "ada", "nightly")
    assert not (kubectl / "created.json").exists()
    message = restore_user.restore_user(restore_user.Kubectl(None), "ada", "nightly", beside=True)
    assert "back in namespace restore-ada" in message
    assert json.loads((kubectl / "created.json").read_text())["spec"]["namespaceMapping"] == {
        "binderhub": "restore-ada"}


def test_a_failed_or_slow_restore_is_reported(kubectl):
    (kubectl / "phase").write_text("PartiallyFailed")
    with pytest.raises(OperatorError, match="ended PartiallyFailed: see velero restore describe"):
        restore_user.restore_user(restore_user.Kubectl(None), "ada", "nightly")
    (kubectl / "phase").write_text("InProgress")
    with pytest.raises(OperatorError, match="is still InProgress after 0 s"):
        restore_user.restore_user(restore_user.Kubectl(None), "ada", "nightly", timeout=0.05)


def test_a_name_that_is_no_label_is_refused_before_anything_runs(kubectl):
    with pytest.raises(OperatorError, match="is not the user's name as its labels spell it"):
        restore_user.restore_user(restore_user.Kubectl(None), "ada; rm -rf /", "nightly")
    assert not (kubectl / "calls.log").exists()


def test_main_uses_the_stacks_kubeconfig_and_reports_mistakes(kubectl, monkeypatch, capsys):
    monkeypatch.setattr(restore_user, "stack_kubeconfig", lambda stack: "apiVersion: v1\nkind: Config\n")
    assert restore_user.main(["production", "ada", "nightly"]) == 0
    assert "--kubeconfig" in (kubectl / "calls.log").read_text()
    (kubectl / "running").touch()
    assert restore_user.main(["production", "ada", "nightly"]) == 2
    assert capsys.readouterr().err.startswith("error: ada's server is running")
