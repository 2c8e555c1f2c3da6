"""The policy pack's rules: every example stack passes; a render tampered with one violation is
reported with that rule's message; the offline checker's exit codes; a downgrade's reason; and
the pack itself built from exactly the rules the checker runs."""

from __future__ import annotations

import copy
import json
import runpy
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

import pulumi_policy
import pytest

from components.errors import OperatorError
from policies.rules import RULE_NAMES, RULES
from tests.program.conftest import EXAMPLE_STACKS
from tools import policy
from tools.offline import REPO


@pytest.fixture
def renders(example_renders) -> dict[str, Path]:
    return example_renders


def _findings(directory: Path) -> list[policy.Finding]:
    return policy.check(*policy.read_render(directory))


@pytest.mark.parametrize("stack", EXAMPLE_STACKS)
def test_every_example_stack_passes_every_rule(renders, stack):
    findings = _findings(renders[stack])
    assert [f for f in findings if f.mandatory] == []
    if stack == "example-kubeadm":  # its NFS classes cannot grow: the rule is downgraded, with the reason
        assert {f.rule.name for f in findings} == {"storage-keeps-volumes"}
        assert all("[downgraded to advisory by the stack: The NFS provisioner cannot grow" in f.message
                   for f in findings)
    else:
        assert findings == []


# --- one violation at a time ------------------------------------------------------------------


def _resource(document: dict, type_: str, name: str) -> dict:
    return next(r for r in document["resources"] if r["type"] == type_ and r["name"] == name)


def _chart(document: dict, chart: str) -> dict:
    return next(r for r in document["resources"] if r["type"] == "kubernetes:helm.sh/v4:Chart"
                and r["inputs"]["chart"] == chart)


def _values(document: dict, chart: str) -> dict:
    return _chart(document, chart)["inputs"]["values"]


def _protect(type_: str, name: str) -> Callable[[dict], None]:
    def tamper(document: dict) -> None:
        _resource(document, type_, name)["options"]["protect"] = False
    return tamper


def _set(chart: str, path: str, value) -> Callable[[dict], None]:
    def tamper(document: dict) -> None:
        *parents, last = path.split(".")
        node = _values(document, chart)
        for part in parents:
            node = node.setdefault(part, {})
        if value is _DELETE:
            del node[last]
        else:
            node[last] = value
    return tamper


def _inputs(type_: str, name: str, change: Callable[[dict], None]) -> Callable[[dict], None]:
    def tamper(document: dict) -> None:
        change(_resource(document, type_, name)["inputs"])
    return tamper


def _add_service(document: dict, parent_chart: str | None = None) -> None:
    """A NodePort Service, as a chart's child (as a real preview shows a chart's objects) or on its own."""
    parent = _chart(document, parent_chart)["urn"] if parent_chart else None
    document["resources"].append({
        "type": "kubernetes:core/v1:Service", "name": "debug", "custom": True, "parent": parent,
        "urn": "urn:pulumi:example-gke::persistent-binderhub::kubernetes:core/v1:Service::debug",
        "inputs": {"metadata": {"name": "debug"}, "spec": {"type": "NodePort"}}, "options": {"protect": False}})


