"""Stack settings: the example stacks load, and every operator mistake is refused clearly."""

from __future__ import annotations

import pytest

from components.settings import parse_settings
from tests.program.conftest import EXAMPLE_STACKS, refusal
from tools.offline import REPO
from tools.stackfile import read_stack_config

P = "persistent-binderhub"


@pytest.mark.parametrize("stack", EXAMPLE_STACKS)
def test_example_stacks_load(stack):
    settings = parse_settings(read_stack_config(REPO, stack), stack)
    assert getattr(settings, settings.platform) is not None  # the platform's own block
    assert settings.persistence.projects_limit >= 1


def test_settings_are_typed_and_defaulted():
    settings = parse_settings(read_stack_config(REPO, "example-gke"), "example-gke")
    pools = settings.gke.node_pools
    assert (pools.user.min_nodes, pools.user.max_nodes, pools.build.spot) == (0, 10, True)
    assert settings.servers.memory_limit == "8G"
    assert settings.hub_database.type == "sqlite"  # a default, not in the stack file
    local = parse_settings(read_stack_config(REPO, "local"), "local")
    assert local.existing.context is None  # the current kubeconfig context


def _gke(config):
    return config[f"{P}:gke"]


# Each case: how to break the example-gke stack, then what the message must say.
BAD_SETTINGS = {
    "unknown top-level key": (
        lambda c: c.update({f"{P}:domain": {"hub": "x.example.org"}}),
        [f"{P}:domain: is not a known setting", "did you mean 'domains'?"]),
    "unknown nested key": (
        lambda c: _gke(c)["nodePools"]["user"].update(maxNode=3),
        [f"{P}:gke.nodePools.user.maxNode: is not a known setting", "did you mean 'maxNodes'?"]),
    "wrong type": (
        lambda c: _gke(c)["nodePools"]["core"].update(minNodes="many"),
        [f"{P}:gke.nodePools.core.minNodes", "valid integer", "'many'"]),
    "missing required value": (
        lambda c: c[f"{P}:domains"].pop("binder"),
        [f"{P}:domains.binder: is required", "the BinderHub domain"]),
    "missing required block": (
        lambda c: c.pop(f"{P}:auth"),
        [f"{P}:auth: is required", "github, oidc or dummy"]),
    "platform block does not match the platform": (
        lambda c: c.update({f"{P}:platform": "magnum"}),
        [f"{P}:gke: is the block for platform 'gke', but platform is 'magnum'"]),
    "unknown platform": (
        lambda c: c.update({f"{P}:platform": "aws"}),
        [f"{P}:platform", "'gke', 'magnum', 'kubeadm' or 'existing'", "'aws'"]),
    "invalid domain": (
        lambda c: c[f"{P}:domains"].update(hub="Hub_Example.org"),
        [f"{P}:domains.hub", "'Hub_Example.org' is not valid", "lower-case DNS name"]),
    "hub domain equals binder domain": (
        lambda c: c[f"{P}:domains"].update(binder="hub.binder.example.org"),
        [f"{P}:domains.binder: equals the hub domain"]),
    "projects limit below 1": (
        lambda c: c[f"{P}:persistence"].update(projectsLimit=0),
        [f"{P}:persistence.projectsLimit", "greater than or equal to 1"]),
    "auth block of another type": (
        lambda c: c[f"{P}:auth"].update(type="oidc"),
        [f"{P}:auth.github: is the block for type 'github', but type is 'oidc'"]),
    "dummy auth outside local": (
        lambda c: c.update({f"{P}:auth": {"type": "dummy"}}),
        [f"{P}:auth.type: 'dummy' lets anyone sign in", "only on the 'local' stack"]),
    "node pool bounds": (
        lambda c: _gke(c)["nodePools"]["user"].update(minNodes=20),
        [f"{P}:gke.nodePools.user.minNodes: is 20, above maxNodes 10"]),
    "zone outside region": (
        lambda c: _gke(c).update(zone="us-east1-b"),
        [f"{P}:gke.zone: 'us-east1-b' is not a zone of region europe-west1"]),
    "artifact registry off GKE": (
        lambda c: c.update({f"{P}:platform": "existing", f"{P}:existing": {}, f"{P}:gke": None}),
        [f"{P}:registry.type: 'artifact-registry' needs platform 'gke'"]),
    "plain HTTP outside a local cluster": (
        lambda c: c.pop(f"{P}:tls"),
        [f"{P}:tls.issuer: is 'none'", "letsencrypt-production"]),
    "maintenance image without a tag": (
        lambda c: c[f"{P}:persistence"].update(maintenanceImage="quay.io/jupyterhub/k8s-network-tools"),
        [f"{P}:persistence.maintenanceImage", "an image with a tag or digest"]),
    "domain with a trailing newline": (
        lambda c: c[f"{P}:domains"].update(hub="hub.example.org\n"),
        [f"{P}:domains.hub", "is not valid", "lower-case DNS name"]),
    "invalid banned spec regex": (
        lambda c: c[f"{P}:binder"].update(bannedSpecs=["(unclosed"]),
        [f"{P}:binder.bannedSpecs[0]", "not a valid regular expression"]),
}


