"""The JupyterHub and BinderHub components on their own, each built from hand-made args."""

from __future__ import annotations

import pytest

from tools.offline import CHART_TYPE, MASKED, OfflineRun, run_program

# Everything here is made by hand: no stack's settings, secrets or platform are read.
PROGRAM = """
import pulumi

from components.binderhub import BinderHub, BinderHubArgs
from components.cluster import Placement, RegistryAccess
from components.endpoints import Endpoints
from components.generated_secrets import GeneratedSecrets
from components.jupyterhub import JupyterHub, JupyterHubArgs
from components.secrets import StackSecrets
from components.settings import Auth, Binder, Charts, HubDatabase, Persistence, Servers, Storage
from tests.program.stand_ins import HandMadeCluster, HandMadeIngress

PUSH_EGRESS = __PUSH_EGRESS__
registry = RegistryAccess(url="https://registry.example.org", image_prefix="registry.example.org/binder/b-",
                          username="robot", password=pulumi.Output.secret("robot-secret"), pull_secret=True,
                          push_egress=PUSH_EGRESS)
cluster = HandMadeCluster(core=Placement({"pool": "core"}), user=Placement({"pool": "user"}),
                          build=Placement({"pool": "build"}), ingress_address="192.0.2.10")
provider = cluster.provider
secrets = StackSecrets({"oauth_client_secret": pulumi.Output.secret("oidc-secret"),
                        "hub_database_url": pulumi.Output.secret("postgresql://hub:pw@db/hub")})
endpoints = Endpoints("hub.example.org", "binder.example.org", tls=True)
auth = Auth.model_validate({"type": "oidc", "oidc": {"issuerUrl": "https://id.example.org/realms/r",
                                                      "clientId": "hub", "allowAll": True}})
hub = JupyterHub("jupyterhub", JupyterHubArgs(
    endpoints, auth, Persistence(), Servers(), Storage(), HubDatabase(type="postgres"), Charts(), secrets,
    GeneratedSecrets("chart-secrets"), cluster, registry, HandMadeIngress()), pulumi.ResourceOptions(provider=provider))
BinderHub("binderhub", BinderHubArgs(endpoints, Binder(), Charts(), StackSecrets({}), cluster, registry,
                                     HandMadeIngress()),
          pulumi.ResourceOptions(provider=provider, depends_on=[hub.release]))
"""

POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
PUSH_RULES = ({"to": [{"ipBlock": {"cidr": "192.0.2.10/32"}}], "ports": [{"port": 443, "protocol": "TCP"}]},)


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[bool, OfflineRun]:
    """One run with a registry whose pushes need egress rules (Harbor-like), one without."""
    tmp = tmp_path_factory.mktemp("hub-components")
    found = {}
    for needs_rules in (True, False):
        program = tmp / f"hub-components-{needs_rules}.py"
        program.write_text(PROGRAM.replace("__PUSH_EGRESS__", repr(PUSH_RULES if needs_rules else ())))
        found[needs_rules] = run_program("local", program=program)
    return found


def _values(run: OfflineRun, release: str) -> dict:
    return run.named(CHART_TYPE, release).inputs["values"]


def test_each_chart_is_a_child_of_its_component(runs):
    run = runs[True]
    for component, release in (("JupyterHub", "jupyterhub"), ("BinderHub", "binderhub")):
        (owner,) = run.of_type(f"persistent-binderhub:hub:{component}")
        assert run.named(CHART_TYPE, release).parent == owner.urn
    assert run.named(POLICY, "binderhub-registry-egress").parent == run.of_type(
        "persistent-binderhub:hub:BinderHub")[0].urn


def test_a_registry_that_needs_egress_rules_gets_them_and_no_other_does(runs):
    policy = runs[True].named(POLICY, "binderhub-registry-egress")
    assert policy.inputs["spec"]["egress"] == list(PUSH_RULES)
    assert runs[False].of_type(POLICY) == []


def test_the_hub_is_built_from_its_args_alone(runs):
    values = _values(runs[True], "jupyterhub")
    config = values["hub"]["config"]
    assert config["GenericOAuthenticator"]["oauth_callback_url"] == "https://hub.example.org/hub/oauth_callback"
    assert config["GenericOAuthenticator"]["client_secret"] == MASKED
    assert values["hub"]["db"] == {"type": "postgres", "url": MASKED}
    assert values["hub"]["services"]["binder"]["oauth_redirect_uri"] == "https://binder.example.org/oauth_callback"
    # Persistence left unset: the spawner's own defaults, so neither is written.
    assert config["PersistentBinderSpawner"] == {
        "allowed_image_prefixes": ["registry.example.org/binder/b-"], "binder_url": "https://binder.example.org/",
        "home_mount_path": "/home/jovyan", "maintenance_image": "quay.io/jupyterhub/k8s-network-tools:4.4.0",
        "delete_pvc": False}
    assert values["imagePullSecrets"] == ["binder-registry-pull"]
    assert values["singleuser"]["nodeSelector"] == {"pool": "user"}
    assert values["ingress"]["tls"] == [{"hosts": ["hub.example.org"], "secretName": "hub-tls"}]


def test_binderhub_is_built_from_its_args_alone(runs):
    values = _values(runs[True], "binderhub")
    assert values["config"]["BinderHub"]["hub_url"] == "https://hub.example.org/"
    assert values["config"]["BinderHub"]["badge_base_url"] == "https://binder.example.org/"
    assert values["config"]["DockerRegistry"] == {"url": "https://registry.example.org", "username": "robot",
                                                  "password": MASKED}
    assert "GitHubRepoProvider" not in values["config"]  # no token among its secrets
    assert values["dockerApi"]["nodeSelector"] == {"pool": "build"}
