"""The JupyterHub chart's values: upstream schema, data-protecting invariants, secrets, the hub package."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from tests.program.chart_schemas import schema_errors
from tests.program.conftest import EXAMPLE_STACKS, release
from tools.offline import MASKED, REPO


@pytest.fixture(scope="module")
def hubs(example_runs):
    """Each stack's jupyterhub release: (the values as rendered, the values as the provider gets them)."""
    found = {}
    for stack in EXAMPLE_STACKS:
        chart, values = release(example_runs, stack, "jupyterhub")
        found[stack] = (chart.inputs["values"], values)
    return found


@pytest.mark.parametrize("stack", EXAMPLE_STACKS)
def test_values_pass_the_upstream_schema(hubs, stack):
    _, values = hubs[stack]
    assert schema_errors("jupyterhub", values) == []


@pytest.mark.parametrize("stack", EXAMPLE_STACKS)
def test_user_data_is_never_deleted_by_the_platform(hubs, stack):
    _, values = hubs[stack]
    assert values["cull"]["users"] is False
    assert values["cull"]["enabled"] is True
    assert values["hub"]["config"]["PersistentBinderSpawner"]["delete_pvc"] is False
    assert values["singleuser"]["storage"]["type"] == "dynamic"
    assert values["singleuser"]["storage"]["dynamic"]["storageClass"] == "user-homes"
    assert values["prePuller"]["hook"]["enabled"] is False


def test_the_spawners_settings_are_data_and_the_snippet_is_constant(hubs):
    snippets = {hubs[stack][1]["hub"]["extraConfig"]["persistent-binderhub"] for stack in EXAMPLE_STACKS}
    assert snippets == {"from persistent_binderhub.hubconfig import configure\n\nconfigure(c)\n"}
    magnum = hubs["example-magnum"][1]["hub"]["config"]["PersistentBinderSpawner"]
    assert (magnum["projects_limit"], magnum["mount_projects"]) == (3, True)
    # A setting the stack leaves out keeps the spawner's own default: it is not written at all.
    assert "mount_projects" not in hubs["example-kubeadm"][1]["hub"]["config"]["PersistentBinderSpawner"]


@pytest.mark.parametrize("stack", EXAMPLE_STACKS)
def test_every_secret_reaches_the_chart_as_a_pulumi_secret(hubs, stack):
    rendered, _ = hubs[stack]
    assert rendered["proxy"]["secretToken"] == MASKED
    assert rendered["hub"]["config"]["JupyterHub"]["cookie_secret"] == MASKED
    assert rendered["hub"]["config"]["CryptKeeper"]["keys"] in (MASKED, [MASKED])
    assert rendered["hub"]["services"]["binder"]["apiToken"] == MASKED
    for authenticator in ("GitHubOAuthenticator", "GenericOAuthenticator"):
        if authenticator in rendered["hub"]["config"]:
            assert rendered["hub"]["config"][authenticator]["client_secret"] == MASKED
    if rendered["hub"]["db"]["type"] == "postgres":
        assert rendered["hub"]["db"]["url"] == MASKED


def test_dummy_authentication_only_on_local(hubs):
    for stack in EXAMPLE_STACKS:
        _, values = hubs[stack]
        authenticator = values["hub"]["config"]["JupyterHub"]["authenticator_class"]
        assert (authenticator == "dummy") == (stack == "local")


def test_placement_pull_secret_and_binder_service(hubs):
    _, gke = hubs["example-gke"]
    assert gke["singleuser"]["nodeSelector"] == {"hub.jupyter.org/node-purpose": "user"}
    assert gke["singleuser"]["extraTolerations"][0]["key"] == "hub.jupyter.org_dedicated"  # GKE's spelling
    assert gke["imagePullSecrets"] == []  # the nodes pull from Artifact Registry themselves
    _, magnum = hubs["example-magnum"]
    assert magnum["imagePullSecrets"] == ["binder-registry-pull"]
    assert magnum["hub"]["db"]["type"] == "postgres"
    binder = gke["hub"]["services"]["binder"]
    assert binder["oauth_redirect_uri"] == "https://binder.example.org/oauth_callback"
    assert gke["hub"]["loadRoles"]["binder"]["scopes"] == ["servers", "read:users"]
    assert gke["hub"]["redirectToServer"] is False
    assert gke["ingress"]["tls"] == [{"hosts": ["hub.binder.example.org"], "secretName": "hub-tls"}]


