"""Human-held secrets: `secrets/<stack>.sops.yaml`, decrypted with the real sops.

Every value reaches the program only as a `pulumi.Output.secret`, so Pulumi
encrypts it in state and masks it in output. Nothing here ever puts a decrypted
value into a message.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pulumi
from pulumi.runtime.mocks import MockMonitor
from pulumi.runtime.settings import get_monitor

from components.errors import OperatorError
from components.settings import Settings, is_example_stack
from components.sops import (
    EXIT_BAD_CIPHERTEXT,
    EXIT_MAC_MISMATCH,
    EXIT_NO_KEY,
    EXIT_NOT_ENCRYPTED,
    TEST_AGE_KEY_FILE,
    public_test_key_recipient,
    run_sops,
    sops_rules,
)
from components.yamlfile import parse_yaml, read_text

PLACEHOLDER = "CHANGE-ME"
MASKED = "[secret]"  # how every secret appears in a render
# Set by python -m tools.render --without-secrets: a render without the decryption key (a fork's
# pull request), honoured under Pulumi's mocks only.
WITHOUT_SECRETS = "PBH_RENDER_WITHOUT_SECRETS"
_PLACEHOLDER_VARIANT = re.compile(r"\W*change[\W_]*me\W*", re.IGNORECASE)
_ENCRYPTED_COMMENT = re.compile(r"#ENC\[AES256_GCM,data:[A-Za-z0-9+/]*=*,iv:[A-Za-z0-9+/]+=*,tag:[A-Za-z0-9+/]+=*,"
                                r"type:comment\]")
_ENCRYPTED_VALUE = re.compile(r"^ENC\[AES256_GCM,data:.*\]$", re.DOTALL)


@dataclass(frozen=True)
class SecretSpec:
    description: str
    used: Callable[[Settings], bool]  # whether a stack with these settings uses it
    required: bool = True


SECRETS: dict[str, SecretSpec] = {
    "oauth_client_secret": SecretSpec(
        "the client secret of the GitHub OAuth app or OIDC client",
        lambda s: s.auth.type in ("github", "oidc")),
    "github_api_token": SecretSpec(
        "a GitHub token for BinderHub's API calls (avoids rate limits; optional)",
        lambda s: True, required=False),
    "registry_password": SecretSpec(
        "the password of the external registry's push user", lambda s: s.registry.type == "external"),
    "harbor_admin_password": SecretSpec(
        "the password of Harbor's admin user", lambda s: s.registry.type == "harbor"),
    "ssh_private_key": SecretSpec(
        "the SSH private key that reaches every kubeadm host", lambda s: s.platform == "kubeadm"),
    "openstack_application_credential_secret": SecretSpec(
        "the secret of the OpenStack application credential", lambda s: s.platform == "magnum"),
    "backup_access_key_id": SecretSpec(
        "the access key id of the S3 endpoint backups go to", lambda s: _backups_to(s, "s3")),
    "backup_secret_access_key": SecretSpec(
        "the secret access key of the S3 endpoint backups go to", lambda s: _backups_to(s, "s3")),
    "alerts_smtp_password": SecretSpec(
        "the password of the SMTP server alerts are sent through (optional)",
        lambda s: _alerts_to(s, "email"), required=False),
    "alerts_slack_webhook_url": SecretSpec(
        "the Slack webhook URL alerts are posted to", lambda s: _alerts_to(s, "slack")),
    "hub_database_url": SecretSpec(
        "the PostgreSQL URL of the hub database, such as postgresql://user:password@host/db",
        lambda s: s.hub_database.type == "postgres"),
}


def _backups_to(settings: Settings, store: str) -> bool:
    return settings.backups is not None and settings.backups.store.type == store


def _alerts_to(settings: Settings, route: str) -> bool:
    return settings.monitoring is not None and settings.monitoring.alerts.type == route


def secrets_file(stack: str) -> str:
    """The secrets file of a stack, relative to the project root."""
    return f"secrets/{stack}.sops.yaml"


def secrets_used(settings: Settings) -> dict[str, bool]:
    """The secret keys this stack uses, each mapped to whether it is required."""
    return {name: spec.required for name, spec in SECRETS.items() if spec.used(settings)}


class StackSecrets:
    """The decrypted secrets of a stack, each held only as a Pulumi secret Output."""

    def __init__(self, values: dict[str, pulumi.Output[str]]):
        self._values = values

    def __getitem__(self, key: str) -> pulumi.Output[str]:
        return self._values[key]

    def get(self, key: str) -> pulumi.Output[str] | None:
        return self._values.get(key)

    def __repr__(self) -> str:
        return f"StackSecrets(keys={sorted(self._values)})"


def load_secrets(settings: Settings, stack: str, project_dir: Path) -> StackSecrets:
    """Decrypt and check a stack's secrets; raise OperatorError on any problem. For a render
    without the decryption key (WITHOUT_SECRETS, under mocks only), the masked placeholders."""
    if os.environ.get(WITHOUT_SECRETS):
        return _masked_secrets(settings, stack, project_dir)
    values = decrypt_secrets(stack, project_dir)
    check_secret_keys(values, settings, stack)
    return StackSecrets({key: pulumi.Output.secret(value) for key, value in values.items()})


def _masked_secrets(settings: Settings, stack: str, project_dir: Path) -> StackSecrets:
    """Every secret the file holds as the masked placeholder, once the file is shown to be
    SOPS-encrypted throughout and to hold every key the stack needs (its keys are plain text)."""
    if not isinstance(get_monitor(), MockMonitor):
        raise OperatorError(f"{WITHOUT_SECRETS} is set, which is for offline renders only (python -m tools.render "
                            f"--without-secrets): unset it to preview or deploy")
    keys = [key for key in _encrypted_document(project_dir, stack) if key != "sops"]
    check_secret_keys(dict.fromkeys(keys, MASKED), settings, stack)
    return StackSecrets({key: pulumi.Output.secret(MASKED) for key in keys})


def decrypt_secrets(stack: str, project_dir: Path) -> dict[str, str]:
    """The plain key → value map of `secrets/<stack>.sops.yaml`, after checking it is safe."""
    relative = secrets_file(stack)
    recipients = encrypted_file_recipients(project_dir, stack)
    test_key = public_test_key_recipient()
    if test_key in recipients and not is_example_stack(stack):
        raise OperatorError(
            f"{relative}: is encrypted to the test-only age key {test_key}, which is public in this "
            f"repository; only example-* stacks and 'local' may use it. Anyone could have read these "
            f"secrets: change each one at its source, move this file away, and create a new one with: "
            f"python -m tools.secrets create {stack} --recipient <your age public key>")
    result = run_stack_sops(stack, project_dir, ["decrypt", "--output-type", "json", relative])
    if result.returncode != 0:
        raise OperatorError(_decrypt_failure(relative, stack, result.returncode, recipients))
    if "possibly unencrypted comment" in result.stderr:  # sops only warns of a comment it cannot decrypt
        raise OperatorError(f"{relative}: holds an encrypted comment that does not decrypt: it has been tampered "
                            f"with or corrupted, so the file is refused. Restore it from git and edit it only "
                            f"with: python -m tools.secrets edit {stack}")
    values = json.loads(result.stdout)
    _check_flat_strings(values, relative)
    return values


def run_stack_sops(stack: str, project_dir: Path, args: list[str], interactive: bool = False,
                   environment: dict[str, str] | None = None):
    """Run sops on a stack's file: example stacks with the test-only key, others with the operator's keys."""
    sops_rules(project_dir)  # a broken .sops.yaml is named, not blamed on the secrets file
    key_file = TEST_AGE_KEY_FILE if is_example_stack(stack) else None
    return run_sops(args, cwd=project_dir, age_key_file=key_file, capture=not interactive, environment=environment)


def encrypted_file_recipients(project_dir: Path, stack: str) -> list[str]:
    """Refuse a missing, unparsable or not (fully) SOPS-encrypted file; return its age recipients."""
    return _age_recipients(_encrypted_document(project_dir, stack)["sops"])


def _encrypted_document(project_dir: Path, stack: str) -> dict:
    """The stack's secrets file as stored (encrypted values), once shown to be SOPS-encrypted throughout."""
    relative = secrets_file(stack)
    text = read_text(project_dir, relative, (
        f"Every stack needs its SOPS-encrypted secrets file; create it with: "
        f"python -m tools.secrets create {stack} --recipient <your age public key>"))
    document = parse_yaml(text, relative)
    _check_comments(text, relative, stack)
    if not isinstance(document, dict) or not isinstance(document.get("sops"), dict):
        raise OperatorError(
            f"{relative}: is not SOPS-encrypted (it has no 'sops' metadata), and plain-text secrets "
            f"are refused. Move it away and re-create it with: python -m tools.secrets create {stack}")
    for key_path, value in _leaves({k: v for k, v in document.items() if k != "sops"}):
        if not (isinstance(value, str) and _ENCRYPTED_VALUE.match(value)):
            raise OperatorError(
                f"{relative}: key '{key_path}' holds a plain-text value; every value must be "
                f"encrypted. Edit the file only with: python -m tools.secrets edit {stack}")
    return document


