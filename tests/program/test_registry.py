"""The registry choice and the pull secret, each on its own."""

from __future__ import annotations

import base64
import json

import pytest

from tests.program.components_alone import run_alone
from tests.program.conftest import unwrapped
from tools.offline import MASKED, RecordingMonitor

CHOICE = """
    import pulumi
    from components.cluster import RegistryAccess
    from components.registry import choose_registry
    from components.secrets import StackSecrets
    from tests.program.stand_ins import HandMadeCluster, HandMadeIngress, settings_of

    settings = settings_of(pulumi.get_stack())
    own = RegistryAccess(url="https://own.example.org", image_prefix="own.example.org/b-")
    cluster = HandMadeCluster(ingress_address="192.0.2.10", platform_registry=own)
    secrets = StackSecrets({"registry_password": pulumi.Output.secret("pw"),
                            "harbor_admin_password": pulumi.Output.secret("admin")})
    registry = choose_registry(settings, secrets, cluster, HandMadeIngress())
    pulumi.export("registry", {"url": registry.url, "image_prefix": registry.image_prefix,
                               "pull_secret": registry.pull_secret, "push_rules": len(registry.push_egress)})
"""


@pytest.mark.parametrize(("stack", "expected"), [
    ("local", {"url": "http://kind-registry:5000", "image_prefix": "kind-registry:5000/binder-",
               "pull_secret": False, "push_rules": 1}),
    ("example-gke", {"url": "https://own.example.org", "image_prefix": "own.example.org/b-", "pull_secret": False,
                     "push_rules": 0}),
    ("example-kubeadm", {"url": "https://registry.lab.example.org", "image_prefix": "registry.lab.example.org/binder/",
                         "pull_secret": True, "push_rules": 0}),
    ("example-magnum", {"url": "https://registry.binder.cloud.example.org",
                        "image_prefix": "registry.binder.cloud.example.org/binder/binder-", "pull_secret": True,
                        "push_rules": 2}),
])
def test_the_stacks_registry_whatever_the_platform(tmp_path, stack, expected):
    run = run_alone(tmp_path, CHOICE, stack)
    assert run.outputs["registry"] == expected
    harbors = run.of_type("persistent-binderhub:registry:Harbor")
    assert len(harbors) == (stack == "example-magnum")  # only a Harbor stack makes one


def test_the_pull_secret_holds_the_registry_credentials(tmp_path):
    monitor = RecordingMonitor()
    run = run_alone(tmp_path, """
        import pulumi
        import pulumi_kubernetes as kubernetes
        from components.cluster import RegistryAccess
        from components.registry import PullSecret, PullSecretArgs

        provider = kubernetes.Provider("test-kubernetes")
        registry = RegistryAccess(url="https://registry.example.org/", image_prefix="registry.example.org/b-",
                                  username="robot", password=pulumi.Output.secret("robot-secret"), pull_secret=True)
        PullSecret("registry-pull", PullSecretArgs(registry, namespace="hub"),
                   pulumi.ResourceOptions(provider=provider))
    """, monitor=monitor)
    secret = run.named("kubernetes:core/v1:Secret", "registry-pull")
    assert secret.parent == run.of_type("persistent-binderhub:registry:PullSecret")[0].urn
    assert secret.inputs["metadata"] == {"name": "binder-registry-pull", "namespace": "hub"}
    assert secret.inputs["type"] == "kubernetes.io/dockerconfigjson"
    assert secret.inputs["stringData"] == MASKED
    given = unwrapped(monitor.resources[secret.urn].state)["stringData"][".dockerconfigjson"]
    auth = base64.b64encode(b"robot:robot-secret").decode()
    assert json.loads(given) == {"auths": {"registry.example.org": {
        "username": "robot", "password": "robot-secret", "auth": auth}}}


@pytest.mark.parametrize(("host", "port"), [("kind-registry:5000", 5000), ("registry.lan", 80)])
def test_a_local_registry_without_a_port_is_plain_http_on_port_80(tmp_path, host, port):
    run = run_alone(tmp_path, f"""
        import pulumi
        from components.registry import choose_registry
        from components.secrets import StackSecrets
        from tests.program.stand_ins import HandMadeCluster, HandMadeIngress, settings_of

        settings = settings_of("local", lambda c: c["persistent-binderhub:registry"].update(local={{"host": {host!r}}}))
        registry = choose_registry(settings, StackSecrets({{}}), HandMadeCluster(), HandMadeIngress())
        pulumi.export("registry", {{"url": registry.url, "egress": list(registry.push_egress)}})
    """)
    assert run.outputs["registry"]["url"] == f"http://{host}"
    assert run.outputs["registry"]["egress"][0]["ports"] == [{"port": port, "protocol": "TCP"}]