_DELETE = object()
SC = "kubernetes:storage.k8s.io/v1:StorageClass"
TAMPERED = [
    ("storage-keeps-volumes", "example-gke", _inputs(SC, "user-homes", lambda i: i.update(reclaimPolicy="Delete")),
     "StorageClass user-homes has reclaimPolicy 'Delete'"),
    ("storage-keeps-volumes", "local", _inputs(SC, "hub-db", lambda i: i.pop("allowVolumeExpansion")),
     "StorageClass hub-db does not allow volume expansion"),
    ("hub-keeps-users-and-volumes", "example-gke", _set("jupyterhub", "cull.users", True), "culls users"),
    ("hub-keeps-users-and-volumes", "example-gke", _set("jupyterhub", "hub.config.KubeSpawner.delete_pvc", True),
     "sets hub.config.KubeSpawner.delete_pvc: true"),
    ("hub-keeps-users-and-volumes", "example-magnum",
     _set("jupyterhub", "hub.extraConfig.zz-mine", "c.KubeSpawner.delete_pvc = True"),
     "hub.extraConfig.zz-mine sets delete_pvc = True"),
    ("hub-keeps-users-and-volumes", "local", _set("jupyterhub", "singleuser.storage.type", "none"),
     "gives users no persistent storage"),
    ("data-resources-protected", "example-gke", _protect("kubernetes:core/v1:Namespace", "binderhub"),
     "Namespace binderhub holds every user's volume claim and is not protected"),
    ("data-resources-protected", "example-gke", _protect("gcp:artifactregistry/repository:Repository",
                                                        "cluster-images"), "is the registry of every built image"),
    ("data-resources-protected", "example-magnum", _protect("kubernetes:helm.sh/v4:Chart", "harbor"),
     "The Harbor release harbor holds every built image and is not protected"),
    ("data-resources-protected", "example-magnum", _protect("openstack:networking/floatingIp:FloatingIp",
                                                           "cluster-ingress"), "the ingress's floating IP"),
    ("monitoring-keeps-data-and-grafana-closed", "example-gke",
     _set("kube-prometheus-stack", "prometheus.prometheusSpec.storageSpec", _DELETE), "in the pod only"),
    ("monitoring-keeps-data-and-grafana-closed", "example-magnum",
     lambda d: _values(d, "kube-prometheus-stack")["grafana"]["grafana.ini"]["auth.anonymous"].update(enabled=True),
     "Grafana lets anonymous users in"),
    ("monitoring-keeps-data-and-grafana-closed", "example-magnum",
     lambda d: _values(d, "kube-prometheus-stack")["grafana"].pop("adminPassword"),
     "Grafana has no admin password of its own"),
    ("ingress-has-tls-for-the-stacks-domains", "example-gke",
     lambda d: _values(d, "kube-prometheus-stack")["grafana"]["ingress"].update(tls=[]),
     "serves grafana.binder.example.org without TLS"),
    ("only-the-ingress-is-exposed", "example-gke", _set("jupyterhub", "proxy.service.type", _DELETE),
     "exposes a Service of type LoadBalancer (proxy.service.type, the chart default)"),
    ("only-the-ingress-is-exposed", "example-gke", _add_service, "Service debug is of type NodePort"),
    ("only-the-ingress-is-exposed", "example-gke", lambda d: _add_service(d, "jupyterhub"),
     "Service debug is of type NodePort"),
    ("ingress-has-tls-for-the-stacks-domains", "example-gke", _set("jupyterhub", "ingress.tls", []),
     "serves hub.binder.example.org without TLS"),
    ("ingress-has-tls-for-the-stacks-domains", "example-magnum",
     _set("binderhub-service", "ingress.hosts", ["binder.elsewhere.example.com"]),
     "serves binder.elsewhere.example.com, which is none of the stack's domains"),
    ("ingress-has-tls-for-the-stacks-domains", "example-magnum", _set("harbor", "expose.tls.enabled", False),
     "serves registry.binder.cloud.example.org without TLS"),
    ("network-policies-on", "example-gke", _set("jupyterhub", "singleuser.networkPolicy.enabled", False),
     "has no network policy for user servers"),
    ("network-policies-on", "local", _set("binderhub-service", "networkPolicy.enabled", False),
     "has no network policy for BinderHub and its builds"),
    ("access-is-explicit", "example-gke", _set("jupyterhub", "hub.config.JupyterHub.authenticator_class", "dummy"),
     "uses the dummy authenticator"),
    ("access-is-explicit", "example-gke", _set("jupyterhub", "hub.config.GitHubOAuthenticator.allowed_organizations",
                                               []), "GitHubOAuthenticator names nobody who may sign in"),
    ("access-is-explicit", "example-magnum", _set("jupyterhub", "hub.config.GenericOAuthenticator.allowed_groups",
                                                  []), "GenericOAuthenticator names nobody who may sign in"),
    ("access-is-explicit", "example-gke", lambda d: (
        _set("jupyterhub", "hub.config.GitHubOAuthenticator.allowed_organizations", [])(d),
        _set("jupyterhub", "hub.config.GitHubOAuthenticator.allow_all", True)(d)),
     "allow_all would let anyone with a GitHub account in"),
    ("access-is-explicit", "local", _set("binderhub-service", "config.BinderHub.auth_enabled", False),
     "BinderHub runs without authentication"),
    ("servers-and-pools-are-bounded", "example-gke", _set("jupyterhub", "singleuser.memory.limit", None),
     "User servers have no memory limit"),
    ("servers-and-pools-are-bounded", "example-gke", _inputs("gcp:container/nodePool:NodePool", "cluster-user",
                                                             lambda i: i["autoscaling"].pop("maxNodeCount")),
     "Node pool cluster-user autoscales without an upper bound"),
    ("servers-and-pools-are-bounded", "example-magnum", _inputs("openstack:containerinfra/nodeGroup:NodeGroup",
                                                                "cluster-user", lambda i: i.pop("maxNodeCount")),
     "Node group cluster-user has no maxNodeCount"),
    ("versions-and-images-are-pinned", "example-gke",
     lambda d: _chart(d, "traefik")["inputs"].update(version="^41.3.0"),
     "Chart traefik (traefik) is not pinned to an exact version ('^41.3.0')"),
    ("versions-and-images-are-pinned", "local",
     _set("jupyterhub", "hub.config.PersistentBinderSpawner.maintenance_image", "quay.io/jupyterhub/tools:latest"),
     "maintenance_image is 'quay.io/jupyterhub/tools:latest' with tag latest"),
    ("versions-and-images-are-pinned", "example-gke", _set("jupyterhub", "singleuser.image", {"name": "my/image"}),
     "singleuser.image is an image without a tag or digest"),
    ("versions-and-images-are-pinned", "example-magnum",
     _inputs("kubernetes:batch/v1:Job", "harbor-setup",
             lambda i: i["spec"]["template"]["spec"]["containers"][0].update(image="docker.io/curlimages/curl")),
     "is 'docker.io/curlimages/curl' without a tag or digest"),
    ("charts-past-security-releases", "example-gke",
     lambda d: _chart(d, "cert-manager")["inputs"].update(version="v1.16.1"),
     "Chart cert-manager v1.16.1 is older than 1.16.2 (2024-12)"),
    ("gke-nodes-are-private", "example-gke",
     _inputs("gcp:container/cluster:Cluster", "cluster",
             lambda i: i["privateClusterConfig"].update(enablePrivateNodes=False)),
     "gives its nodes public addresses"),
    ("registry-has-cleanup-policy", "example-gke",
     _inputs("gcp:artifactregistry/repository:Repository", "cluster-images", lambda i: i.update(cleanupPolicies=[])),
     "has no cleanup policy"),
]


