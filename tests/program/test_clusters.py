"""Clusters, registries and storage, under mocks, for each example stack."""

from __future__ import annotations

import json

import kubernetes_validate
import pytest
import yaml

from tests.program.conftest import EXAMPLE_STACKS, refusal, unwrapped
from tools.offline import MASKED, REPO, OfflineRun

# API groups whose objects are plain Kubernetes objects (custom resources are checked by their operators).
BUILT_IN_GROUPS = {"core", "apps", "batch", "storage.k8s.io", "networking.k8s.io", "rbac.authorization.k8s.io",
                   "policy", "scheduling.k8s.io"}


def _one(run: OfflineRun, type_: str):
    (resource,) = run.of_type(type_)
    return resource


def _by_name(run: OfflineRun, type_: str) -> dict:
    return {r.name: r for r in run.of_type(type_)}


@pytest.fixture(scope="module")
def runs(example_runs):
    return {stack: run for stack, (run, _) in example_runs.items()}


@pytest.mark.parametrize("stack", EXAMPLE_STACKS)
def test_user_data_outlives_its_claims(runs, stack):
    classes = _by_name(runs[stack], "kubernetes:storage.k8s.io/v1:StorageClass")
    assert set(classes) == {"user-homes", "hub-db"}
    for storage_class in classes.values():
        assert storage_class.inputs["reclaimPolicy"] == "Retain"
        # NFS folders cannot grow, nor are they held to their size: no claim of expansion there
        assert storage_class.inputs["allowVolumeExpansion"] is (stack != "example-kubeadm")
    provisioner = classes["user-homes"].inputs["provisioner"]
    assert provisioner == {"example-gke": "pd.csi.storage.gke.io", "example-magnum": "cinder.csi.openstack.org",
                           "example-kubeadm": "cluster.local/nfs-subdir-external-provisioner",
                           "local": "rancher.io/local-path"}[stack]


@pytest.mark.parametrize("stack", EXAMPLE_STACKS)
def test_every_plain_kubernetes_object_is_valid_for_the_stacks_version(example_runs, stack):
    run, monitor = example_runs[stack]
    checked = 0
    for resource in run.resources:
        group_version = resource.type.split(":")[1] if resource.type.startswith("kubernetes:") else ""
        if group_version.split("/")[0] not in BUILT_IN_GROUPS:
            continue
        # The object as the provider gets it (secrets included: a render masks whole properties).
        state = unwrapped(monitor.resources[resource.urn].state)
        manifest = {key: value for key, value in state.items() if key != "name"}
        kubernetes_validate.validate(manifest, run.outputs["kubernetesVersion"], strict=True)
        checked += 1
    assert checked >= 3  # the storage classes and the hub namespace at least


@pytest.mark.parametrize("stack", EXAMPLE_STACKS)
def test_the_kubeconfig_is_a_secret(runs, stack):
    run = runs[stack]
    assert run.outputs["kubeconfig"] == MASKED
    for provider in run.of_type("pulumi:providers:kubernetes"):
        assert provider.inputs.get("kubeconfig", MASKED) == MASKED or stack == "local"


def test_gke_cluster(runs):
    run = runs["example-gke"]
    cluster = _one(run, "gcp:container/cluster:Cluster").inputs
    assert cluster["removeDefaultNodePool"] is True
    assert cluster["workloadIdentityConfig"] == {"workloadPool": "example-binder-123.svc.id.goog"}
    assert cluster["releaseChannel"] == {"channel": "REGULAR"}
    assert cluster["privateClusterConfig"]["enablePrivateNodes"] is True
    assert cluster["location"] == "europe-west1-b"
    subnet = _one(run, "gcp:compute/subnetwork:Subnetwork").inputs
    assert {r["rangeName"] for r in subnet["secondaryIpRanges"]} == {"pods", "services"}
    assert run.of_type("gcp:compute/routerNat:RouterNat")  # private nodes still reach the internet

    pools = _by_name(run, "gcp:container/nodePool:NodePool")
    user = pools["cluster-user"].inputs
    assert user["nodeConfig"]["labels"] == {"hub.jupyter.org/node-purpose": "user"}
    # GKE refuses `/` in taint keys: the spelling z2jh and BinderHub also tolerate
    assert user["nodeConfig"]["taints"] == [{"key": "hub.jupyter.org_dedicated", "value": "user",
                                             "effect": "NO_SCHEDULE"}]
    assert user["autoscaling"] == {"minNodeCount": 0, "maxNodeCount": 10}
    assert user["nodeConfig"]["machineType"] == "n2-highmem-4"
    assert user["nodeConfig"]["workloadMetadataConfig"] == {"mode": "GKE_METADATA"}
    assert pools["cluster-build"].inputs["nodeConfig"]["spot"] is True
    assert pools["cluster-core"].inputs["nodeConfig"].get("taints", []) == []
    assert pools["cluster-user"].options["ignoreChanges"] == ["initialNodeCount"]