@pytest.mark.parametrize("case", sorted(BAD_SETTINGS))
def test_bad_settings_are_refused_before_anything_is_registered(project, case):
    breaks, expected = BAD_SETTINGS[case]
    config = project.config("example-gke")
    breaks(config)
    project.write_config("example-gke", {k: v for k, v in config.items() if v is not None})
    message = refusal("example-gke", project.root)
    assert message.startswith("stacks/Pulumi.example-gke.yaml: the stack settings have")
    for fragment in expected:
        assert fragment in message
    assert "nothing was deployed" in message


def test_every_problem_is_listed_in_one_message(project):
    config = project.config("example-gke")
    _gke(config)["nodePools"]["user"]["maxNode"] = 3
    config[f"{P}:domains"]["hub"] = "not a domain"
    project.write_config("example-gke", config)
    message = refusal("example-gke", project.root)
    assert "have 2 problem(s)" in message
    assert "maxNode" in message
    assert "domains.hub" in message


BAD_STACK_FILES = {
    "not YAML": ("config: [unclosed\n", "stacks/Pulumi.example-gke.yaml: is not valid YAML at line"),
    "no config mapping": ("- just\n- a list\n", "must be a mapping with a 'config:' mapping"),
    "key without namespace": ("config:\n  platform: gke\n",
                              "config key 'platform' has no namespace: write it as 'persistent-binderhub:platform'"),
    "pulumi-encrypted value": (f"config:\n  {P}:platform:\n    secure: v1:abc\n",
                               "is a Pulumi-encrypted value; this project keeps secrets in secrets/"),
}


@pytest.mark.parametrize("case", sorted(BAD_STACK_FILES))
def test_malformed_stack_files_are_refused(project, case):
    text, expected = BAD_STACK_FILES[case]
    project.stack_path("example-gke").write_text(text)
    assert expected in refusal("example-gke", project.root)


@pytest.mark.parametrize(("stack", "expected"), [
    ("production", f"stacks/Pulumi.production.yaml: not found. Known stacks in {REPO / 'stacks'}: example-gke"),
    ("../../etc/passwd", "is not a valid stack name"),
])
def test_unknown_or_hostile_stack_names_are_refused(stack, expected):
    assert expected in refusal(stack)


def test_duplicate_keys_are_refused(project):
    path = project.stack_path("example-gke")
    path.write_text(path.read_text() + "  persistent-binderhub:platform: magnum\n")
    message = refusal("example-gke", project.root)
    assert "stacks/Pulumi.example-gke.yaml: is not valid YAML at line" in message
    assert "found duplicate key 'persistent-binderhub:platform'" in message


def test_odd_yaml_values_are_validated_as_text(project, offline):
    config = project.config("example-magnum")
    config["persistent-binderhub:magnum"]["labels"]["created"] = "2024-05-01"
    project.write_config("example-magnum", config)
    text = project.stack_path("example-magnum").read_text().replace("'2024-05-01'", "2024-05-01")
    project.stack_path("example-magnum").write_text(text)  # an unquoted YAML date
    assert offline("example-magnum", project.root).resources
    config["persistent-binderhub:servers"] = {"cpuLimit": float("inf")}
    project.write_config("example-magnum", config)
    assert f"{P}:servers.cpuLimit" in refusal("example-magnum", project.root)


