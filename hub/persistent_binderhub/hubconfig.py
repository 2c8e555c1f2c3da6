"""Wire the package into a JupyterHub configuration in one call.

In the chart's `hub.extraConfig` (the spawner's settings come as data, in
`hub.config.PersistentBinderSpawner`, which z2jh has loaded into `c` by then):

    from persistent_binderhub.hubconfig import configure
    configure(c)
"""

from __future__ import annotations

from pathlib import Path

from jupyterhub.roles import get_default_roles

from persistent_binderhub.api import HANDLERS, READ_SCOPE, WRITE_SCOPE

TEMPLATES = str(Path(__file__).with_name("templates"))
PROJECT_SCOPES = {
    READ_SCOPE: {"description": "List the projects kept on a user's volume."},
    WRITE_SCOPE: {"description": "Delete projects, and their files, from a user's volume.",
                  "subscopes": [READ_SCOPE]},
}
# Users manage their own projects. (Admins manage everyone's through admin:server_state,
# see api.py: JupyterHub 5 refuses any change to the admin role.)
ROLE_SCOPES = {"user": [f"{WRITE_SCOPE}!user"]}


def configure(c) -> None:
    """Use the persistent spawner, the projects API, its scopes and roles, and the home page."""
    hub = c.JupyterHub
    hub.spawner_class = "persistent_binderhub.spawner.PersistentBinderSpawner"
    hub.allow_named_servers = False  # one running project per user
    hub.redirect_to_server = False  # after login, the projects table (a bare spawn has no project)
    # .get: reading an unset key as an attribute would give a lazy config value, not the default
    hub.custom_scopes = {**hub.get("custom_scopes", {}), **PROJECT_SCOPES}
    hub.load_roles = _with_project_scopes(hub.get("load_roles", []))
    hub.extra_handlers = [*hub.get("extra_handlers", []), *HANDLERS]
    hub.template_paths = [TEMPLATES, *hub.get("template_paths", [])]


def _with_project_scopes(roles: list[dict]) -> list[dict]:
    defaults = {role["name"]: role for role in get_default_roles()}
    roles = [dict(role) for role in roles]
    for name, extra in ROLE_SCOPES.items():
        role = next((r for r in roles if r.get("name") == name), None)
        if role is None:
            role = {"name": name}
            roles.append(role)
        # A configured role replaces the default's scopes, so start from them if it has none.
        scopes = role.get("scopes", defaults[name]["scopes"])
        role["scopes"] = [*scopes, *(s for s in extra if s not in scopes)]
    return roles
