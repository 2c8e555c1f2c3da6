"""Manage a stack's SOPS-encrypted secrets without remembering sops flags.

    python -m tools.secrets create STACK [--recipient AGE_PUBLIC_KEY ...] [--no-edit]
    python -m tools.secrets edit STACK
    python -m tools.secrets check STACK
    python -m tools.secrets add-recipient STACK AGE_PUBLIC_KEY
    python -m tools.secrets remove-recipient STACK AGE_PUBLIC_KEY
    python -m tools.secrets rotate STACK

Who may decrypt a stack's file is kept in `.sops.yaml` (one creation rule per
stack); this command keeps the rule and the file's data key in step. Every
command that fails changes nothing.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
from pathlib import Path

import yaml

from components.errors import OperatorError
from components.secrets import (
    PLACEHOLDER,
    SECRETS,
    check_secret_keys,
    decrypt_secrets,
    encrypted_file_recipients,
    run_stack_sops,
    secrets_file,
    secrets_used,
)
from components.settings import is_example_stack, parse_settings
from components.sops import public_test_key_recipient
from components.yamlfile import load_yaml
from tools.stackfile import check_stack_name, read_stack_config

REPO = Path(__file__).resolve().parent.parent
SOPS_CONFIG = ".sops.yaml"
SOPS_CONFIG_HEADER = """\
# Who can decrypt each stack's secrets file: one creation rule per stack, age recipients.
# Managed by `python -m tools.secrets` (create, add-recipient, remove-recipient).
# A cloud KMS key may be added to a rule by hand (gcp_kms: ...), for example for CI.
"""
_AGE_RECIPIENT = re.compile(r"^age1[02-9ac-hj-np-z]{58}$")
_EDITOR_NO_CHANGE = 200  # sops edit: the file was not modified


def _rule_regex(stack: str) -> str:
    escaped = stack.replace(".", "\\.")  # stack names hold no other regex metacharacters
    return rf"(^|/)secrets/{escaped}\.sops\.yaml$"


class SopsConfig:
    """The creation rules in `.sops.yaml`, edited one stack at a time."""

    def __init__(self, project_dir: Path):
        self.path = project_dir / SOPS_CONFIG
        self.original = self.path.read_text() if self.path.exists() else None
        document = (load_yaml(project_dir, SOPS_CONFIG, "") if self.original is not None else None) or {}
        rules = (document.get("creation_rules") or []) if isinstance(document, dict) else None
        if not isinstance(rules, list) or not all(isinstance(rule, dict) for rule in rules):
            raise OperatorError(f"{SOPS_CONFIG}: must hold 'creation_rules:', a list of rules, each with "
                                f"path_regex and age")
        self.rules: list[dict] = rules

    def recipients(self, stack: str) -> list[str]:
        rule = self._rule(stack) or {}
        age = rule.get("age") or []
        # sops also accepts the recipients as one comma-separated string
        return [r.strip() for r in age.split(",")] if isinstance(age, str) else list(age)

    def set_recipients(self, stack: str, recipients: list[str]) -> None:
        rule = self._rule(stack)
        if rule is None or rule.get("path_regex") != _rule_regex(stack):
            # The stack has no rule, or shares a broader one: give it its own, first, so that
            # sops applies it to this stack and the other stacks keep theirs.
            inherited = {k: v for k, v in (rule or {}).items() if k not in ("path_regex", "age")}
            rule = {"path_regex": _rule_regex(stack), **inherited}
            self.rules.insert(0, rule)
        rule["age"] = recipients
        self.path.write_text(SOPS_CONFIG_HEADER + yaml.safe_dump({"creation_rules": self.rules}, sort_keys=False))

    def restore(self) -> None:
        if self.original is None:
            self.path.unlink(missing_ok=True)
        else:
            self.path.write_text(self.original)

    def _rule(self, stack: str) -> dict | None:
        """The rule sops applies to the stack's file: the first whose path_regex matches its path."""
        path = secrets_file(stack)
        return next((r for r in self.rules if re.search(str(r.get("path_regex", "")), path)), None)


def _checked_recipient(stack: str, recipient: str) -> str:
    if not _AGE_RECIPIENT.match(recipient):
        raise OperatorError(f"{recipient!r} is not an age public key (age1 followed by 58 characters; "
                            f"'age-keygen -o key.txt' prints one)")
    if recipient == public_test_key_recipient() and not is_example_stack(stack):
        raise OperatorError(f"{recipient} is the public test-only key; only example-* stacks and 'local' "
                            f"may use it")
    return recipient


def _failed(result, what: str) -> OperatorError:
    detail = (result.stderr or "").strip().splitlines()
    return OperatorError(f"{what} failed (sops exit {result.returncode}): {detail[-1] if detail else ''}")


def _template(stack: str, project_dir: Path) -> str:
    settings = parse_settings(read_stack_config(project_dir, stack), stack)
    used = secrets_used(settings)
    lines = [f"# Secrets of stack {stack}. Replace every {PLACEHOLDER}; the program refuses placeholders."]
    for key, required in used.items():
        lines.append(f"# {SECRETS[key].description}")
        lines.append(f"{key}: {PLACEHOLDER}" if required else f"# {key}: {PLACEHOLDER}")
    if not any(used.values()):
        lines.append("{}")  # sops needs a mapping, even an empty one
    return "\n".join(lines) + "\n"


