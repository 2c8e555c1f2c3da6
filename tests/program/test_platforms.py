"""Each platform component on its own, from hand-made args: the cluster it hands over."""

from __future__ import annotations

import textwrap

import pytest

from tests.program.components_alone import run_alone
from tools.offline import MASKED

HAND_OVER = """
    pulumi.export("kubeconfig", cluster.kubeconfig)  # a secret: on its own, so that the rest can be read
    pulumi.export("cluster", {
        "kubernetes_version": cluster.kubernetes_version,
        "core": cluster.core.chart_values(), "user": cluster.user.chart_values(),
        "build": cluster.build.chart_values(), "ingress_address": cluster.ingress_address,
        "ingress_on_node_ports": cluster.ingress_on_node_ports, "storage_classes": list(cluster.storage_classes),
        "platform_registry": cluster.platform_registry and cluster.platform_registry.image_prefix,
        "depends_on": len(cluster.depends_on)})
"""
USER_TAINT = [{"key": "hub.jupyter.org/dedicated", "operator": "Equal", "value": "user", "effect": "NoSchedule"}]


def _platform(tmp_path, stack: str, build: str):
    """Run `build`, which makes `cluster`, and export what it hands over."""
    prelude = "import pulumi\nfrom tests.program.stand_ins import settings_of\n"
    run = run_alone(tmp_path, prelude + textwrap.dedent(build) + textwrap.dedent(HAND_OVER), stack)
    assert run.outputs["kubeconfig"] == MASKED
    return run, run.outputs["cluster"]


@pytest.mark.parametrize(("existing", "classes"), [
    ("Existing()", ["user-homes", "hub-db"]),
    ("Existing(storageClass='standard', kubernetesVersion='1.32')", ["standard", "standard"]),
])
def test_an_existing_cluster(tmp_path, existing, classes):
    run, cluster = _platform(tmp_path, "local", f"""
        from components.platforms.existing import ExistingCluster, ExistingClusterArgs
        from components.settings import Existing
        cluster = ExistingCluster("cluster", ExistingClusterArgs({existing}))
    """)
    assert cluster["storage_classes"] == classes
    made = {r.name for r in run.of_type("kubernetes:storage.k8s.io/v1:StorageClass")}
    assert made == ({"user-homes", "hub-db"} if classes[0] == "user-homes" else set())
    assert cluster["ingress_on_node_ports"] is True
    assert cluster["ingress_address"] is None
    assert cluster["core"] == cluster["user"] == cluster["build"] == {"nodeSelector": {}, "tolerations": []}


@pytest.mark.parametrize("artifact_registry", [True, False])
def test_gke_makes_its_registry_only_when_chosen(tmp_path, artifact_registry):
    run, cluster = _platform(tmp_path, "example-gke", f"""
        from components.platforms.gke import GkeCluster, GkeClusterArgs
        from components.settings import ArtifactRegistry
        gke = settings_of("example-gke").gke
        cluster = GkeCluster("cluster", GkeClusterArgs(gke, ArtifactRegistry() if {artifact_registry} else None))
    """)
    repositories = run.of_type("gcp:artifactregistry/repository:Repository")
    assert len(repositories) == artifact_registry
    assert cluster["platform_registry"] == (
        "europe-west1-docker.pkg.dev/example-binder-123/binder/binder-" if artifact_registry else None)
    assert cluster["ingress_address"] == "203.0.113.20"
    assert cluster["ingress_on_node_ports"] is False
    gke_taint = [{**USER_TAINT[0], "key": "hub.jupyter.org_dedicated"}]  # GKE refuses `/` in taint keys
    assert cluster["user"] == {"nodeSelector": {"hub.jupyter.org/node-purpose": "user"}, "tolerations": gke_taint}
    assert cluster["depends_on"] == len(run.of_type("gcp:container/nodePool:NodePool"))
    (component,) = run.of_type("persistent-binderhub:platform:GkeCluster")
    for resource in run.of_type("gcp:container/nodePool:NodePool"):
        assert resource.parent == component.urn
        assert resource.options["provider"].endswith("::cluster-gcp")


def test_magnum(tmp_path):
    run, cluster = _platform(tmp_path, "example-magnum", """
        from components.platforms.magnum import MagnumCluster, MagnumClusterArgs
        cluster = MagnumCluster("cluster", MagnumClusterArgs(settings_of("example-magnum").magnum,
                                                             pulumi.Output.secret("credential")))
    """)
    assert run.named("pulumi:providers:openstack", "cluster-openstack").inputs["applicationCredentialSecret"] == MASKED
    assert cluster["kubernetes_version"] == "1.31"
    assert cluster["core"]["nodeSelector"] == {"capi.stackhpc.com/node-group": "core"}
    assert cluster["build"] == cluster["user"]  # no build group on Magnum
    assert cluster["ingress_address"] == "198.51.100.20"
    assert cluster["depends_on"] == 2  # the node groups


def test_kubeadm(tmp_path):
    run, cluster = _platform(tmp_path, "example-kubeadm", """
        from components.platforms.kubeadm import KubeadmCluster, KubeadmClusterArgs
        from components.settings import Charts
        cluster = KubeadmCluster("cluster", KubeadmClusterArgs(settings_of("example-kubeadm").kubeadm,
                                                               pulumi.Output.secret("ssh-key"), Charts()))
    """)
    assert cluster["core"] == {"nodeSelector": {"hub.jupyter.org/node-purpose": "core"}, "tolerations": []}
    assert cluster["user"]["tolerations"] == USER_TAINT
    assert cluster["ingress_address"] == "192.0.2.100"  # the first MetalLB address
    assert cluster["depends_on"] == 1  # the network add-on
    for command in run.of_type("command:remote:Command"):
        assert command.inputs["connection"] == MASKED  # it holds the SSH key
