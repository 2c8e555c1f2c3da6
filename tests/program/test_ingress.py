"""The Ingress component on its own: Traefik, cert-manager and the Let's Encrypt issuers."""

from __future__ import annotations

import pytest

from tests.program.chart_schemas import defaults, schema_errors
from tests.program.conftest import release
from tools.offline import CHART_TYPE, OfflineRun, run_program

INGRESS_PROGRAM = """
import pulumi

from components.cluster import DEDICATED, NODE_PURPOSE, Placement
from components.ingress import Ingress, IngressArgs
from components.settings import parse_settings
from tests.program.stand_ins import HandMadeCluster
from tools.offline import REPO
from tools.stackfile import read_stack_config

stack = pulumi.get_stack()
settings = parse_settings(read_stack_config(REPO, stack), stack)
core = Placement({{NODE_PURPOSE: "core"}}, ({{"key": DEDICATED, "operator": "Equal", "value": "core",
                                               "effect": "NoSchedule"}},)) if {dedicated} else Placement()
cluster = HandMadeCluster(core=core, ingress_address={address!r}, ingress_on_node_ports={node_ports!r})
ingress = Ingress("ingress", IngressArgs.of(settings, cluster), pulumi.ResourceOptions(provider=cluster.provider))
pulumi.export("className", ingress.class_name)
pulumi.export("issuer", ingress.issuer)
pulumi.export("ready", [resource.urn for resource in ingress.ready])
"""

ISSUER = "kubernetes:cert-manager.io/v1:ClusterIssuer"
NAMESPACE = "kubernetes:core/v1:Namespace"
COMPONENT = "persistent-binderhub:ingress:Ingress"
STAGING = "https://acme-staging-v02.api.letsencrypt.org/directory"
PRODUCTION = "https://acme-v02.api.letsencrypt.org/directory"
ADDRESS = "203.0.113.20"
CORE_SELECTOR = {"hub.jupyter.org/node-purpose": "core"}
CORE_TOLERATIONS = [{"key": "hub.jupyter.org/dedicated", "operator": "Equal", "value": "core",
                     "effect": "NoSchedule"}]
# stack -> (ingress address handed over by the platform, core nodes tainted, expected issuer, e-mail)
CASES = {
    "example-gke": (ADDRESS, True, "letsencrypt-production", "binder-ops@example.org"),
    "example-kubeadm": (None, True, "letsencrypt-staging", "binder-ops@lab.example.org"),
    "local": (None, False, None, None),
}


@pytest.fixture(scope="module")
def ingress_run(tmp_path_factory):
    """Run the test program once per stack (a fresh mock runtime each time) and keep the result."""
    tmp = tmp_path_factory.mktemp("ingress")
    runs: dict[str, OfflineRun] = {}

    def run(stack: str) -> OfflineRun:
        if stack not in runs:
            address, dedicated, _, _ = CASES[stack]
            program = tmp / f"ingress-{stack}.py"
            # As the platforms hand it over: only an existing (local) cluster's entry is its node ports.
            node_ports = stack == "local"
            program.write_text(INGRESS_PROGRAM.format(address=address, dedicated=dedicated, node_ports=node_ports))
            runs[stack] = run_program(stack, program=program)
        return runs[stack]

    return run


def _chart(run: OfflineRun, release: str) -> dict:
    chart = run.named(CHART_TYPE, release)
    assert chart.inputs["namespace"] == release
    return chart.inputs["values"]


def _unknown_keys(values: dict, defaults: dict, path: str = "") -> list[str]:
    """Keys set in `values` that the chart's defaults do not have (open maps, empty by default, aside).

    The schemas leave some objects open (traefik's `service`, for one, where a misplaced
    `service.type` is silently ignored since chart 40): this catches what they let through.
    """
    unknown = []
    for key, value in values.items():
        where = f"{path}{key}"
        if key not in defaults:
            unknown.append(where)
        elif isinstance(value, dict) and isinstance(defaults[key], dict) and defaults[key]:
            unknown += _unknown_keys(value, defaults[key], f"{where}.")
    return unknown