def test_gke_registry_and_address_are_protected_and_the_push_key_is_secret(runs):
    run = runs["example-gke"]
    repository = _one(run, "gcp:artifactregistry/repository:Repository")
    assert repository.options["protect"] is True
    assert repository.inputs["format"] == "DOCKER"
    (policy,) = repository.inputs["cleanupPolicies"]
    assert policy["condition"] == {"tagState": "UNTAGGED", "olderThan": f"{14 * 86400}s"}
    assert _one(run, "gcp:compute/address:Address").options["protect"] is True
    assert "privateKey" in _one(run, "gcp:serviceaccount/key:Key").options["additionalSecretOutputs"]
    roles = {r.inputs["role"] for r in run.of_type("gcp:artifactregistry/repositoryIamMember:RepositoryIamMember")}
    assert roles == {"roles/artifactregistry.writer", "roles/artifactregistry.reader"}
    assert run.outputs["imagePrefix"] == "europe-west1-docker.pkg.dev/example-binder-123/binder/binder-"
    assert run.outputs["ingressAddress"] == "203.0.113.20"
    # what the cluster actually runs, from its master_version (the objects are validated for it)
    assert run.outputs["kubernetesVersion"] == "1.33"


def test_gke_is_deletable_on_purpose_only_and_its_version_is_the_channels(runs, project):
    from tools.offline import run_program

    cluster = _one(runs["example-gke"], "gcp:container/cluster:Cluster").inputs
    assert cluster["deletionProtection"] is True
    assert "minMasterVersion" not in cluster  # a channel refuses a version it no longer offers
    config = project.config("example-gke")
    config["persistent-binderhub:gke"].update(deletionProtection=False, minMasterVersion="1.34")
    project.write_config("example-gke", config)
    cluster = _one(run_program("example-gke", project.root), "gcp:container/cluster:Cluster").inputs
    assert cluster["deletionProtection"] is False  # the first step of a teardown
    assert cluster["minMasterVersion"] == "1.34"


def test_gke_enforces_network_policies_and_guards_its_control_plane(runs):
    cluster = _one(runs["example-gke"], "gcp:container/cluster:Cluster").inputs
    assert cluster["datapathProvider"] == "ADVANCED_DATAPATH"  # Dataplane V2 enforces NetworkPolicies
    assert cluster["masterAuthorizedNetworksConfig"] == {
        "cidrBlocks": [{"cidrBlock": "198.51.100.0/24", "displayName": "office"},
                       {"cidrBlock": "203.0.113.64/26", "displayName": "CI runners"}],
        "gcpPublicCidrsAccessEnabled": False}


def test_gke_nodes_run_as_their_own_least_privileged_account(runs):
    run = runs["example-gke"]
    account = _by_name(run, "gcp:serviceaccount/account:Account")["cluster-nodes"]
    roles = {r.inputs["role"] for r in run.of_type("gcp:projects/iAMMember:IAMMember")}
    assert roles == {"roles/container.defaultNodeServiceAccount"}
    email = "binderhub-nodes@offline.iam.gserviceaccount.com"
    assert account.inputs["accountId"] == "binderhub-nodes"
    # the throwaway default pool too, not Compute Engine's default account
    assert _one(run, "gcp:container/cluster:Cluster").inputs["nodeConfig"]["serviceAccount"] == email
    for pool in run.of_type("gcp:container/nodePool:NodePool"):
        assert pool.inputs["nodeConfig"]["serviceAccount"] == email


