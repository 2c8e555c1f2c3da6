"""SOPS secrets with the real sops binary and real age keys."""

from __future__ import annotations

import asyncio
import re

import pytest
import yaml

from components.secrets import load_secrets, secrets_used
from components.settings import parse_settings
from components.sops import public_test_key_recipient
from tests.program.conftest import EXAMPLE_STACKS, refusal
from tools.offline import REPO
from tools.stackfile import read_stack_config

GKE_SECRETS = {"oauth_client_secret": "s3cret-oauth-value", "github_api_token": "ghp_example"}


@pytest.mark.parametrize("stack", EXAMPLE_STACKS)
def test_example_secrets_decrypt_to_pulumi_secrets(stack):
    settings = parse_settings(read_stack_config(REPO, stack), stack)
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        secrets = load_secrets(settings, stack, REPO)
        for key, required in secrets_used(settings).items():
            value = secrets.get(key)
            if required:
                assert value is not None, key
            if value is not None:
                assert loop.run_until_complete(value.is_secret()), key
                assert loop.run_until_complete(value.future())
    finally:
        asyncio.set_event_loop(None)
        loop.close()
    assert "StackSecrets(keys=" in repr(secrets)  # the repr shows names only


def test_missing_secrets_file(project):
    project.secrets_path("example-gke").unlink()
    message = refusal("example-gke", project.root)
    assert message.startswith("secrets/example-gke.sops.yaml: not found")
    assert "python -m tools.secrets create example-gke" in message


def test_plain_text_file_is_refused(project):
    project.secrets_path("example-gke").write_text("oauth_client_secret: s3cret-oauth-value\n")
    message = refusal("example-gke", project.root)
    assert "secrets/example-gke.sops.yaml: is not SOPS-encrypted" in message
    assert "s3cret-oauth-value" not in message


def test_plain_value_added_to_an_encrypted_file_is_refused(project):
    path = project.secrets_path("example-gke")
    path.write_text("extra_unencrypted: plain-value\n" + path.read_text())
    message = refusal("example-gke", project.root)
    assert "key 'extra_unencrypted' holds a plain-text value" in message
    assert "plain-value" not in message


def test_not_yaml_is_refused(project):
    project.secrets_path("example-gke").write_text("a: [unclosed\n")
    assert "secrets/example-gke.sops.yaml: is not valid YAML" in refusal("example-gke", project.root)


def test_file_for_another_key_cannot_be_decrypted(project, age_key):
    project.encrypt_secrets("example-gke", GKE_SECRETS, [age_key.recipient])
    message = refusal("example-gke", project.root)
    assert "none of your keys can decrypt it" in message
    assert age_key.recipient in message
    assert "python -m tools.secrets add-recipient example-gke" in message


def test_mac_mismatch_is_refused(project):
    path = project.secrets_path("example-gke")
    # Dropping one encrypted value leaves every ciphertext intact but breaks the MAC.
    text = re.sub(r"(?m)^github_api_token: ENC\[.*\]\n", "", path.read_text())
    path.write_text(text)
    message = refusal("example-gke", project.root)
    assert "has been tampered with or corrupted (sops exit 51" in message


def test_tampered_ciphertext_is_refused(project):
    path = project.secrets_path("example-gke")
    text = path.read_text()
    data = re.search(r"(?m)^oauth_client_secret: ENC\[AES256_GCM,data:([^,]+),", text).group(1)
    flipped = ("B" if data[0] != "B" else "C") + data[1:]
    path.write_text(text.replace(data, flipped, 1))
    message = refusal("example-gke", project.root)
    assert "has been tampered with or corrupted (sops exit 25" in message


def test_missing_required_secret(project):
    project.encrypt_secrets("example-gke", {"github_api_token": "ghp_example"}, [public_test_key_recipient()])
    message = refusal("example-gke", project.root)
    assert "'oauth_client_secret' is missing" in message
    assert "python -m tools.secrets edit example-gke" in message