# Keys the defaults leave out on purpose, each checked against the chart's documentation.
OPEN_KEYS = {
    "service.spec.loadBalancerIP",  # `service.spec`: "Additional entries here will be added to the Service spec"
    "nodeSelector.hub.jupyter.org/node-purpose", "webhook.nodeSelector.hub.jupyter.org/node-purpose",
    "cainjector.nodeSelector.hub.jupyter.org/node-purpose",  # cert-manager's defaults hold kubernetes.io/os only
    # documented in cert-manager's values.yaml (as comments, "+docs:property"), so not among its defaults
    "webhook.validatingWebhookConfigurationAnnotations", "webhook.mutatingWebhookConfigurationAnnotations",
}


@pytest.mark.parametrize("stack", CASES)
def test_component_and_what_it_hands_on(ingress_run, stack):
    run = ingress_run(stack)
    component = run.named(COMPONENT, "ingress")
    _, _, issuer, _ = CASES[stack]
    assert run.outputs["className"] == "traefik"
    assert run.outputs["issuer"] == issuer
    charts = {run.named(CHART_TYPE, release).urn for release in ("traefik", "cert-manager")}
    issuers = {r.urn for r in run.of_type(ISSUER)}
    assert set(run.outputs["ready"]) == charts | issuers
    for namespace in ("cert-manager", "traefik"):
        registered = run.named(NAMESPACE, namespace)
        assert registered.inputs["metadata"] == {"name": namespace}
    for resource in run.resources:
        if resource.type.startswith("kubernetes:") and resource.custom and resource.name != "test-cluster-kubernetes":
            assert resource.parent == component.urn
            assert resource.options["provider"].endswith("::test-cluster-kubernetes")


@pytest.mark.parametrize("stack", ["example-gke", "example-kubeadm"])
def test_both_lets_encrypt_issuers_with_the_stack_email(ingress_run, stack):
    run = ingress_run(stack)
    _, _, _, email = CASES[stack]
    cert_manager = run.named(CHART_TYPE, "cert-manager")
    for name, server in (("letsencrypt-staging", STAGING), ("letsencrypt-production", PRODUCTION)):
        issuer = run.named(ISSUER, name)
        assert issuer.inputs["apiVersion"] == "cert-manager.io/v1"
        assert issuer.inputs["kind"] == "ClusterIssuer"
        assert issuer.inputs["metadata"]["name"] == name
        acme = issuer.inputs["spec"]["acme"]
        assert acme["server"] == server
        assert acme["email"] == email
        assert acme["privateKeySecretRef"] == {"name": f"{name}-account-key"}
        [solver] = acme["solvers"]
        assert solver["http01"]["ingress"]["ingressClassName"] == "traefik"
        assert solver["http01"]["ingress"]["podTemplate"]["spec"] == {
            "nodeSelector": CORE_SELECTOR, "tolerations": CORE_TOLERATIONS}
        assert cert_manager.urn in issuer.options["dependsOn"]


def test_no_issuers_without_tls(ingress_run):
    run = ingress_run("local")
    assert run.of_type(ISSUER) == []
    assert run.outputs["issuer"] is None
    assert "redirections" not in str(_chart(run, "traefik"))


@pytest.mark.parametrize("stack", CASES)
def test_cert_manager_installs_its_crds_without_the_startup_hook_on_core_nodes(ingress_run, stack):
    values = _chart(ingress_run(stack), "cert-manager")
    assert values["crds"] == {"enabled": True}
    assert values["startupapicheck"] == {"enabled": False}
    _, dedicated, _, _ = CASES[stack]
    for pods in (values, values["webhook"], values["cainjector"]):
        assert pods["nodeSelector"] == (CORE_SELECTOR if dedicated else {})
        assert pods["tolerations"] == (CORE_TOLERATIONS if dedicated else [])


def test_traefik_on_the_platform_address(ingress_run):
    values = _chart(ingress_run("example-gke"), "traefik")
    assert values["service"] == {"spec": {"type": "LoadBalancer", "loadBalancerIP": ADDRESS}}
    assert values["ingressClass"] == {"enabled": True, "isDefaultClass": False, "name": "traefik"}
    assert values["ports"]["web"]["http"]["redirections"]["entryPoint"] == {
        "to": "websecure", "scheme": "https", "permanent": True}
    assert values["ports"]["websecure"]["http"]["tls"]["enabled"] is True
    assert "nodePort" not in values["ports"]["web"]
    assert values["providers"]["kubernetesCRD"] == {"enabled": False}
    assert values["nodeSelector"] == CORE_SELECTOR
    assert values["tolerations"] == CORE_TOLERATIONS