def test_gke_nat_ports_grow_with_demand(runs):
    nat = _one(runs["example-gke"], "gcp:compute/routerNat:RouterNat").inputs
    assert nat["enableDynamicPortAllocation"] is True
    assert nat["enableEndpointIndependentMapping"] is False  # dynamic allocation requires it off
    assert (nat["minPortsPerVm"], nat["maxPortsPerVm"]) == (256, 65536)


def test_the_push_key_is_rotated_by_a_setting(runs, project):
    from tools.offline import run_program

    assert _one(runs["example-gke"], "gcp:serviceaccount/key:Key").inputs["keepers"] == {"rotation": "initial"}
    config = project.config("example-gke")
    config["persistent-binderhub:gke"]["pushKeyRotation"] = "2026-12"
    project.write_config("example-gke", config)
    key = _one(run_program("example-gke", project.root), "gcp:serviceaccount/key:Key").inputs
    assert key["keepers"] == {"rotation": "2026-12"}


def test_the_gke_kubeconfig_authenticates_with_application_default_credentials(example_runs):
    run, monitor = example_runs["example-gke"]
    provider = run.named("pulumi:providers:kubernetes", "cluster-kubernetes")
    kubeconfig = yaml.safe_load(unwrapped(monitor.resources[provider.urn].state)["kubeconfig"])
    (user,) = kubeconfig["users"]
    assert user["user"]["exec"]["command"] == "gke-gcloud-auth-plugin"
    assert user["user"]["exec"]["args"] == ["--use_application_default_credentials"]


def test_magnum_cluster_and_serial_node_groups(runs):
    run = runs["example-magnum"]
    template = _one(run, "openstack:containerinfra/clusterTemplate:ClusterTemplate").inputs
    # the Cluster API driver takes the version from the image and installs Cinder CSI itself
    assert "kube_tag" not in template["labels"]
    assert "cinder_csi_enabled" not in template["labels"]
    assert template["labels"]["auto_healing_enabled"] == "true"  # from the stack's own labels
    cluster = _one(run, "openstack:containerinfra/cluster:Cluster")
    assert "kubeconfig" in cluster.options["additionalSecretOutputs"]
    assert cluster.inputs["masterCount"] == 3
    groups = _by_name(run, "openstack:containerinfra/nodeGroup:NodeGroup")
    assert groups["cluster-core"].inputs["minNodeCount"] >= 1
    assert groups["cluster-user"].inputs["minNodeCount"] >= 1
    assert _one(run, "openstack:networking/floatingIp:FloatingIp").options["protect"] is True
    assert run.outputs["kubernetesVersion"] == "1.31"  # the image's kube_version property


def _magnum_with(project, change):
    from tools.offline import run_program

    config = project.config("example-magnum")
    change(config["persistent-binderhub:magnum"])
    project.write_config("example-magnum", config)
    return run_program("example-magnum", project.root)


def test_magnum_changes_make_a_new_template_and_upgrade_the_cluster_in_place(runs, project):
    run = runs["example-magnum"]
    template = _one(run, "openstack:containerinfra/clusterTemplate:ClusterTemplate")
    # Magnum refuses to change a template in use: any change is a new template, under a new name
    assert template.options["replaceOnChanges"] == ["*"]
    assert template.options["deleteBeforeReplace"] is False  # the old one goes once the cluster left it
    cluster = _one(run, "openstack:containerinfra/cluster:Cluster")
    assert cluster.options["ignoreChanges"] == ["clusterTemplateId"]  # a new template would replace it
    assert cluster.options["protect"] is True
    commands = _by_name(run, "command:local:Command")
    upgrade = commands["cluster-upgrade"]
    assert upgrade.inputs["create"] == ("python3 components/platforms/magnum_actions.py upgrade cluster-id "
                                        "cluster-template-id")
    assert upgrade.inputs["environment"]["OS_APPLICATION_CREDENTIAL_SECRET"] == MASKED
    assert cluster.urn in upgrade.options["dependsOn"]
    newer = _magnum_with(project, lambda magnum: magnum.update(image="ubuntu-jammy-kube-v1.32.2"))
    renamed = _one(newer, "openstack:containerinfra/clusterTemplate:ClusterTemplate").inputs["name"]
    assert renamed != template.inputs["name"]
    assert renamed.startswith("persistent-binderhub-")


