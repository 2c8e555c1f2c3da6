"""The binderhub-service chart's values: upstream schema, the wiring to the hub, the registry."""

from __future__ import annotations

import pytest

from tests.program.chart_schemas import schema_errors
from tests.program.conftest import EXAMPLE_STACKS, release
from tools.offline import MASKED


@pytest.fixture(scope="module")
def binders(example_runs):
    """Each stack's binderhub release: (its registration, its values as the provider gets them, the run)."""
    return {stack: (*release(example_runs, stack, "binderhub"), example_runs[stack][0]) for stack in EXAMPLE_STACKS}


@pytest.mark.parametrize("stack", EXAMPLE_STACKS)
def test_values_pass_the_upstream_schema(binders, stack):
    _, values, _ = binders[stack]
    assert schema_errors("binderhub-service", values) == []


@pytest.mark.parametrize("stack", EXAMPLE_STACKS)
def test_binderhub_reaches_the_hub_as_its_service(binders, stack):
    release, values, run = binders[stack]
    assert release.inputs["name"] == "binderhub"
    assert release.inputs["namespace"] == "binderhub"  # beside the hub, whose Secret holds its token
    hub = run.outputs["hubUrl"]
    binder = values["config"]["BinderHub"]
    assert binder["enable_api_only_mode"] is False
    assert binder["auth_enabled"] is True
    assert binder["hub_url"] == hub  # where browsers go
    # BinderHub itself talks to the hub's own Service, in the cluster, whatever DNS says
    assert binder["hub_url_local"] == "http://hub:8081/"
    assert binder["badge_base_url"] == run.outputs["binderUrl"]
    assert binder["image_prefix"] == run.outputs["imagePrefix"]
    env = {e["name"]: e.get("value", e.get("valueFrom")) for e in values["extraEnv"]}
    assert env == {
        "JUPYTERHUB_API_TOKEN": {"secretKeyRef": {"name": "hub", "key": "hub.services.binder.apiToken"}},
        "JUPYTERHUB_API_URL": "http://hub:8081/hub/api", "JUPYTERHUB_BASE_URL": hub,
        "JUPYTERHUB_CLIENT_ID": "service-binder",
        "JUPYTERHUB_OAUTH_CALLBACK_URL": f"{run.outputs['binderUrl']}oauth_callback"}
    assert values["service"]["type"] == "ClusterIP"
    assert values["networkPolicy"]["enabled"] is True
    (jupyterhub,) = [r for r in run.of_type("kubernetes:helm.sh/v4:Chart") if r.name == "jupyterhub"]
    assert jupyterhub.urn in release.options["dependsOn"]


def test_registry_credentials_are_secrets_and_builds_push(binders):
    release, values, _ = binders["example-kubeadm"]
    assert values["config"]["BinderHub"]["use_registry"] is True
    assert values["config"]["DockerRegistry"]["url"] == "https://registry.lab.example.org"
    assert values["buildPodsRegistryCredentials"]["username"] == "binderhub-push"
    rendered = release.inputs["values"]
    assert rendered["buildPodsRegistryCredentials"]["password"] == MASKED
    assert rendered["config"]["DockerRegistry"]["password"] == MASKED
    # GKE: the push key of the service account, and the GitHub token from SOPS
    gke, gke_values, _ = binders["example-gke"]
    assert gke_values["buildPodsRegistryCredentials"]["username"] == "_json_key"
    assert gke.inputs["values"]["config"]["GitHubRepoProvider"]["access_token"] == MASKED
    assert gke_values["config"]["RepoProvider"]["banned_specs"] == ["^example-org/cryptominer.*"]


def test_the_local_stack_pushes_to_the_registry_beside_its_cluster_over_plain_http(binders):
    """On kind and k3d the nodes' containerd never sees docker-api's images: builds are pushed to
    the kind registry, which the nodes pull from too."""
    _, values, run = binders["local"]
    binder = values["config"]["BinderHub"]
    assert binder["use_registry"] is True
    assert binder["image_prefix"] == "kind-registry:5000/binder-"
    assert values["config"]["DockerRegistry"] == {"url": "http://kind-registry:5000"}  # no credentials
    assert "buildPodsRegistryCredentials" not in values
    assert values["dockerApi"]["extraArgs"] == ["--insecure-registry=kind-registry:5000"]
    (policy,) = run.of_type("kubernetes:networking.k8s.io/v1:NetworkPolicy")  # to the registry's network
    assert policy.inputs["spec"]["egress"] == [{"to": [{"ipBlock": {"cidr": "172.16.0.0/12"}}],
                                                "ports": [{"port": 5000, "protocol": "TCP"}]}]
    (hub,) = [r for r in run.of_type("kubernetes:helm.sh/v4:Chart") if r.name == "jupyterhub"]
    assert hub.inputs["values"]["hub"]["config"]["PersistentBinderSpawner"]["allowed_image_prefixes"] == [
        "kind-registry:5000/binder-"]


def test_builds_run_on_build_nodes(binders):
    _, values, _ = binders["example-gke"]
    assert values["dockerApi"]["nodeSelector"] == {"hub.jupyter.org/node-purpose": "build"}
    assert values["config"]["KubernetesBuildExecutor"]["node_selector"] == {"hub.jupyter.org/node-purpose": "build"}
    # BinderHub's build pods tolerate the user taint, which build nodes carry
    assert values["dockerApi"]["tolerations"][0]["value"] == "user"


def test_docker_api_may_push_to_harbor_at_the_ingress_address(binders):
    _, _, run = binders["example-magnum"]
    (policy,) = run.of_type("kubernetes:networking.k8s.io/v1:NetworkPolicy")
    spec = policy.inputs["spec"]
    assert spec["podSelector"]["matchLabels"]["app.kubernetes.io/component"] == "docker-api"
    assert spec["egress"] == [
        {"to": [{"ipBlock": {"cidr": "198.51.100.20/32"}}], "ports": [{"port": 443, "protocol": "TCP"}]},
        # kube-proxy turns in-cluster traffic to the ingress address into traffic to a Traefik pod
        {"to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "traefik"}},
                 "podSelector": {"matchLabels": {"app.kubernetes.io/name": "traefik"}}}],
         "ports": [{"port": 8443, "protocol": "TCP"}]}]
    for stack in ("example-gke", "example-kubeadm"):  # no registry in the cluster there
        assert binders[stack][2].of_type("kubernetes:networking.k8s.io/v1:NetworkPolicy") == []
