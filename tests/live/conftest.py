"""The stack under test, from the environment (`make test-live STACK=...` sets the URLs from the
stack's outputs):

    PBH_LIVE_HUB_URL, PBH_LIVE_BINDER_URL   the stack's hubUrl and binderUrl
    PBH_LIVE_TOKEN                          an API token of the test user (from the hub's Token page:
                                            stacks that sign in through GitHub or OpenID Connect), or
    PBH_LIVE_USER, PBH_LIVE_PASSWORD        the test user's name and password (the login form:
                                            the dummy authenticator of `local`)
    PBH_LIVE_REPOSITORIES                   two small public repositories, as BinderHub specs
                                            (default: two of binder-examples)
"""

from __future__ import annotations

import os

import pytest

from tests.live.stack import LiveStack, token_by_login

DEFAULT_REPOSITORIES = "gh/binder-examples/requirements/HEAD gh/binder-examples/conda/HEAD"


def _required(name: str) -> str:
    value = os.environ.get(name, "").strip()
    if not value:
        pytest.fail(f"{name} is not set: run the live suite with `make test-live STACK=<stack>`, which "
                    f"sets it from the stack's outputs (see tests/live/conftest.py)", pytrace=False)
    return value


@pytest.fixture(scope="session")
def stack() -> LiveStack:
    hub_url, binder_url = _required("PBH_LIVE_HUB_URL"), _required("PBH_LIVE_BINDER_URL")
    token = os.environ.get("PBH_LIVE_TOKEN", "").strip()
    if not token:
        if not os.environ.get("PBH_LIVE_USER"):
            pytest.fail("Set PBH_LIVE_TOKEN (an API token of the test user), or PBH_LIVE_USER and "
                        "PBH_LIVE_PASSWORD (a stack with a login form)", pytrace=False)
        token = token_by_login(hub_url.rstrip("/") + "/", os.environ["PBH_LIVE_USER"],
                               os.environ.get("PBH_LIVE_PASSWORD", ""))
    return LiveStack(hub_url, binder_url, token)


@pytest.fixture(scope="session")
def repositories() -> tuple[str, str]:
    specs = tuple(os.environ.get("PBH_LIVE_REPOSITORIES", DEFAULT_REPOSITORIES).split())
    if len(specs) != 2 or len(set(specs)) != 2:
        pytest.fail(f"PBH_LIVE_REPOSITORIES names {len(specs)} repositories: it needs two different "
                    f"BinderHub specs (PROVIDER/REPOSITORY/REF), separated by a space", pytrace=False)
    return specs
