"""The one door to Pulumi's runtime config internals.

Every key of the running stack is needed, not one key at a time: a mistyped key is exactly
what the settings must report, and `pulumi.Config` only answers for keys asked by name. No
public API lists the config, so this reads the runtime's own store (the values the CLI passes
in PULUMI_CONFIG, and any set in-process, as the mocks do). tests/program/test_adapters.py pins
it to the Pulumi SDK version in requirements.txt.
"""

from __future__ import annotations

from pulumi.runtime import config as runtime_config


def running_stack_config() -> dict[str, str]:
    """Every config key of the running stack (`project:key`) with its raw string value."""
    return {**runtime_config.get_config_env(), **runtime_config.CONFIG.get()}
