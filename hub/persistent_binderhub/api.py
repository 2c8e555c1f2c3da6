"""The projects API: list and delete a user's projects.

    GET    /hub/api/projects/{user}               → {"projects": [...], "limit": N, "running": id|null}
    DELETE /hub/api/projects/{user}/{project_id}  → 204; the folder is removed at the next launch

Access is by JupyterHub RBAC custom scopes (see hubconfig.py), which users hold for
themselves; admins reach everyone's projects through `admin:server_state`, since the
projects live in the server state. Cookie-authenticated DELETEs need the XSRF token, as
every JupyterHub API call does. Errors are JSON: 400 malformed, 403 not yours,
404 no such user or project, 409 the server is running.
"""

from __future__ import annotations

import re

from jupyterhub.apihandlers.base import APIHandler
from jupyterhub.scopes import has_scope
from tornado import web

READ_SCOPE = "custom:projects:read"
WRITE_SCOPE = "custom:projects:write"
_PROJECT_ID = re.compile(r"[a-z0-9-]{1,64}")  # fullmatch: `$` would let a trailing newline through


class _ProjectsHandler(APIHandler):
    def _spawner_of(self, user_name: str, scope: str):
        """The user's spawner, once the caller is shown to hold `scope` for that user."""
        if not any(has_scope(f"{held}!user={user_name}", self.parsed_scopes, db=self.db)
                   for held in (scope, "admin:server_state")):
            raise web.HTTPError(403, f"You may not {'see' if scope == READ_SCOPE else 'change'} "
                                     f"the projects of {user_name}.")
        user = self.find_user(user_name)
        if user is None:
            raise web.HTTPError(404, f"No such user: {user_name}")
        spawner = user.spawner
        if not hasattr(spawner, "projects_state"):
            raise web.HTTPError(500, "The hub's spawner keeps no projects (spawner_class is not "
                                     "PersistentBinderSpawner).")
        return spawner


class ProjectsAPIHandler(_ProjectsHandler):
    async def get(self, user_name: str) -> None:
        spawner = self._spawner_of(user_name, READ_SCOPE)
        self.write({
            "projects": [project.to_dict() for project in spawner.project_list()],
            "limit": spawner.projects_limit,
            "running": spawner.running_project_id,
        })


class ProjectAPIHandler(_ProjectsHandler):
    async def delete(self, user_name: str, project_id: str) -> None:
        if not _PROJECT_ID.fullmatch(project_id):
            raise web.HTTPError(400, "Malformed project id.")
        spawner = self._spawner_of(user_name, WRITE_SCOPE)
        if spawner.active:
            raise web.HTTPError(409, "Stop the server before deleting a project: its files may be in use.")
        try:
            projects = spawner.projects_state.without(project_id)
        except KeyError:
            raise web.HTTPError(404, f"No such project: {project_id}") from None
        spawner.set_projects(projects)
        self.db.commit()
        self.log.info("%s deleted project %s of %s", self.current_user.name, project_id, user_name)
        self.set_status(204)
        self.finish()


HANDLERS = [
    (r"/api/projects/([^/]+)", ProjectsAPIHandler),
    (r"/api/projects/([^/]+)/([^/]+)", ProjectAPIHandler),
]