def test_magnum_node_groups_grow_before_their_minimum_and_are_replaced_delete_first(runs):
    run = runs["example-magnum"]
    commands = _by_name(run, "command:local:Command")
    groups = _by_name(run, "openstack:containerinfra/nodeGroup:NodeGroup")
    for purpose, minimum in (("core", 1), ("user", 1)):
        grow = commands[f"cluster-{purpose}-grow"]
        assert grow.inputs["create"] == (
            f"python3 components/platforms/magnum_actions.py grow cluster-id {purpose} {minimum}")
        assert grow.urn in groups[f"cluster-{purpose}"].options["dependsOn"]
        # another flavor is a new group under the same name, which Magnum refuses while the old exists
        assert groups[f"cluster-{purpose}"].options["deleteBeforeReplace"] is True
    # one change after another: upgrade, core (grow, group), user (grow, group)
    assert commands["cluster-upgrade"].urn in commands["cluster-core-grow"].options["dependsOn"]
    assert groups["cluster-core"].urn in commands["cluster-user-grow"].options["dependsOn"]


def test_cinder_volumes_are_made_in_the_settings_zone(runs, project):
    classes = _by_name(runs["example-magnum"], "kubernetes:storage.k8s.io/v1:StorageClass")
    assert classes["user-homes"].inputs["parameters"] == {"availability": "nova"}
    other = _magnum_with(project, lambda magnum: magnum.update(volumeAvailabilityZone="az-storage"))
    classes = _by_name(other, "kubernetes:storage.k8s.io/v1:StorageClass")
    assert classes["hub-db"].inputs["parameters"] == {"availability": "az-storage"}


@pytest.mark.parametrize(("change", "expected"), [
    (lambda magnum: magnum.update(networkDriver="flannel"), "magnum.networkDriver: Input should be 'calico' or "
                                                           "'cilium'"),
    (lambda magnum: magnum.update(kubernetesVersion="1.31.4"),
     "magnum.kubernetesVersion: is no longer a setting: the Cluster API driver runs the version of the image"),
])
def test_magnum_settings_the_driver_does_not_honour_are_refused(project, change, expected):
    config = project.config("example-magnum")
    change(config["persistent-binderhub:magnum"])
    project.write_config("example-magnum", config)
    assert expected in refusal("example-magnum", project.root)


def test_the_readme_makes_an_unrestricted_application_credential():
    """Magnum makes a trust per cluster (and the driver a credential of its own): a restricted
    application credential cannot, and cluster creation fails."""
    readme = (REPO / "README.md").read_text()
    (command,) = [line for line in readme.splitlines() if "application credential create" in line]
    assert "--unrestricted" in command


def test_harbor_registry_in_a_whole_stack(runs):
    """Harbor (tested alone in test_harbor.py) after the ingress, on the stack's classes and issuer."""
    run = runs["example-magnum"]
    (harbor,) = [r for r in run.of_type("kubernetes:helm.sh/v4:Chart") if r.name == "harbor"]
    assert harbor.inputs["version"] == "1.19.1"
    values = harbor.inputs["values"]
    assert values["persistence"]["persistentVolumeClaim"]["registry"]["storageClass"] == "hub-db"
    assert values["expose"]["ingress"]["className"] == "traefik"
    assert values["expose"]["ingress"]["annotations"] == {"cert-manager.io/cluster-issuer": "letsencrypt-production"}
    ingress = {r.urn for r in run.resources if r.parent == _one(run, "persistent-binderhub:ingress:Ingress").urn
               and r.type in ("kubernetes:helm.sh/v4:Chart", "kubernetes:cert-manager.io/v1:ClusterIssuer")}
    assert ingress <= set(harbor.options["dependsOn"])
    assert run.outputs["imagePrefix"] == "registry.binder.cloud.example.org/binder/binder-"


@pytest.mark.parametrize("stack", ["example-magnum", "example-kubeadm"])
def test_private_registries_get_a_pull_secret(runs, stack):
    secret = _by_name(runs[stack], "kubernetes:core/v1:Secret")["registry-pull"].inputs
    assert secret["type"] == "kubernetes.io/dockerconfigjson"
    assert secret["metadata"] == {"name": "binder-registry-pull", "namespace": "binderhub"}
    assert secret["stringData"] == MASKED


