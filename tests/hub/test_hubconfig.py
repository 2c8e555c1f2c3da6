"""hubconfig.configure(c): the package wired into a real JupyterHub 5.5.0 configuration."""

from __future__ import annotations

from jupyterhub import scopes
from jupyterhub.app import JupyterHub
from jupyterhub.roles import get_default_roles
from persistent_binderhub.api import ProjectAPIHandler, ProjectsAPIHandler
from persistent_binderhub.hubconfig import PROJECT_SCOPES, TEMPLATES, configure
from persistent_binderhub.spawner import PersistentBinderSpawner
from traitlets.config import Config


def _roles(app: JupyterHub) -> dict[str, list[str]]:
    return {role["name"]: role["scopes"] for role in app.load_roles}


def test_configure_sets_spawner_api_scopes_roles_and_home_page(loop):
    c = Config()
    configure(c)
    c.PersistentBinderSpawner.projects_limit = 3
    app = JupyterHub(config=c)
    assert app.spawner_class is PersistentBinderSpawner
    assert app.allow_named_servers is False
    assert app.custom_scopes == PROJECT_SCOPES
    assert app.template_paths[0] == TEMPLATES
    assert (r"/api/projects/([^/]+)", ProjectsAPIHandler) in app.extra_handlers
    assert (r"/api/projects/([^/]+)/([^/]+)", ProjectAPIHandler) in app.extra_handlers
    defaults = {role["name"]: role["scopes"] for role in get_default_roles()}
    roles = _roles(app)
    assert roles["user"] == [*defaults["user"], "custom:projects:write!user"]
    assert "admin" not in roles  # JupyterHub 5 refuses changes to it; admins use admin:server_state
    assert "admin:server_state" in scopes.expand_scopes(defaults["admin"])

    async def spawner():
        return PersistentBinderSpawner(config=c, _mock=True)

    assert loop.run_until_complete(spawner()).projects_limit == 3


def test_configure_extends_roles_and_settings_already_there():
    c = Config()
    c.JupyterHub.load_roles = [
        {"name": "user", "scopes": ["self", "access:services!service=binder"]},
        {"name": "binder", "services": ["binder"], "scopes": ["servers", "read:users"]},
    ]
    c.JupyterHub.custom_scopes = {"custom:other:read": {"description": "another package's scope"}}
    c.JupyterHub.template_paths = ["/srv/branding"]
    configure(c)
    app = JupyterHub(config=c)
    roles = _roles(app)
    assert roles["user"] == ["self", "access:services!service=binder", "custom:projects:write!user"]
    assert roles["binder"] == ["servers", "read:users"]
    assert set(app.custom_scopes) == {"custom:other:read", *PROJECT_SCOPES}
    assert app.template_paths == [TEMPLATES, "/srv/branding"]
