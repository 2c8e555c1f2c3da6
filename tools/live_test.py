"""`make test-live STACK=...`: the live suite (tests/live) against a deployed stack.

The stack's public URLs come from its outputs (`hubUrl`, `binderUrl`, read through
tools/pulumi.sh, which finds its state backend as `make up` does); the test user from the
environment: PBH_LIVE_TOKEN (an API token from the hub's Token page, for stacks that sign
in through GitHub or OpenID Connect), or PBH_LIVE_USER and PBH_LIVE_PASSWORD (a login
form). On `local`, whose dummy authenticator signs in any name, the user defaults to
`live-test`. The test user must be one of the suite's own (see tests/live/test_stack.py).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Mapping

from components.errors import OperatorError
from tools.cli import run
from tools.offline import REPO
from tools.stackfile import check_stack_name

LOCAL_TEST_USER = "live-test"


def stack_outputs(stack: str, run: Callable[..., subprocess.CompletedProcess] = subprocess.run) -> dict:
    """The stack's outputs, as `pulumi stack output --json` prints them (secrets stay hidden)."""
    done = run([str(REPO / "tools" / "pulumi.sh"), "output", check_stack_name(stack), "--json"],
               capture_output=True, text=True, check=False)
    if done.returncode:
        raise OperatorError(f"cannot read the outputs of stack {stack}: {done.stderr.strip() or done.stdout.strip()}")
    try:
        outputs = json.loads(done.stdout)
    except json.JSONDecodeError:
        raise OperatorError(f"the outputs of stack {stack} are not JSON: {done.stdout[:200]!r}") from None
    return outputs if isinstance(outputs, dict) else {}


def live_environment(stack: str, outputs: Mapping, environ: Mapping[str, str]) -> dict[str, str]:
    """The environment tests/live/conftest.py reads, for STACK."""
    missing = [name for name in ("hubUrl", "binderUrl") if not isinstance(outputs.get(name), str)]
    if missing:
        raise OperatorError(f"stack {stack} has no {' or '.join(missing)} output: deploy it first "
                            f"(make up STACK={stack})")
    env = {**environ, "PBH_LIVE_HUB_URL": outputs["hubUrl"], "PBH_LIVE_BINDER_URL": outputs["binderUrl"]}
    if env.get("PBH_LIVE_TOKEN") or env.get("PBH_LIVE_USER"):
        return env
    if stack == "local":
        return {**env, "PBH_LIVE_USER": LOCAL_TEST_USER, "PBH_LIVE_PASSWORD": LOCAL_TEST_USER}
    raise OperatorError(f"the live suite signs in as a test user of its own: set PBH_LIVE_TOKEN to an API token "
                        f"of that user (from {outputs['hubUrl'].rstrip('/')}/hub/token), or PBH_LIVE_USER and "
                        f"PBH_LIVE_PASSWORD where the hub has a login form")


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0].startswith("-"):
        print("usage: python -m tools.live_test STACK [pytest arguments...]", file=sys.stderr)
        return 2
    stack, pytest_args = args[0], args[1:]

    def command() -> int:
        env = live_environment(stack, stack_outputs(stack), os.environ)
        print(f"Live suite against stack {stack}: {env['PBH_LIVE_HUB_URL']} and {env['PBH_LIVE_BINDER_URL']}")
        return subprocess.run([sys.executable, "-m", "pytest", "tests/live", *pytest_args], cwd=REPO, env=env,
                              check=False).returncode

    return run(command)


if __name__ == "__main__":
    sys.exit(main())