def _tampered(renders: dict[str, Path], stack: str, tamper, target: Path) -> Path:
    shutil.copytree(renders[stack], target)
    document = json.loads((target / "resources.json").read_text())
    tamper(document)
    (target / "resources.json").write_text(json.dumps(document))
    return target


def test_every_rule_has_a_tampered_render():
    assert {rule for rule, *_ in TAMPERED} == set(RULE_NAMES)


@pytest.mark.parametrize("case", TAMPERED, ids=[f"{rule}-{index}" for index, (rule, *_) in enumerate(TAMPERED)])
def test_a_tampered_render_is_reported_with_the_rules_message(renders, tmp_path, case):
    rule, stack, tamper, message = case
    findings = _findings(_tampered(renders, stack, tamper, tmp_path / "render"))
    assert {f.rule.name for f in findings} == {rule}
    assert any(message in f.message for f in findings), [f.message for f in findings]
    assert all(f.mandatory == (not f.rule.advisory) and f.violation.urn for f in findings)


def test_tls_is_not_asked_of_the_local_stack(renders, tmp_path):
    directory = _tampered(renders, "local", _set("jupyterhub", "ingress.tls", []), tmp_path / "render")
    assert _findings(directory) == []


# --- the command line ----------------------------------------------------------------------------


def test_exit_codes_say_pass_fail_and_bad_input(renders, tmp_path, capsys):
    assert policy.main([str(renders["example-gke"])]) == 0
    failing = _tampered(renders, "example-gke", _set("jupyterhub", "cull.users", True), tmp_path / "failing")
    assert policy.main([str(failing)]) == 1
    out = capsys.readouterr().out
    assert "mandatory  hub-keeps-users-and-volumes: The JupyterHub chart culls users" in out
    assert "policy: 1 mandatory violation(s), 0 advisory" in out
    advisory = _tampered(renders, "example-gke", _inputs("gcp:artifactregistry/repository:Repository",
                                                         "cluster-images", lambda i: i.update(cleanupPolicies=[])),
                         tmp_path / "advisory")
    assert policy.main([str(advisory)]) == 0
    assert policy.main([str(tmp_path / "nowhere")]) == 2
    assert "no resources.json, so this is not a render" in capsys.readouterr().err
    (failing / "resources.json").write_text("{not json")
    assert policy.main([str(failing)]) == 2


def test_a_downgraded_rule_is_reported_with_its_reason_and_does_not_fail(renders, tmp_path, capsys):
    directory = _tampered(renders, "example-gke", _set("jupyterhub", "cull.users", True), tmp_path / "render")
    config = json.loads((directory / policy.CONFIG_FILE).read_text())
    config["hub-keeps-users-and-volumes"] = {"enforcementLevel": "advisory", "reason": "a test of the downgrade"}
    (directory / policy.CONFIG_FILE).write_text(json.dumps(config))
    assert policy.main([str(directory)]) == 0
    assert ("advisory   hub-keeps-users-and-volumes: The JupyterHub chart culls users (cull.users: true): an idle "
            "user would be deleted") in capsys.readouterr().out


