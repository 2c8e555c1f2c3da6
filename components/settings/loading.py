"""Reading a stack's settings: from the running Pulumi program, or from any config mapping."""

from __future__ import annotations

import difflib
import json
from collections.abc import Mapping
from typing import Any

import pulumi
from pydantic import ValidationError

from components.errors import OperatorError
from components.settings.deployment import Settings
from components.settings.explain import explain
from components.settings.pulumi_config import running_stack_config
from components.settings.stack import PROJECT, stack_file


def _decode(raw: Any) -> Any:
    """Pulumi passes objects and lists JSON-encoded and scalars as strings."""
    if isinstance(raw, str) and raw.lstrip()[:1] in ("{", "["):
        try:
            return json.loads(raw)
        except json.JSONDecodeError:
            return raw
    return raw


# Config namespaces besides the project's: those of the providers the program configures, and
# Pulumi's own. Anything else is a typo whose settings would be ignored.
PROVIDER_NAMESPACES = ("pulumi", "gcp", "openstack", "kubernetes", "command", "random", "tls")


def parse_settings(config: Mapping[str, Any], stack: str) -> Settings:
    """Validate the project's keys of a stack's config; raise one OperatorError for every mistake."""
    prefix = f"{PROJECT}:"
    data = {key[len(prefix):]: _decode(value) for key, value in config.items() if key.startswith(prefix)}
    problems = _unknown_namespaces(config)
    try:
        settings = Settings.model_validate(data, context={"stack": stack})
    except ValidationError as exc:
        problems += explain(exc, Settings)
    if problems:
        listed = "\n".join(f"  - {line}" for line in problems)
        raise OperatorError(
            f"{stack_file(stack)}: the stack settings have {len(problems)} problem(s):\n{listed}\n"
            f"Fix them in {stack_file(stack)} (keys under '{PROJECT}:'); nothing was deployed.")
    return settings


def _unknown_namespaces(config: Mapping[str, Any]) -> list[str]:
    problems = []
    for key in sorted(config):
        namespace = key.split(":", 1)[0]
        if namespace != PROJECT and namespace not in PROVIDER_NAMESPACES:
            close = difflib.get_close_matches(namespace, [PROJECT, *PROVIDER_NAMESPACES], n=1)
            hint = f"; did you mean '{close[0]}:'?" if close else f" (the settings are under '{PROJECT}:')"
            problems.append(f"{key}: '{namespace}' is not a known namespace, so this setting would be "
                            f"ignored{hint}")
    return problems


def load_settings() -> Settings:
    """The settings of the stack Pulumi is running."""
    return parse_settings(running_stack_config(), pulumi.get_stack())