def test_traefik_without_an_address_lets_the_load_balancer_choose(ingress_run):
    values = _chart(ingress_run("example-kubeadm"), "traefik")
    assert values["service"] == {"spec": {"type": "LoadBalancer"}}


def test_traefik_on_fixed_node_ports_on_a_local_cluster(ingress_run):
    values = _chart(ingress_run("local"), "traefik")
    assert values["service"] == {"spec": {"type": "NodePort"}}
    timeouts = {"respondingTimeouts": {"readTimeout": "3600s"}}
    assert values["ports"]["web"] == {"nodePort": 30080, "transport": timeouts}
    assert values["ports"]["websecure"] == {"nodePort": 30443, "http": {"tls": {"enabled": True}},
                                            "transport": timeouts}
    assert values["nodeSelector"] == {}


@pytest.mark.parametrize("stack", CASES)
def test_large_image_pushes_are_not_cut_after_a_minute(ingress_run, stack):
    """Traefik v3 reads a request for 60 s at most; an image layer pushed to Harbor is one request."""
    ports = _chart(ingress_run(stack), "traefik")["ports"]
    for entry_point in ("web", "websecure"):
        assert ports[entry_point]["transport"]["respondingTimeouts"]["readTimeout"] == "3600s"


@pytest.mark.parametrize("stack", CASES)
def test_issuers_wait_for_the_webhook_to_have_its_ca(ingress_run, stack):
    """The API server cannot call cert-manager's webhook before cainjector put the CA into its
    configurations; the issuers depend on the chart, which waits for these annotations."""
    webhook = _chart(ingress_run(stack), "cert-manager")["webhook"]
    wait = {"pulumi.com/waitFor": "jsonpath={.webhooks[0].clientConfig.caBundle}"}
    assert webhook["validatingWebhookConfigurationAnnotations"] == wait
    assert webhook["mutatingWebhookConfigurationAnnotations"] == wait


@pytest.mark.parametrize("stack", CASES)
@pytest.mark.parametrize("release", ["cert-manager", "traefik"])
def test_values_pass_the_upstream_schema_and_use_known_keys(ingress_run, stack, release):
    values = _chart(ingress_run(stack), release)
    assert schema_errors(release, values) == []
    assert set(_unknown_keys(values, defaults(release))) <= OPEN_KEYS


def test_a_misplaced_key_the_schema_lets_through_is_caught():
    # Before traefik chart 40 the Service type was `service.type`; the schema still accepts it.
    misplaced = {"service": {"type": "NodePort"}}
    assert schema_errors("traefik", misplaced) == []
    assert _unknown_keys(misplaced, defaults("traefik")) == ["service.type"]


def test_an_existing_ingress_class_replaces_traefik(project):
    from tools.offline import run_program

    config = project.config("example-kubeadm")
    config["persistent-binderhub:ingress"] = {"existingClass": "nginx"}
    project.write_config("example-kubeadm", config)
    run = run_program("example-kubeadm", project.root)
    charts = {r.name: r for r in run.of_type("kubernetes:helm.sh/v4:Chart")}
    assert "traefik" not in charts
    assert "cert-manager" in charts
    assert charts["jupyterhub"].inputs["values"]["ingress"]["ingressClassName"] == "nginx"
    assert charts["binderhub"].inputs["values"]["ingress"]["ingressClassName"] == "nginx"
    issuers = run.of_type("kubernetes:cert-manager.io/v1:ClusterIssuer")
    solvers = {i.inputs["spec"]["acme"]["solvers"][0]["http01"]["ingress"]["ingressClassName"] for i in issuers}
    assert solvers == {"nginx"}


@pytest.mark.parametrize(("stack", "service_type"), [("local", "NodePort"), ("example-kubeadm", "LoadBalancer"),
                                                     ("example-gke", "LoadBalancer")])
def test_each_platform_says_how_its_entry_point_is_exposed(example_runs, stack, service_type):
    """The whole program: the existing platform hands over node ports, the others a load balancer."""
    _, values = release(example_runs, stack, "traefik")
    assert values["service"]["spec"]["type"] == service_type
