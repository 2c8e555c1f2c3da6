"""A service signing users in with the hub's OAuth, as BinderHub does (HubOAuth): it answers
`/whoami` with the signed-in user's name. Configured from the environment as binderhub-service
configures BinderHub: JUPYTERHUB_API_URL (the hub's API in the cluster), JUPYTERHUB_BASE_URL (the
hub's public URL, where browsers are sent), JUPYTERHUB_API_TOKEN, JUPYTERHUB_CLIENT_ID and
JUPYTERHUB_OAUTH_CALLBACK_URL; SERVICE_PORT.

    python tests/hub/oauth_service.py
"""

from __future__ import annotations

import asyncio
import os

from jupyterhub.services.auth import HubOAuthCallbackHandler, HubOAuthenticated
from tornado import web


class WhoAmI(HubOAuthenticated, web.RequestHandler):
    @web.authenticated
    def get(self) -> None:
        self.write(self.get_current_user()["name"])


async def main() -> None:
    app = web.Application([("/whoami", WhoAmI), ("/oauth_callback", HubOAuthCallbackHandler)],
                          cookie_secret=os.urandom(32))
    app.listen(int(os.environ["SERVICE_PORT"]), "127.0.0.1")
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main())
