"""`make test-live STACK=...` (tools/live_test.py): the stack's URLs from its outputs, the test user
from the environment, the live suite run with both; every mistake stops with one message."""

from __future__ import annotations

import subprocess

import pytest

from components.errors import OperatorError
from tools import live_test

OUTPUTS = {"hubUrl": "https://hub.example.org/", "binderUrl": "https://binder.example.org/",
           "kubeconfig": "[secret]"}


def _pulumi(returncode: int = 0, stdout: str = "", stderr: str = ""):
    calls = []

    def run(command, **kwargs):
        calls.append(command)
        return subprocess.CompletedProcess(command, returncode, stdout, stderr)

    return run, calls


def test_the_outputs_are_read_through_the_pulumi_wrapper():
    run, calls = _pulumi(stdout='{"hubUrl": "https://hub.example.org/"}')
    assert live_test.stack_outputs("production", run) == {"hubUrl": "https://hub.example.org/"}
    assert calls == [[str(live_test.REPO / "tools" / "pulumi.sh"), "output", "production", "--json"]]


@pytest.mark.parametrize(("answer", "message"), [
    ({"returncode": 1, "stderr": "error: no stack named 'staging' found"}, "no stack named 'staging'"),
    ({"stdout": "Current stack outputs (2):"}, "are not JSON"),
])
def test_unreadable_outputs_are_one_message(answer, message):
    run, _ = _pulumi(**answer)
    with pytest.raises(OperatorError, match=message):
        live_test.stack_outputs("staging", run)


def test_a_hostile_stack_name_runs_nothing():
    run, calls = _pulumi()
    with pytest.raises(OperatorError, match="not a valid stack name"):
        live_test.stack_outputs("../secrets", run)
    assert calls == []


def test_local_signs_in_its_own_test_user_through_the_dummy_login():
    env = live_test.live_environment("local", {"hubUrl": "http://hub.127.0.0.1.nip.io/",
                                               "binderUrl": "http://binder.127.0.0.1.nip.io/"}, {"HOME": "/root"})
    assert env == {"HOME": "/root", "PBH_LIVE_HUB_URL": "http://hub.127.0.0.1.nip.io/",
                   "PBH_LIVE_BINDER_URL": "http://binder.127.0.0.1.nip.io/",
                   "PBH_LIVE_USER": "live-test", "PBH_LIVE_PASSWORD": "live-test"}


@pytest.mark.parametrize("credentials", [{"PBH_LIVE_TOKEN": "t0ken"},
                                         {"PBH_LIVE_USER": "ci-bot", "PBH_LIVE_PASSWORD": "pw"}])
def test_the_operators_test_user_is_kept(credentials):
    env = live_test.live_environment("production", OUTPUTS, credentials)
    assert env == {**credentials, "PBH_LIVE_HUB_URL": OUTPUTS["hubUrl"], "PBH_LIVE_BINDER_URL": OUTPUTS["binderUrl"]}


def test_a_real_stack_without_a_test_user_says_where_to_get_a_token():
    with pytest.raises(OperatorError, match=r"PBH_LIVE_TOKEN .* \(from https://hub.example.org/hub/token\)"):
        live_test.live_environment("production", OUTPUTS, {})


def test_a_stack_not_deployed_yet_says_so():
    with pytest.raises(OperatorError, match=r"stack staging has no hubUrl or binderUrl output: deploy it first "
                                            r"\(make up STACK=staging\)"):
        live_test.live_environment("staging", {}, {"PBH_LIVE_TOKEN": "t0ken"})


def test_main_runs_the_live_suite_with_the_stacks_environment(monkeypatch, capsys):
    monkeypatch.setattr(live_test, "stack_outputs", lambda stack: OUTPUTS)
    monkeypatch.setenv("PBH_LIVE_TOKEN", "t0ken")
    runs = []
    monkeypatch.setattr(live_test.subprocess, "run", lambda command, **kwargs: runs.append((command, kwargs))
                        or subprocess.CompletedProcess(command, 3))
    assert live_test.main(["production", "-x"]) == 3  # the suite's own exit code
    (command, kwargs), = runs
    assert command[1:] == ["-m", "pytest", "tests/live", "-x"]
    assert kwargs["env"]["PBH_LIVE_HUB_URL"] == OUTPUTS["hubUrl"]
    assert kwargs["cwd"] == live_test.REPO


def test_main_stops_on_a_mistake_without_a_traceback(monkeypatch, capsys):
    monkeypatch.delenv("PBH_LIVE_TOKEN", raising=False)
    monkeypatch.delenv("PBH_LIVE_USER", raising=False)
    monkeypatch.setattr(live_test, "stack_outputs", lambda stack: OUTPUTS)
    assert live_test.main(["production"]) == 2
    assert capsys.readouterr().err.startswith("error: the live suite signs in as a test user of its own")