def _check_comments(text: str, relative: str, stack: str) -> None:
    """Every comment encrypted, as sops writes them: a comment in plain text (a secret pasted there
    would sit in git in the clear) is refused, naming its line, never repeating it."""
    for number, line in enumerate(text.splitlines(), 1):
        # Nothing sops writes holds a '#' but its encrypted comments (values and keys are base64).
        if "#" in line and not _ENCRYPTED_COMMENT.fullmatch(line.strip()):
            raise OperatorError(f"{relative}: line {number} holds a comment in plain text, which is refused (a "
                                f"secret pasted into a comment would sit in git in the clear): remove it, and "
                                f"write comments only with: python -m tools.secrets edit {stack}")


def _age_recipients(metadata: dict) -> list[str]:
    """The age recipients of sops metadata, at the top level and in key groups."""
    groups = [metadata, *(g for g in metadata.get("key_groups") or [] if isinstance(g, dict))]
    entries = [entry for group in groups if isinstance(group.get("age"), list) for entry in group["age"]]
    return [str(entry.get("recipient", "")).strip() for entry in entries if isinstance(entry, dict)]


def _decrypt_failure(relative: str, stack: str, code: int, recipients: list[str]) -> str:
    if code == EXIT_NO_KEY:
        where = ("the test-only key tests/keys/test-only.agekey" if is_example_stack(stack)
                 else "SOPS_AGE_KEY_FILE, SOPS_AGE_KEY and sops's default key file, "
                      "~/.config/sops/age/keys.txt on Linux")
        return (f"{relative}: none of your keys can decrypt it (looked in {where}). It is encrypted "
                f"to: {', '.join(recipients) or 'no age recipient'}. Use a key file holding one of "
                f"them, or ask a recipient to run: python -m tools.secrets add-recipient {stack} "
                f"<your age public key>")
    if code in (EXIT_MAC_MISMATCH, EXIT_BAD_CIPHERTEXT):
        return (f"{relative}: has been tampered with or corrupted (sops exit {code}: its integrity "
                f"check failed), so it is refused. Restore it from git and edit it only with: "
                f"python -m tools.secrets edit {stack}")
    if code == EXIT_NOT_ENCRYPTED:
        return f"{relative}: sops found no valid encryption metadata in it; restore it from git"
    return f"{relative}: sops could not decrypt it (exit {code}); run 'python -m tools.secrets edit {stack}'"