def test_the_pack_config_of_a_stack_names_its_downgrades_and_domains():
    assert policy.stack_config("example-magnum")["ingress-has-tls-for-the-stacks-domains"] == {
        "domains": ["hub.binder.cloud.example.org", "binder.cloud.example.org", "registry.binder.cloud.example.org",
                    "grafana.binder.cloud.example.org"]}
    kubeadm = policy.stack_config("example-kubeadm")
    assert kubeadm["storage-keeps-volumes"]["enforcementLevel"] == "advisory"
    assert kubeadm["storage-keeps-volumes"]["reason"].startswith("The NFS provisioner cannot grow a volume")


@pytest.mark.parametrize(("downgrade", "message"), [
    ({"no-such-rule": "a reason that is long enough"}, "downgrade.no-such-rule: is no mandatory rule"),
    ({"gke-nodes-are-private": "a reason that is long enough"}, "downgrade.gke-nodes-are-private: is no mandatory"),
    ({"cull-users": "short"}, "at least 20 characters"),
])
def test_a_downgrade_must_name_a_mandatory_rule_and_say_why(tmp_path, downgrade, message):
    shutil.copytree(REPO / "stacks", tmp_path / "stacks")
    shutil.copytree(REPO / "secrets", tmp_path / "secrets")
    stack_file = tmp_path / "stacks" / "Pulumi.local.yaml"
    stack_file.write_text(stack_file.read_text() + "  persistent-binderhub:policy:\n    downgrade: "
                          + json.dumps(downgrade) + "\n")
    with pytest.raises(OperatorError, match=message):
        policy.stack_config("local", tmp_path)


# --- the pack ---------------------------------------------------------------------------------------


@pytest.fixture
def pack(monkeypatch) -> dict:
    """What policies/__main__.py gives PolicyPack (whose constructor would start a gRPC server)."""
    built: dict = {}
    monkeypatch.setattr(pulumi_policy, "PolicyPack", lambda **kwargs: built.update(kwargs))
    monkeypatch.syspath_prepend(str(REPO / "policies"))
    for name in [m for m in sys.modules if m == "rules" or m.startswith("rules.")]:
        monkeypatch.delitem(sys.modules, name)
    runpy.run_path(str(REPO / "policies" / "__main__.py"), run_name="__main__")
    return built


def test_the_pack_is_built_from_exactly_the_rules_the_checker_runs(pack):
    assert pack["name"] == "persistent-binderhub"
    assert [p.name for p in pack["policies"]] == list(RULE_NAMES)
    levels = {p.name: p.enforcement_level for p in pack["policies"]}
    assert levels == {rule.name: pulumi_policy.EnforcementLevel.ADVISORY if rule.advisory
                      else pulumi_policy.EnforcementLevel.MANDATORY for rule in RULES}


def test_the_packs_policies_report_what_the_checker_reports(pack, renders, tmp_path):
    directory = _tampered(renders, "example-gke", _set("jupyterhub", "cull.users", True), tmp_path / "render")
    document = json.loads((directory / "resources.json").read_text())
    resources = [pulumi_policy.PolicyResource(
        r["type"], copy.deepcopy(r["inputs"]), r["urn"], r["name"],
        pulumi_policy.PolicyResourceOptions(r["options"]["protect"], [], None, [], None, []), None, None, [], {})
        for r in document["resources"]]
    reason = {"enforcementLevel": "advisory", "reason": "a test of the downgrade"}
    reported = []
    for each in pack["policies"]:
        config = reason if each.name == "hub-keeps-users-and-volumes" else {}
        each.validate(pulumi_policy.StackValidationArgs(resources, config),
                      lambda message, urn=None, name=each.name: reported.append((name, message, urn)))
    stack, _ = policy.read_render(directory)
    expected = [(f.rule.name, f.message, f.violation.urn)
                for f in policy.check(stack, {"hub-keeps-users-and-volumes": reason})]
    assert reported == expected
    assert "[downgraded to advisory by the stack: a test of the downgrade]" in reported[0][1]


def test_open_sign_up_through_oidc_is_explicit_enough(renders, tmp_path):
    def allow_all(document: dict) -> None:
        _set("jupyterhub", "hub.config.GenericOAuthenticator.allowed_groups", [])(document)
        _set("jupyterhub", "hub.config.GenericOAuthenticator.allow_all", True)(document)
    assert _findings(_tampered(renders, "example-magnum", allow_all, tmp_path / "render")) == []


def test_the_ingress_controllers_own_service_is_the_way_in(renders, tmp_path):
    directory = _tampered(renders, "local", lambda d: _add_service(d, "traefik"), tmp_path / "render")
    assert _findings(directory) == []
