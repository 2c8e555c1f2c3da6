"""Every combination the settings accept renders: platform x registry x auth x hub database x ingress.

A combination is either refused by the settings or secrets checks with an operator message, or
renders; never a crash further in (a registry that only one platform could build, say).
"""

from __future__ import annotations

import itertools

import pytest

from components.errors import OperatorError
from components.secrets import SECRETS
from components.sops import public_test_key_recipient
from tools.offline import run_program

P = "persistent-binderhub"
PLATFORMS = {"gke": "example-gke", "magnum": "example-magnum", "kubeadm": "example-kubeadm", "existing": "local"}
REGISTRIES = {
    "artifact-registry": {"type": "artifact-registry", "artifactRegistry": {}},
    "harbor": {"type": "harbor", "harbor": {"hostname": "registry.combination.example.org"}},
    "external": {"type": "external", "external": {"url": "https://registry.combination.example.org",
                                                  "username": "push",
                                                  "imagePrefix": "registry.combination.example.org/b/"}},
    "local": {"type": "local"},
}
AUTHS = {
    "github": {"type": "github", "github": {"clientId": "hub", "allowAll": True}},
    "oidc": {"type": "oidc", "oidc": {"clientId": "hub", "issuerUrl": "https://id.example.org/realms/r",
                                      "allowAll": True}},
    "dummy": {"type": "dummy"},
}
DATABASES = ("sqlite", "postgres")
INGRESSES = {"traefik": {}, "the cluster's own": {"existingClass": "nginx"}}
# Every secret a combination could need, test values only.
ALL_SECRETS = {key: ("-----BEGIN OPENSSH PRIVATE KEY-----\ntest\n-----END OPENSSH PRIVATE KEY-----\n"
                     if key == "ssh_private_key" else "postgresql://hub:pw@db/hub" if key == "hub_database_url"
                     else f"test-{key}") for key in SECRETS}


def test_every_accepted_combination_renders(project):
    for stack in PLATFORMS.values():
        project.encrypt_secrets(stack, ALL_SECRETS, [public_test_key_recipient()])
    rendered, refused = [], []
    for platform, registry, auth, database, ingress in itertools.product(
            PLATFORMS, REGISTRIES, AUTHS, DATABASES, INGRESSES):
        stack = PLATFORMS[platform]
        config = project.config(stack)
        config.update({f"{P}:registry": REGISTRIES[registry], f"{P}:auth": AUTHS[auth],
                       f"{P}:hubDatabase": {"type": database}, f"{P}:ingress": INGRESSES[ingress]})
        project.write_config(stack, config)
        combination = (platform, registry, auth, database, ingress)
        try:
            run = run_program(stack, project.root)
        except OperatorError as exc:
            message = str(exc)
            refused.append(combination)
            assert message.startswith(("stacks/", "secrets/")), combination  # names the file
            continue
        assert run.resources, combination
        rendered.append(combination)
    # Not vacuous: each platform renders with every registry it can use, and some are refused.
    assert {(p, r) for p, r, *_ in rendered} == {
        ("gke", "artifact-registry"), ("gke", "harbor"), ("gke", "external"),
        ("magnum", "harbor"), ("magnum", "external"), ("kubeadm", "harbor"), ("kubeadm", "external"),
        ("existing", "external"), ("existing", "local")}  # local has no TLS, which Harbor needs
    assert ("existing", "local", "dummy", "sqlite", "traefik") in rendered
    assert ("gke", "local", "github", "sqlite", "traefik") in refused


@pytest.mark.parametrize("endpoints", [{}, {"authorizeUrl": "https://login.example.com/oauth2/v2.0/authorize",
                                            "tokenUrl": "https://login.example.com/oauth2/v2.0/token",
                                            "userdataUrl": "https://graph.example.com/oidc/userinfo"}])
def test_openid_connect_endpoints_are_the_providers_or_keycloaks(project, endpoints):
    config = project.config("example-magnum")
    config[f"{P}:auth"]["oidc"].update(endpoints)
    project.write_config("example-magnum", config)
    run = run_program("example-magnum", project.root)
    (chart,) = [r for r in run.of_type("kubernetes:helm.sh/v4:Chart") if r.name == "jupyterhub"]
    oauth = chart.inputs["values"]["hub"]["config"]["GenericOAuthenticator"]
    issuer = config[f"{P}:auth"]["oidc"]["issuerUrl"].rstrip("/")
    assert oauth["authorize_url"] == endpoints.get("authorizeUrl", f"{issuer}/protocol/openid-connect/auth")
    assert oauth["token_url"] == endpoints.get("tokenUrl", f"{issuer}/protocol/openid-connect/token")
    assert oauth["userdata_url"] == endpoints.get("userdataUrl", f"{issuer}/protocol/openid-connect/userinfo")
