"""Reading a stack file the way the Pulumi CLI hands it to the program."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from components.errors import OperatorError
from components.settings import PROJECT, stack_file
from components.yamlfile import load_yaml

_STACK_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


MAX_STACK_NAME = 100  # Pulumi's own limit, well within a file name's


def check_stack_name(stack: str) -> str:
    """Refuse names that are not Pulumi stack names (and could escape stacks/ or secrets/)."""
    if len(stack) > MAX_STACK_NAME:
        raise OperatorError(f"the stack name is {len(stack)} characters long; a stack name has at most "
                            f"{MAX_STACK_NAME}")
    if not _STACK_NAME.match(stack):
        raise OperatorError(f"{stack!r} is not a valid stack name: use letters, digits, '.', '_' and '-' "
                            f"(and no spaces)")
    return stack


def known_stacks(project_dir: Path) -> list[str]:
    return sorted(p.name.removeprefix("Pulumi.").removesuffix(".yaml")
                  for p in (project_dir / "stacks").glob("Pulumi.*.yaml"))


def read_stack_config(project_dir: Path, stack: str) -> dict[str, str]:
    """The stack's config as Pulumi passes it: `namespace:key` → string, objects JSON-encoded."""
    relative = stack_file(check_stack_name(stack))
    document = load_yaml(project_dir, relative, (
        f"Known stacks in {project_dir / 'stacks'}: {', '.join(known_stacks(project_dir)) or 'none'}. "
        f"Start a new stack from an example: cp stacks/Pulumi.example-gke.yaml {relative}"))
    config = document.get("config") if isinstance(document, dict) else None
    if not isinstance(config, dict):
        raise OperatorError(f"{relative}: must be a mapping with a 'config:' mapping of "
                            f"'{PROJECT}:<key>: <value>' entries")
    return {_checked_key(key, value, relative): _as_config_string(value) for key, value in config.items()}


def _checked_key(key: Any, value: Any, relative: str) -> str:
    if not isinstance(key, str) or ":" not in key:
        raise OperatorError(f"{relative}: config key {key!r} has no namespace: write it as '{PROJECT}:{key}'")
    if isinstance(value, dict) and set(value) == {"secure"}:
        raise OperatorError(f"{relative}: config key '{key}' is a Pulumi-encrypted value; this project keeps "
                            f"secrets in secrets/<stack>.sops.yaml (python -m tools.secrets edit <stack>)")
    return key


def _as_config_string(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value, default=str)  # as text, like any other odd YAML value
    return "" if value is None else str(value)