def test_no_pull_secret_where_nodes_pull_on_their_own(runs):
    for stack in ("example-gke", "local"):
        assert "registry-pull" not in _by_name(runs[stack], "kubernetes:core/v1:Secret")


BAD_CLUSTER_SETTINGS = {
    "a Magnum node group of 0 nodes": (
        "example-magnum", lambda c: c["persistent-binderhub:magnum"]["nodeGroups"]["user"].update(minNodes=0),
        "persistent-binderhub:magnum.nodeGroups.user.minNodes: Input should be greater than or equal to 1"),
    "an unknown machine type format": (
        "example-gke", lambda c: c["persistent-binderhub:gke"]["nodePools"]["core"].update(machineType="large"),
        "persistent-binderhub:gke.nodePools.core.machineType: 'large' is not valid: expected a GCE machine type"),
    "a kubeadm inventory without a control plane": (
        "example-kubeadm", lambda c: c["persistent-binderhub:kubeadm"].update(controlPlanes=[]),
        "persistent-binderhub:kubeadm.controlPlanes: lists 0 hosts: expected 1 or 3"),
    "two hosts with the same address": (
        "example-kubeadm",
        lambda c: c["persistent-binderhub:kubeadm"]["workers"][1].update(address="192.0.2.21"),
        "persistent-binderhub:kubeadm.workers: host addresses must be unique: 192.0.2.21 appear more than once"),
}


@pytest.mark.parametrize("case", sorted(BAD_CLUSTER_SETTINGS))
def test_bad_cluster_settings_are_refused(project, case):
    stack, breaks, expected = BAD_CLUSTER_SETTINGS[case]
    config = project.config(stack)
    breaks(config)
    project.write_config(stack, config)
    assert expected in refusal(stack, project.root)


def test_a_missing_ssh_key_is_refused(project):
    from components.secrets import decrypt_secrets
    from components.sops import public_test_key_recipient

    values = decrypt_secrets("example-kubeadm", project.root)
    del values["ssh_private_key"]
    project.encrypt_secrets("example-kubeadm", values, [public_test_key_recipient()])
    message = refusal("example-kubeadm", project.root)
    assert "'ssh_private_key' is missing: the SSH private key that reaches every kubeadm host" in message
    assert json.dumps(values) not in message


def test_kubeadm_steps_run_in_order_with_secret_parameters(runs):
    run = runs["example-kubeadm"]
    commands = _by_name(run, "command:remote:Command")
    hosts = ("cp-1", "core-1", "user-1", "user-2")
    for host in hosts:
        prepare = commands[f"{host}-prepare-node"]
        assert prepare.inputs["create"] == "sudo bash /opt/persistent-binderhub/prepare-node.sh"
        assert prepare.inputs["stdin"] == "KUBERNETES_VERSION=1.31.4\n"
        assert commands[f"{host}-scripts"].urn in prepare.options["dependsOn"]
    init, token = commands["cp-1-init-control-plane"], commands["cp-1-join-token"]
    assert commands["cp-1-prepare-node"].urn in commands["cp-1-upgrade-drain"].options["dependsOn"]
    assert commands["cp-1-upgrade-drain"].urn in init.options["dependsOn"]
    assert init.urn in token.options["dependsOn"]
    for secret_input in (init, token, *(commands[f"{h}-join-node"] for h in hosts[1:])):
        assert secret_input.inputs["stdin"] == MASKED
    for worker in hosts[1:]:
        join = commands[f"{worker}-join-node"]
        assert token.urn in join.options["dependsOn"]
        # Removal: drained on the control plane first, then reset on the host itself.
        reset, drain = commands[f"{worker}-reset"], commands[f"{worker}-drain"]
        assert join.urn in reset.options["dependsOn"]
        assert reset.urn in drain.options["dependsOn"]
        assert reset.inputs["delete"].endswith("reset-node.sh")
        assert drain.inputs["delete"].endswith("drain-node.sh")
        assert drain.inputs["stdin"] == f"NODE_NAME={worker}\nACTION=remove\n"
    admin = commands["cp-1-admin-kubeconfig"]
    assert "stdout" in admin.options["additionalSecretOutputs"]
    assert admin.inputs["logging"] == "stderr"
    assert all(c.inputs["connection"] == MASKED for c in commands.values())  # it holds the SSH key


