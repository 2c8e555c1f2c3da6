"""Reading a stack's settings: from the running Pulumi program, or from any config mapping."""

from __future__ import annotations

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


def parse_settings(config: Mapping[str, Any], stack: str) -> Settings:
    """Validate the project's keys of a stack's config; raise one OperatorError for every mistake."""
    prefix = f"{PROJECT}:"
    data = {key[len(prefix):]: _decode(value) for key, value in config.items() if key.startswith(prefix)}
    try:
        return Settings.model_validate(data, context={"stack": stack})
    except ValidationError as exc:
        problems = "\n".join(f"  - {line}" for line in explain(exc, Settings))
        raise OperatorError(
            f"{stack_file(stack)}: the stack settings have {exc.error_count()} problem(s):\n{problems}\n"
            f"Fix them in {stack_file(stack)} (keys under '{PROJECT}:'); nothing was deployed.") from None


def load_settings() -> Settings:
    """The settings of the stack Pulumi is running."""
    return parse_settings(running_stack_config(), pulumi.get_stack())