def create(project_dir: Path, stack: str, recipients: list[str], edit: bool) -> str:
    relative = secrets_file(stack)
    if (project_dir / relative).exists():
        raise OperatorError(f"{relative}: already exists; change it with: python -m tools.secrets edit {stack}")
    template = _template(stack, project_dir)
    config = SopsConfig(project_dir)
    wanted = [_checked_recipient(stack, r) for r in recipients] or config.recipients(stack)
    if not wanted and is_example_stack(stack):
        wanted = [public_test_key_recipient()]
    if not wanted:
        raise OperatorError(f"{SOPS_CONFIG} has no recipients for stack {stack}: pass --recipient "
                            f"<age public key> (yours; 'age-keygen -o key.txt' makes one)")
    config.set_recipients(stack, sorted(set(config.recipients(stack)) | set(wanted)))
    with tempfile.NamedTemporaryFile("w", suffix=".yaml") as plain:
        plain.write(template)
        plain.flush()
        result = run_stack_sops(stack, project_dir, ["encrypt", "--filename-override", relative,
                                                     "--input-type", "yaml", "--output-type", "yaml", plain.name])
    if result.returncode != 0:
        config.restore()
        raise _failed(result, f"encrypting {relative}")
    (project_dir / relative).write_text(result.stdout)
    if edit:
        return edit_secrets(project_dir, stack)
    return f"created {relative}; fill it in with: python -m tools.secrets edit {stack}"


def edit_secrets(project_dir: Path, stack: str) -> str:
    relative = secrets_file(stack)
    decrypt_secrets(stack, project_dir)  # refuse a missing, plain or tampered file before opening it
    result = run_stack_sops(stack, project_dir, ["edit", relative], interactive=True)
    if result.returncode not in (0, _EDITOR_NO_CHANGE):
        raise OperatorError(f"{relative}: sops edit failed (exit {result.returncode}); the file is unchanged")
    return check(project_dir, stack)


def check(project_dir: Path, stack: str) -> str:
    settings = parse_settings(read_stack_config(project_dir, stack), stack)
    check_secret_keys(decrypt_secrets(stack, project_dir), settings, stack)
    return f"{secrets_file(stack)}: decrypts, and holds every secret stack {stack} needs"


def change_recipient(project_dir: Path, stack: str, recipient: str, add: bool) -> str:
    relative = secrets_file(stack)
    recipient = _checked_recipient(stack, recipient) if add else recipient
    decrypt_secrets(stack, project_dir)  # the data key must be readable to re-encrypt it
    config = SopsConfig(project_dir)
    current = config.recipients(stack)
    wanted = sorted(set(current) | {recipient}) if add else [r for r in current if r != recipient]
    if not add and recipient not in current:
        raise OperatorError(f"{recipient} is not a recipient of stack {stack} (recipients: {', '.join(current)})")
    if not wanted:
        raise OperatorError(f"{recipient} is the last recipient of stack {stack}; add another one first")
    config.set_recipients(stack, wanted)
    result = run_stack_sops(stack, project_dir, ["updatekeys", "--yes", relative])
    if result.returncode != 0:
        config.restore()
        raise _failed(result, f"re-encrypting the data key of {relative}")
    actual = sorted(encrypted_file_recipients(project_dir, stack))
    if actual != sorted(wanted):
        raise OperatorError(f"{relative}: sops applied another rule of {SOPS_CONFIG}: the file is encrypted to "
                            f"{', '.join(actual)}; check the rules that match it")
    return f"{relative}: now encrypted to {', '.join(wanted)}"


def rotate(project_dir: Path, stack: str) -> str:
    relative = secrets_file(stack)
    decrypt_secrets(stack, project_dir)
    result = run_stack_sops(stack, project_dir, ["rotate", "--in-place", relative])
    if result.returncode != 0:
        raise _failed(result, f"rotating the data key of {relative}")
    return f"{relative}: new data key; every value re-encrypted"


def main(argv: list[str] | None = None, project_dir: Path = REPO) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.secrets", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)

    def command(name: str, text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=text)
        sub.add_argument("stack")
        return sub

    new = command("create", "create a stack's secrets file from the template")
    new.add_argument("--recipient", action="append", default=[], help="an age public key (repeatable)")
    new.add_argument("--no-edit", action="store_true", help="do not open the editor afterwards")
    command("edit", "open the decrypted file in $EDITOR, re-encrypt on save, then check it")
    command("check", "decrypt and check the file as the program does")
    command("rotate", "re-encrypt every value with a new data key")
    command("add-recipient", "let an age key decrypt the file").add_argument("recipient")
    command("remove-recipient", "stop an age key from decrypting the file").add_argument("recipient")
    args = parser.parse_args(argv)
    try:
        stack = check_stack_name(args.stack)
        if args.command == "create":
            message = create(project_dir, stack, args.recipient, edit=not args.no_edit)
        elif args.command in ("add-recipient", "remove-recipient"):
            message = change_recipient(project_dir, stack, args.recipient, add=args.command == "add-recipient")
        else:
            message = {"edit": edit_secrets, "check": check, "rotate": rotate}[args.command](project_dir, stack)
    except OperatorError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(message)
    return 0


if __name__ == "__main__":
    sys.exit(main())