def test_unknown_secret_and_placeholder(project):
    values = {"oauth_client_secret": "CHANGE-ME", "oauth_client_secert": "s3cret-typo-value"}
    project.encrypt_secrets("example-gke", values, [public_test_key_recipient()])
    message = refusal("example-gke", project.root)
    assert "'oauth_client_secert' is not a known secret" in message
    assert "'oauth_client_secret' still holds a placeholder (such as CHANGE-ME)" in message
    assert "s3cret-typo-value" not in message


@pytest.mark.parametrize("value", ["<CHANGE-ME>", "change me", "changeme", "  ", "<your GitHub OAuth secret>"])
def test_placeholder_variants_are_refused_too(project, value):
    project.encrypt_secrets("example-gke", {"oauth_client_secret": value}, [public_test_key_recipient()])
    assert "'oauth_client_secret' still holds a placeholder" in refusal("example-gke", project.root)


def test_a_comment_in_plain_text_is_refused_naming_its_line(project):
    path = project.secrets_path("example-gke")
    lines = path.read_text().splitlines()
    path.write_text("\n".join([lines[0], "# oauth backup: s3cret-in-a-comment", *lines[1:]]) + "\n")
    message = refusal("example-gke", project.root)
    assert "secrets/example-gke.sops.yaml: line 2 holds a comment in plain text" in message
    assert "s3cret-in-a-comment" not in message


def test_a_tampered_encrypted_comment_is_refused(project):
    project.encrypt_secrets("example-gke", {"oauth_client_secret": "x"}, [public_test_key_recipient()])
    path = project.secrets_path("example-gke")
    path.write_text("#ENC[AES256_GCM,data:AAAAzJcozu4JXA==,iv:83xgUcAIBDPiRRDXQmwdYgS7kOQ4oVXKdTZjpb0xeMs=,"
                    "tag:LYsv1/CEnJmIWsnihzwtzQ==,type:comment]\n" + path.read_text())
    assert "holds an encrypted comment that does not decrypt" in refusal("example-gke", project.root)


def test_auth_mode_without_its_secret(project):
    config = project.config("local")
    config["persistent-binderhub:auth"] = {"type": "github", "github": {"clientId": "abc", "allowAll": True}}
    project.write_config("local", config)
    assert "'oauth_client_secret' is missing" in refusal("local", project.root)


def test_test_key_is_refused_for_a_real_stack(project, monkeypatch):
    project.copy_stack("example-gke", "production")
    project.encrypt_secrets("production", GKE_SECRETS, [public_test_key_recipient()])
    # Even when the operator holds the test key, a real stack may not use it.
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(REPO / "tests" / "keys" / "test-only.agekey"))
    message = refusal("production", project.root)
    assert f"is encrypted to the test-only age key {public_test_key_recipient()}" in message
    assert "python -m tools.secrets create production --recipient" in message


def test_real_stack_decrypts_with_the_operators_key(project, age_key, monkeypatch, offline):
    project.copy_stack("example-gke", "production")
    project.encrypt_secrets("production", GKE_SECRETS, [age_key.recipient])
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(age_key.file))
    run = offline("production", project.root)
    generated = [r for r in run.of_type("random:index/randomPassword:RandomPassword") if "GeneratedSecrets" in r.urn]
    assert len(generated) == 4  # the program ran through to the chart secrets
    # ...and without it, it cannot.
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(project.root / "nowhere.agekey"))
    assert "none of your keys can decrypt it" in refusal("production", project.root)


def test_test_key_in_a_key_group_is_refused_too(project):
    project.copy_stack("example-gke", "production")
    document = yaml.safe_load(project.secrets_path("example-gke").read_text())
    document["sops"]["key_groups"] = [{"age": document["sops"].pop("age")}]
    project.secrets_path("production").write_text(yaml.safe_dump(document))
    assert "is encrypted to the test-only age key" in refusal("production", project.root)


def test_a_secret_that_is_not_a_string_is_refused(project):
    values = {"oauth_client_secret": {"nested": "s3cret-nested-value"}}
    project.encrypt_secrets("example-gke", values, [public_test_key_recipient()])
    message = refusal("example-gke", project.root)
    assert "key 'oauth_client_secret' must be a non-empty string" in message
    assert "s3cret-nested-value" not in message