def test_kubeadm_nodes_are_set_up_and_upgraded_one_at_a_time_drained_around_it(runs, project):
    """kubeadm's upgrade guide: one node at a time, each drained before its kubelet is upgraded
    and uncordoned after. The first control plane drains and uncordons every node."""
    from tools.offline import run_program

    commands = _by_name(runs["example-kubeadm"], "command:remote:Command")
    order = ["cp-1", "core-1", "user-1", "user-2"]  # the control planes first, then the workers in turn
    for index, host in enumerate(order):
        step = commands["cp-1-init-control-plane" if host == "cp-1" else f"{host}-join-node"]
        drain, uncordon = commands[f"{host}-upgrade-drain"], commands[f"{host}-upgrade-uncordon"]
        assert drain.urn in step.options["dependsOn"]
        assert step.urn in uncordon.options["dependsOn"]
        assert drain.inputs["stdin"] == f"NODE_NAME={host}\nACTION=drain\n"
        assert uncordon.inputs["stdin"] == f"NODE_NAME={host}\nACTION=uncordon\n"
        assert drain.inputs["create"] == "sudo bash /opt/persistent-binderhub/drain-node.sh"
        assert drain.inputs["triggers"] == ["1.31.4", "installation=1"]  # again on an upgrade (cp-1's reinstall)
        if index:
            assert commands[f"{order[index - 1]}-upgrade-uncordon"].urn in drain.options["dependsOn"]
    provider = runs["example-kubeadm"].named("pulumi:providers:kubernetes", "cluster-kubernetes")
    assert commands["user-2-upgrade-uncordon"].urn in provider.options["dependsOn"]
    config = project.config("example-kubeadm")
    config["persistent-binderhub:kubeadm"]["kubernetesVersion"] = "1.31.5"
    project.write_config("example-kubeadm", config)
    upgraded = _by_name(run_program("example-kubeadm", project.root), "command:remote:Command")
    assert upgraded["user-1-upgrade-drain"].inputs["triggers"] == ["1.31.5", "installation=1"]


def test_kubeadm_add_ons(runs):
    run = runs["example-kubeadm"]
    charts = _by_name(run, "kubernetes:helm.sh/v4:Chart")
    assert {"cilium", "metallb", "nfs-subdir-external-provisioner"} <= set(charts)
    assert charts["nfs-subdir-external-provisioner"].inputs["values"]["nfs"] == {
        "server": "192.0.2.5", "path": "/srv/binder-homes"}
    assert charts["nfs-subdir-external-provisioner"].inputs["values"]["storageClass"]["create"] is False
    pool = _one(run, "kubernetes:metallb.io/v1beta1:IPAddressPool").inputs
    assert pool["spec"] == {"addresses": ["192.0.2.100-192.0.2.110"]}
    assert charts["cilium"].urn in charts["metallb"].options["dependsOn"]
    assert run.outputs["ingressAddress"] == "192.0.2.100"


def test_the_scripts_bundle_is_exactly_the_scripts_and_always_the_same():
    import base64
    import io
    import tarfile

    from components.platforms.kubeadm import SCRIPTS, scripts_bundle

    bundle = scripts_bundle()
    assert bundle == scripts_bundle()
    with tarfile.open(fileobj=io.BytesIO(base64.b64decode(bundle))) as archive:
        files = {member.name: archive.extractfile(member).read() for member in archive.getmembers()}
    assert files == {path.name: path.read_bytes() for path in SCRIPTS.glob("*.sh")}
    assert "lib.sh" in files


def test_an_existing_cluster_can_use_a_storage_class_it_has(project):
    from tools.offline import run_program

    config = project.config("local")
    config["persistent-binderhub:existing"]["storageClass"] = "standard"
    project.write_config("local", config)
    run = run_program("local", project.root)
    assert run.of_type("kubernetes:storage.k8s.io/v1:StorageClass") == []


def _regional(project, core_max_nodes: int) -> None:
    """The example GKE stack as a regional cluster, its core pool at most `core_max_nodes` large."""
    config = project.config("example-gke")
    gke = config["persistent-binderhub:gke"]
    gke["regional"] = True
    del gke["zone"]
    gke["nodePools"]["core"]["maxNodes"] = core_max_nodes
    project.write_config("example-gke", config)


