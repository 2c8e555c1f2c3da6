"""The GeneratedSecrets component on its own."""

from __future__ import annotations

import re

from tests.program.components_alone import run_alone
from tests.program.conftest import unwrapped
from tools.offline import MASKED, RecordingMonitor


def test_four_hex_secrets_made_once_and_kept_secret(tmp_path):
    monitor = RecordingMonitor()
    run = run_alone(tmp_path, """
        import pulumi
        from components.generated_secrets import GeneratedSecrets

        secrets = GeneratedSecrets("chart-secrets")
        pulumi.export("token", secrets.proxy_secret_token)
    """, monitor=monitor)
    (component,) = run.of_type("persistent-binderhub:secrets:GeneratedSecrets")
    passwords = run.of_type("random:index/randomPassword:RandomPassword")
    assert sorted(p.name for p in passwords) == ["binder-api-token", "hub-cookie-secret", "hub-crypt-keeper-key",
                                                 "proxy-secret-token"]
    for password in passwords:
        assert password.parent == component.urn
        # the hex alphabet only, 64 characters: what JupyterHub's cookie secret and CryptKeeper require
        assert password.inputs == {"length": 64, "lower": False, "numeric": True, "overrideSpecial": "abcdef",
                                   "special": True, "upper": False}
        made = unwrapped(monitor.resources[password.urn].state)["result"]
        assert re.fullmatch("[0-9a-f]{64}", made)
    assert run.outputs["token"] == MASKED