def _check_flat_strings(values: object, relative: str) -> None:
    if not isinstance(values, dict):
        raise OperatorError(f"{relative}: must hold a mapping of secret names to values")
    for key, value in values.items():
        if not isinstance(value, str) or not value:
            raise OperatorError(f"{relative}: key '{key}' must be a non-empty string (quote it in the editor)")


def check_secret_keys(values: dict[str, str], settings: Settings, stack: str) -> None:
    """Every key known, every required key present and set; one message for all problems."""
    relative = secrets_file(stack)
    used = secrets_used(settings)
    problems = []
    for key in sorted(values):
        if key not in SECRETS:
            problems.append(f"'{key}' is not a known secret (known: {', '.join(sorted(SECRETS))})")
        elif _is_placeholder(values[key]):
            problems.append(f"'{key}' still holds a placeholder (such as {PLACEHOLDER}), not a value: "
                            f"{SECRETS[key].description}")
    for key, required in sorted(used.items()):
        if required and key not in values:
            problems.append(f"'{key}' is missing: {SECRETS[key].description} "
                            f"(needed with platform {settings.platform}, auth {settings.auth.type}, "
                            f"registry {settings.registry.type})")
    if problems:
        listed = "\n".join(f"  - {problem}" for problem in problems)
        raise OperatorError(f"{relative}: {len(problems)} problem(s):\n{listed}\n"
                            f"Fix them with: python -m tools.secrets edit {stack}")


def _is_placeholder(value: str) -> bool:
    """The template's placeholder and its variants (<CHANGE-ME>, "change me", <your token>), or blanks."""
    return (not value.strip() or bool(_PLACEHOLDER_VARIANT.fullmatch(value.strip()))
            or bool(re.fullmatch(r"<[^<>]*>", value.strip())))


def _leaves(tree: object, prefix: str = ""):
    if isinstance(tree, dict):
        for key, value in tree.items():
            yield from _leaves(value, f"{prefix}.{key}" if prefix else str(key))
    elif isinstance(tree, list):
        for index, value in enumerate(tree):
            yield from _leaves(value, f"{prefix}[{index}]")
    else:
        yield prefix, tree
