"""The Harbor component on its own: served through the ingress, its secrets generated and kept."""

from __future__ import annotations

import pytest

from tests.program.components_alone import run_alone
from tools.offline import CHART_TYPE, MASKED, OfflineRun

HARBOR = """
    import pulumi
    import pulumi_kubernetes as kubernetes
    from components.cluster import Placement
    from components.harbor import Harbor, HarborArgs, push_egress
    from components.ingress import TRAEFIK
    from components.settings import Charts, HarborSettings

    provider = kubernetes.Provider("test-kubernetes")
    harbor = Harbor("harbor", HarborArgs(
        HarborSettings(hostname="registry.example.org", retentionDays=7, storageSize="50Gi"),
        admin_password=pulumi.Output.secret("admin-password"), charts=Charts(), ingress_class="nginx",
        issuer="letsencrypt-staging", storage_class="keep", placement=Placement({"pool": "core"}),
        push_egress=push_egress("10.0.0.5", TRAEFIK)),
        pulumi.ResourceOptions(provider=provider))
    access = harbor.access
    pulumi.export("access", {"url": access.url, "image_prefix": access.image_prefix, "username": access.username,
                             "pull_secret": access.pull_secret, "push_egress": list(access.push_egress)})
"""


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> OfflineRun:
    return run_alone(tmp_path_factory.mktemp("harbor"), HARBOR)


def _values(run: OfflineRun) -> dict:
    return run.named(CHART_TYPE, "harbor").inputs["values"]


def test_harbor_is_served_by_the_given_ingress_with_a_certificate(run):
    expose = _values(run)["expose"]
    assert expose["type"] == "ingress"
    assert expose["ingress"] == {"hosts": {"core": "registry.example.org"}, "className": "nginx",
                                 "annotations": {"cert-manager.io/cluster-issuer": "letsencrypt-staging"}}
    assert expose["tls"] == {"enabled": True, "certSource": "secret", "secret": {"secretName": "harbor-tls"}}
    assert _values(run)["externalURL"] == "https://registry.example.org"


def test_what_binderhub_gets_to_push_and_pull(run):
    assert run.outputs["access"] == {
        "url": "https://registry.example.org", "image_prefix": "registry.example.org/binder/binder-",
        "username": "robot$binder+binderhub", "pull_secret": True, "push_egress": [
            {"to": [{"ipBlock": {"cidr": "10.0.0.5/32"}}], "ports": [{"port": 443, "protocol": "TCP"}]},
            # in the cluster, traffic to the ingress address reaches a Traefik pod, on its own port
            {"to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "traefik"}},
                     "podSelector": {"matchLabels": {"app.kubernetes.io/name": "traefik"}}}],
             "ports": [{"port": 8443, "protocol": "TCP"}]}]}


def test_harbor_runs_on_the_core_nodes_and_is_recreated_not_rolled(run):
    values = _values(run)
    assert values["updateStrategy"] == {"type": "Recreate"}  # ReadWriteOnce volumes
    for workload in ("portal", "core", "jobservice", "registry", "trivy", "exporter"):
        assert values[workload]["nodeSelector"] == {"pool": "core"}, workload
        assert values[workload]["tolerations"] == []
    assert values["database"]["internal"]["nodeSelector"] == {"pool": "core"}
    assert values["redis"]["internal"]["nodeSelector"] == {"pool": "core"}


def test_images_are_kept_on_the_given_class(run):
    claims = _values(run)["persistence"]["persistentVolumeClaim"]
    assert claims["registry"] == {"storageClass": "keep", "size": "50Gi"}
    assert {claim["storageClass"] if "storageClass" in claim else claim["jobLog"]["storageClass"]
            for claim in claims.values()} == {"keep"}


def test_the_setup_job_keeps_the_retention_and_reads_its_secrets_from_a_secret(run):
    job = run.of_type("kubernetes:batch/v1:Job")[0].inputs
    container = job["spec"]["template"]["spec"]["containers"][0]
    assert {"name": "RETENTION_DAYS", "value": "7"} in container["env"]
    assert container["envFrom"] == [{"secretRef": {"name": "harbor-setup"}}]
    credentials = run.named("kubernetes:core/v1:Secret", "harbor-setup-credentials")
    assert credentials.inputs["stringData"] == MASKED
    assert _values(run)["harborAdminPassword"] == MASKED


def test_harbors_own_keys_are_generated_once_and_kept_secret(run):
    values = _values(run)
    # Left unset, the chart would make these afresh on every render (or ship a known key).
    assert values["secretKey"] == values["core"]["secret"] == values["core"]["xsrfKey"] == MASKED
    assert values["jobservice"]["secret"] == values["registry"]["secret"] == MASKED
    assert values["database"]["internal"]["password"] == MASKED
    assert values["core"]["secretName"] == "harbor-token"
    assert values["registry"]["credentials"]["existingSecret"] == "harbor-registry-credentials"
    secrets = {r.name: r for r in run.of_type("kubernetes:core/v1:Secret")}
    assert secrets["harbor-token"].inputs["type"] == "kubernetes.io/tls"
    assert secrets["harbor-registry-credentials"].inputs["stringData"] == MASKED
    assert run.of_type("tls:index/selfSignedCert:SelfSignedCert")


def test_every_child_is_under_the_component(run):
    (component,) = run.of_type("persistent-binderhub:registry:Harbor")
    for resource in run.resources:
        if resource.name != "test-kubernetes" and resource is not component:
            assert resource.parent == component.urn, resource.name
