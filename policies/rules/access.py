"""Who may sign in: the dummy authenticator only on `local`, BinderHub behind the hub's login, and
nobody signing up unless the operator wrote so explicitly."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from .model import Resource, Rule, Stack, Violation

# Per authenticator: its section of hub.config, the lists that name who may sign in, the settings
# they come from, and whether allow_all may stand in for them: on GitHub it would let anyone with
# a GitHub account in, so there it does not.
WHO_MAY_SIGN_IN = {
    "github": ("GitHubOAuthenticator", ("allowed_users", "allowed_organizations"), "auth.github", False),
    "generic-oauth": ("GenericOAuthenticator", ("allowed_users", "allowed_groups"), "auth.oidc", True),
}


def access_is_explicit(stack: Stack, config: Mapping[str, Any]) -> Iterator[Violation]:
    for hub in stack.charts("jupyterhub"):
        authenticator = hub.value("hub.config.JupyterHub.authenticator_class")
        if authenticator == "dummy" and not stack.local:
            yield Violation(f"The hub of stack {stack.name} uses the dummy authenticator, which signs in anyone "
                            f"with any password: it is for the local stack only. Set auth.type to github or oidc.",
                            hub.urn)
        if authenticator in WHO_MAY_SIGN_IN:
            yield from _sign_up_explicit(hub, authenticator)
    for binder in stack.charts("binderhub-service"):
        if binder.value("config.BinderHub.auth_enabled") is not True:
            yield Violation("BinderHub runs without authentication (config.BinderHub.auth_enabled is not true): "
                            "anyone could build and launch. Set it to true, as the program does.", binder.urn)


def _sign_up_explicit(hub: Resource, authenticator: str) -> Iterator[Violation]:
    section, lists, settings, allow_all_counts = WHO_MAY_SIGN_IN[authenticator]
    values = hub.value(f"hub.config.{section}") or {}
    if any(values.get(name) for name in lists) or (allow_all_counts and values.get("allow_all") is True):
        return
    allow_all = " (allow_all would let anyone with a GitHub account in)" if not allow_all_counts else \
        ", or allowAll: true if everyone the provider knows may"
    yield Violation(f"The hub's {section} names nobody who may sign in ({' and '.join(lists)} are empty): set who "
                    f"may sign in under {settings} in the stack's settings{allow_all}.", hub.urn)


RULES = (
    Rule("access-is-explicit", "The dummy authenticator only on local, BinderHub authenticated, and who may sign "
         "in written down.", access_is_explicit),
)
