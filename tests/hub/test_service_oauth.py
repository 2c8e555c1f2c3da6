"""BinderHub's wiring to the hub, proven with a real OAuth round trip: a service using HubOAuth (as
BinderHub does) reaches the hub's API at a URL of its own (in the cluster, the hub's Service), while
browsers are sent to the hub's public URL, and signs a user in."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import requests

from tests.hub.running_hub import SeedUser, binder_service, free_port, running_hub

SERVICE = Path(__file__).with_name("oauth_service.py")
TOKEN = "binder-service-token-0123456789abcdef"


def test_a_service_on_the_internal_api_signs_a_user_in_through_the_public_hub(tmp_path):
    port = free_port()
    callback = f"http://127.0.0.1:{port}/oauth_callback"
    with running_hub(tmp_path / "hub", {"alice": SeedUser()}, base_url="/jh/",
                     chart_config=binder_service(TOKEN, callback)) as hub:
        assert hub.local_api_url != hub.api_url("").rstrip("/")  # the two URLs differ, as in the cluster
        env = {**os.environ, "SERVICE_PORT": str(port), "JUPYTERHUB_API_TOKEN": TOKEN,
               "JUPYTERHUB_API_URL": hub.local_api_url, "JUPYTERHUB_BASE_URL": hub.url,
               "JUPYTERHUB_CLIENT_ID": "service-binder", "JUPYTERHUB_OAUTH_CALLBACK_URL": callback}
        service = subprocess.Popen([sys.executable, str(SERVICE)], env=env, stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    requests.get(f"http://127.0.0.1:{port}/whoami", timeout=2, allow_redirects=False)
                    break
                except requests.ConnectionError:
                    assert time.monotonic() < deadline, "the service did not start"
                    time.sleep(0.1)
            session = hub.login("alice")
            first = session.get(f"http://127.0.0.1:{port}/whoami", timeout=10, allow_redirects=False)
            assert first.status_code == 302
            assert first.headers["Location"].startswith(hub.hub_url("api/oauth2/authorize"))  # the public hub
            answer = session.get(f"http://127.0.0.1:{port}/whoami", timeout=10)  # the whole round trip
            assert answer.status_code == 200, answer.text
            assert answer.text == "alice"
        finally:
            service.terminate()
            service.wait(timeout=10)