def test_harbor_needs_tls_even_on_a_local_cluster(project):
    config = project.config("local")
    config[f"{P}:registry"] = {"type": "harbor", "harbor": {"hostname": "registry.127.0.0.1.nip.io"}}
    project.write_config("local", config)
    message = refusal("local", project.root)
    assert f"{P}:tls.issuer: is 'none', but Harbor is served over https only" in message


def test_the_old_name_of_the_projects_limit_points_to_the_new_one(project):
    config = project.config("local")
    config[f"{P}:persistence"] = {"projectsPerUser": 3}
    project.write_config("local", config)
    message = refusal("local", project.root)
    assert f"{P}:persistence.projectsPerUser: is not a known setting; did you mean 'projectsLimit'?" in message


IMPLAUSIBLE = {
    "a boolean for a count": (lambda c: c[f"{P}:gke"]["nodePools"]["user"].update(maxNodes=True),
                              f"{P}:gke.nodePools.user.maxNodes: Input should be a valid integer, got True"),
    "a billion nodes": (lambda c: c[f"{P}:gke"]["nodePools"]["user"].update(maxNodes=10**9),
                        f"{P}:gke.nodePools.user.maxNodes: Input should be less than or equal to 1000"),
    "a 10^30 GB disk": (lambda c: c[f"{P}:gke"]["nodePools"]["core"].update(diskSizeGb=10**30),
                        f"{P}:gke.nodePools.core.diskSizeGb: Input should be less than or equal to 65536"),
    "a volume of 0": (lambda c: c.update({f"{P}:storage": {"userHomeSize": "0"}}),
                      f"{P}:storage.userHomeSize: '0' is out of range: expected from 1Gi to 64Ti"),
    "a volume of 999999Ti": (lambda c: c.update({f"{P}:storage": {"userHomeSize": "999999Ti"}}),
                             "'999999Ti' is out of range: expected from 1Gi to 64Ti"),
    "no memory": (lambda c: c.update({f"{P}:servers": {"memoryGuarantee": "0", "memoryLimit": "0"}}),
                  f"{P}:servers.memoryLimit: '0' is out of range: expected from 64Mi to 4Ti"),
    "100,000 projects a user": (lambda c: c[f"{P}:persistence"].update(projectsLimit=100_000),
                                f"{P}:persistence.projectsLimit: Input should be less than or equal to 100"),
    "a number where text is expected": (
        lambda c: c[f"{P}:gke"].update(minMasterVersion=1.30),
        f"{P}:gke.minMasterVersion: Input should be a valid string, got 1.3 (YAML reads it as a number: quote it"),
    "an internationalised domain": (lambda c: c[f"{P}:domains"].update(hub="hub.bücher.example"),
                                    f"{P}:domains.hub: 'hub.bücher.example' is not valid: write an "
                                    "internationalised domain in its ASCII (xn--) form"),
    "a typo in the namespace": (lambda c: c.update({"persistent-binderhb:servers": {"cpuLimit": 4}}),
                                "persistent-binderhb:servers: 'persistent-binderhb' is not a known namespace, so "
                                "this setting would be ignored; did you mean 'persistent-binderhub:'?"),
}


@pytest.mark.parametrize("case", IMPLAUSIBLE)
def test_implausible_values_and_unknown_namespaces_are_refused(project, case):
    breaks, expected = IMPLAUSIBLE[case]
    config = project.config("example-gke")
    breaks(config)
    project.write_config("example-gke", config)
    assert expected in refusal("example-gke", project.root)


def test_a_harbor_sharing_the_hubs_domain_is_refused(project):
    config = project.config("example-magnum")
    config[f"{P}:registry"]["harbor"]["hostname"] = config[f"{P}:domains"]["hub"]
    project.write_config("example-magnum", config)
    assert f"{P}:registry.harbor.hostname: is the hub's or BinderHub's domain" in refusal(
        "example-magnum", project.root)


def test_provider_namespaces_stay_allowed(project, offline):
    config = project.config("local")
    config["kubernetes:enableServerSideApply"] = "true"
    project.write_config("local", config)
    assert offline("local", project.root).resources