def test_regional_gke_pools_bound_the_whole_pool(project):
    from tools.offline import run_program

    _regional(project, core_max_nodes=3)
    pools = _by_name(run_program("example-gke", project.root), "gcp:container/nodePool:NodePool")
    assert pools["cluster-user"].inputs["autoscaling"] == {"totalMinNodeCount": 0, "totalMaxNodeCount": 10}
    # initialNodeCount counts per zone: the core pool starts with one node in each of 3 zones
    assert pools["cluster-core"].inputs["initialNodeCount"] == 1
    assert pools["cluster-user"].inputs["initialNodeCount"] == 0


def test_a_regional_pool_too_small_for_one_node_per_zone_is_refused(project):
    _regional(project, core_max_nodes=2)
    message = refusal("example-gke", project.root)
    assert ("persistent-binderhub:gke.nodePools.core.maxNodes: is 2, but a regional pool starts with 1 node(s) "
            "in each of 3 zones: set maxNodes to at least 3") in message


@pytest.mark.parametrize("machine_type", ["n4-standard-4", "c4-standard-8", "c3-standard-4"])
def test_machine_families_without_pd_balanced_disks_are_refused(project, machine_type):
    config = project.config("example-gke")
    config["persistent-binderhub:gke"]["nodePools"]["user"]["machineType"] = machine_type
    project.write_config("example-gke", config)
    message = refusal("example-gke", project.root)
    assert f"gke.nodePools.user.machineType: {machine_type!r} is not valid: expected a GCE machine type of a " \
           "family that takes pd-balanced disks" in message


@pytest.mark.parametrize(("change", "expected"), [
    (lambda c: c.pop("persistent-binderhub:hubDatabase"),
     "hubDatabase.type: is 'sqlite', but on kubeadm the hub database's volume is on NFS"),
    (lambda c: c["persistent-binderhub:kubeadm"]["ssh"].pop("user"), "kubeadm.ssh.user: is required"),
    (lambda c: c["persistent-binderhub:kubeadm"].update(controlPlaneEndpoint="k8s-api:99999"),
     "kubeadm.controlPlaneEndpoint: 'k8s-api:99999' is not valid: expected host[:port]"),
])
def test_kubeadm_settings_that_would_fail_later_are_refused(project, change, expected):
    config = project.config("example-kubeadm")
    change(config)
    project.write_config("example-kubeadm", config)
    assert expected in refusal("example-kubeadm", project.root)


@pytest.mark.parametrize(("endpoint", "expected"), [
    ("k8s-api.lab.example.org", "k8s-api.lab.example.org:6443"),
    ("k8s-api.lab.example.org:8443", "k8s-api.lab.example.org:8443"),
    ("[2001:db8::10]", "[2001:db8::10]:6443"),
])
def test_the_control_plane_endpoint_gets_the_api_port_when_it_has_none(endpoint, expected):
    from tests.program.stand_ins import settings_of

    settings = settings_of("example-kubeadm",
                           lambda c: c["persistent-binderhub:kubeadm"].update(controlPlaneEndpoint=endpoint))
    assert settings.kubeadm.control_plane_endpoint == expected


def test_a_reinstalled_host_runs_every_step_again(runs, project):
    from tools.offline import run_program

    config = project.config("example-kubeadm")
    config["persistent-binderhub:kubeadm"]["workers"][1]["installation"] = "2026-12-01"  # user-1
    project.write_config("example-kubeadm", config)
    before = _by_name(runs["example-kubeadm"], "command:remote:Command")
    after = _by_name(run_program("example-kubeadm", project.root), "command:remote:Command")
    for step in ("scripts", "prepare-node", "join-node"):
        assert after[f"user-1-{step}"].inputs["triggers"] != before[f"user-1-{step}"].inputs["triggers"], step
        assert after[f"user-2-{step}"].inputs["triggers"] == before[f"user-2-{step}"].inputs["triggers"], step
    # and its join finds a fresh token
    assert after["cp-1-join-token"].inputs["triggers"] != before["cp-1-join-token"].inputs["triggers"]
