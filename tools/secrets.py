"""Manage a stack's SOPS-encrypted secrets without remembering sops flags.

    python -m tools.secrets create STACK [--recipient AGE_PUBLIC_KEY ...] [--no-edit]
    python -m tools.secrets edit STACK
    python -m tools.secrets check STACK
    python -m tools.secrets add-recipient STACK AGE_PUBLIC_KEY
    python -m tools.secrets remove-recipient STACK AGE_PUBLIC_KEY
    python -m tools.secrets rotate STACK
    python -m tools.secrets --project-dir DIR ...   # the .sops.yaml, stacks/ and secrets/ of another checkout

Who may decrypt a stack's file is kept in `.sops.yaml` (one creation rule per
stack); this command keeps the rule and the file's data key in step. Every
command that fails changes nothing.
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import shutil
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
from components.sops import SOPS_CONFIG, public_test_key_recipient, sops_rules
from tools.stackfile import check_stack_name, read_stack_config

REPO = Path(__file__).resolve().parent.parent
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


class Workspace:
    """A private copy of what a command changes (`.sops.yaml` and the stack's secrets file), in the
    project's layout, so that sops works on the copy. Only a command that succeeds replaces the real
    files (`commit`), each in one atomic rename; a failing one leaves them as they were."""

    def __init__(self, project_dir: Path, stack: str):
        self.project_dir, self.secrets = project_dir, secrets_file(stack)
        # In the project folder: the same file system, so that the renames are atomic.
        self.root = Path(tempfile.mkdtemp(prefix=".secrets-work-", dir=project_dir))
        (self.root / "secrets").mkdir()
        for relative in (SOPS_CONFIG, self.secrets):
            if (project_dir / relative).is_file():
                shutil.copy2(project_dir / relative, self.root / relative)

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *exc) -> None:
        shutil.rmtree(self.root, ignore_errors=True)

    def commit(self) -> None:
        (self.project_dir / "secrets").mkdir(exist_ok=True)
        for relative in (SOPS_CONFIG, self.secrets):
            if (self.root / relative).is_file():
                os.replace(self.root / relative, self.project_dir / relative)


class SopsConfig:
    """The creation rules in a `.sops.yaml`, edited one stack at a time."""

    def __init__(self, project_dir: Path):
        self.path = project_dir / SOPS_CONFIG
        self.rules: list[dict] = sops_rules(project_dir)

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

    def _rule(self, stack: str) -> dict | None:
        """The rule sops applies to the stack's file: the first whose path_regex matches its path."""
        path = secrets_file(stack)
        return next((r for r in self.rules if re.search(str(r.get("path_regex", "")), path)), None)


def _checked_recipient(stack: str, recipient: str) -> str:
    """An age public key. The value is never repeated in a message: it may be a pasted secret key."""
    if "AGE-SECRET-KEY" in recipient.upper():
        raise OperatorError("the recipient given is an age secret key, which must never leave its key file: "
                            "give its public key instead ('age-keygen -y <key file>' prints it)")
    if not _AGE_RECIPIENT.match(recipient):
        raise OperatorError("the recipient given is not an age public key (age1 followed by 58 characters; "
                            "'age-keygen -o key.txt' makes a key and prints its public key)")
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
    if (project_dir / relative).exists() or (project_dir / relative).is_symlink():
        raise OperatorError(f"{relative}: already exists; change it with: python -m tools.secrets edit {stack}")
    template = _template(stack, project_dir)
    wanted_given = [_checked_recipient(stack, r) for r in recipients]
    if edit:
        editor_environment()  # before anything: an edit that cannot start should not leave a file
    with Workspace(project_dir, stack) as work:
        config = SopsConfig(work.root)
        wanted = wanted_given or config.recipients(stack)
        if not wanted and is_example_stack(stack):
            wanted = [public_test_key_recipient()]
        if not wanted:
            raise OperatorError(f"{SOPS_CONFIG} has no recipients for stack {stack}: pass --recipient "
                                f"<age public key> (yours; 'age-keygen -o key.txt' makes one)")
        config.set_recipients(stack, sorted(set(config.recipients(stack)) | set(wanted)))
        (work.root / f"{stack}.template.yaml").write_text(template)
        result = run_stack_sops(stack, work.root, ["encrypt", "--filename-override", relative, "--input-type",
                                                   "yaml", "--output-type", "yaml", f"{stack}.template.yaml"])
        if result.returncode != 0:
            raise _failed(result, f"encrypting {relative}")
        (work.root / relative).write_text(result.stdout)
        if edit:
            _edit(work, stack)
        work.commit()
    if edit:
        return check(project_dir, stack)
    return f"created {relative}; fill it in with: python -m tools.secrets edit {stack}"


def editor_environment() -> dict[str, str]:
    """sops's environment for an edit: the operator's editor, behind tools/editor.py, which refuses
    to hand sops back a file that is not a YAML mapping (sops would wait for a key press for ever
    where there is no terminal)."""
    editor = os.environ.get("SOPS_EDITOR") or os.environ.get("EDITOR")
    if not editor:
        raise OperatorError("no editor: set EDITOR (for example EDITOR=nano) and run the command again")
    wrapper = f"{shlex.quote(sys.executable)} {shlex.quote(str(REPO / 'tools' / 'editor.py'))}"
    return {**os.environ, "PBH_EDITOR": editor, "SOPS_EDITOR": wrapper, "EDITOR": wrapper}


def _edit(work: Workspace, stack: str) -> None:
    result = run_stack_sops(stack, work.root, ["edit", work.secrets], interactive=True,
                            environment=editor_environment())
    if result.returncode not in (0, _EDITOR_NO_CHANGE):
        raise OperatorError(f"{work.secrets}: the edit did not finish (sops exit {result.returncode}; see above); "
                            f"the file is unchanged")


def edit_secrets(project_dir: Path, stack: str) -> str:
    decrypt_secrets(stack, project_dir)  # refuse a missing, plain or tampered file before opening it
    with Workspace(project_dir, stack) as work:
        _edit(work, stack)
        work.commit()
    return check(project_dir, stack)


def check(project_dir: Path, stack: str) -> str:
    settings = parse_settings(read_stack_config(project_dir, stack), stack)
    check_secret_keys(decrypt_secrets(stack, project_dir), settings, stack)
    return f"{secrets_file(stack)}: decrypts, and holds every secret stack {stack} needs"


def change_recipient(project_dir: Path, stack: str, recipient: str, add: bool) -> str:
    """Recipient changes start from the recipients the file is actually encrypted to (a colleague's
    checkout of `.sops.yaml` may list fewer), and are refused if the operator's own keys could not
    decrypt the result."""
    relative = secrets_file(stack)
    if add:
        recipient = _checked_recipient(stack, recipient)
    decrypt_secrets(stack, project_dir)  # the data key must be readable to re-encrypt it
    current = sorted(encrypted_file_recipients(project_dir, stack))
    if not add and recipient not in current:
        raise OperatorError(f"the key given is not a recipient of {relative} (recipients: {', '.join(current)})")
    wanted = sorted(set(current) | {recipient}) if add else [r for r in current if r != recipient]
    if not wanted:
        raise OperatorError(f"{recipient} is the last recipient of stack {stack}; add another one first")
    with Workspace(project_dir, stack) as work:
        SopsConfig(work.root).set_recipients(stack, wanted)
        result = run_stack_sops(stack, work.root, ["updatekeys", "--yes", relative])
        if result.returncode != 0:
            raise _failed(result, f"re-encrypting the data key of {relative}")
        actual = sorted(encrypted_file_recipients(work.root, stack))
        if actual != wanted:
            raise OperatorError(f"{relative}: sops applied another rule of {SOPS_CONFIG}: the file would be "
                                f"encrypted to {', '.join(actual)}; check the rules that match it. Nothing changed")
        try:
            decrypt_secrets(stack, work.root)
        except OperatorError:
            raise OperatorError(f"{relative}: after this change none of your own keys could decrypt it, so it is "
                                f"refused and nothing changed; add your own key first, or let another "
                                f"recipient make the change") from None
        work.commit()
    return f"{relative}: now encrypted to {', '.join(wanted)}"


def rotate(project_dir: Path, stack: str) -> str:
    relative = secrets_file(stack)
    decrypt_secrets(stack, project_dir)
    with Workspace(project_dir, stack) as work:
        result = run_stack_sops(stack, work.root, ["rotate", "--in-place", relative])
        if result.returncode != 0:
            raise _failed(result, f"rotating the data key of {relative}")
        work.commit()
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
    parser.add_argument("--project-dir", type=Path, default=project_dir,
                        help="the directory holding .sops.yaml, stacks/ and secrets/ (default: this repository)")
    args = parser.parse_args(argv)
    project_dir = args.project_dir
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