def _as_helm_writes(value):
    """Values as the hub reads them: Pulumi hands numbers over as floats, and Helm's YAML writes an
    integral one as an integer (5.0 becomes 5)."""
    if isinstance(value, dict):
        return {key: _as_helm_writes(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_as_helm_writes(item) for item in value]
    return int(value) if isinstance(value, float) and value.is_integer() else value


def test_the_shipped_hub_package_configures_a_real_jupyterhub(hubs, tmp_path):
    """Lay the hub files out as the hub pod mounts them, run the extraConfig snippet, check the result."""
    _, values = hubs["example-gke"]
    config_dir = tmp_path / "usr-local-etc-jupyterhub"
    for extra in values["hub"]["extraFiles"].values():
        path = config_dir / extra["mountPath"].removeprefix("/usr/local/etc/jupyterhub/")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(extra["stringData"])
    snippet = values["hub"]["extraConfig"]["persistent-binderhub"]
    # A fresh interpreter, with only the shipped files on its path, as in the hub pod; as z2jh's
    # jupyterhub_config.py does, hub.config is loaded into c (here the spawner's part: z2jh resolves
    # the rest, such as authenticator shorthands, itself), then the extraConfig entries run.
    spawner_config = {"PersistentBinderSpawner": _as_helm_writes(values["hub"]["config"]["PersistentBinderSpawner"])}
    check = textwrap.dedent(f"""
        import json, sys
        sys.path.insert(0, {str(config_dir)!r})
        from traitlets.config import Config
        from jupyterhub.app import JupyterHub
        c = Config()
        for app, cfg in json.loads({json.dumps(spawner_config)!r}).items():
            c[app].update(cfg)
        exec({snippet!r}, {{"c": c}})
        app = JupyterHub(config=c)
        spawner = c.PersistentBinderSpawner
        module = app.spawner_class.__module__
        print(json.dumps({{"class": module, "file": sys.modules[module].__file__,
                          "limit": spawner.projects_limit, "prefixes": spawner.allowed_image_prefixes,
                          "binder": spawner.binder_url, "delete_pvc": spawner.delete_pvc,
                          "maintenance": spawner.maintenance_image, "home": spawner.home_mount_path,
                          "mount": spawner.mount_projects,
                          "handlers": [h[0] for h in app.extra_handlers]}}))
    """)
    result = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, check=False, cwd=tmp_path,
                            env={"PATH": "/usr/bin:/bin", "KUBECONFIG": "/dev/null"})
    assert result.returncode == 0, result.stderr
    produced = json.loads(result.stdout.strip().splitlines()[-1])
    assert produced["class"] == "persistent_binderhub.spawner"
    assert produced["file"].startswith(str(config_dir))  # the shipped copy, not the repository's
    assert produced["limit"] == 5
    assert produced["prefixes"] == ["europe-west1-docker.pkg.dev/example-binder-123/binder/binder-"]
    assert produced["binder"] == "https://binder.example.org/"
    assert produced["delete_pvc"] is False
    assert produced["maintenance"] == "quay.io/jupyterhub/k8s-network-tools:4.4.0"  # the chart's version
    assert (produced["home"], produced["mount"]) == ("/home/jovyan", True)
    assert "/api/projects/([^/]+)" in produced["handlers"]


def test_every_hub_file_is_shipped(hubs):
    _, values = hubs["local"]
    shipped = {extra["mountPath"] for extra in values["hub"]["extraFiles"].values()}
    package = REPO / "hub" / "persistent_binderhub"
    expected = {f"/usr/local/etc/jupyterhub/persistent_binderhub/{p.relative_to(package).as_posix()}"
                for p in package.rglob("*") if p.is_file() and "__pycache__" not in p.parts}
    assert shipped == expected
    assert "/usr/local/etc/jupyterhub/persistent_binderhub/templates/home.html" in shipped
