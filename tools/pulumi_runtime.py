"""The one door to the Pulumi SDK internals that the offline run needs.

Pulumi's public test API (`pulumi.runtime.set_mocks`) expects one program per process, run once
by a test framework. Running the real program many times in one process (each example stack, in
many tests) needs a fresh root stack, the project directory and the stack's outputs between runs,
which only the runtime's own settings hold. The wire format of secrets, resource references,
assets and archives (their signature keys) is not exported either. tests/program/test_adapters.py
pins this module to the Pulumi SDK version of requirements.txt.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from pulumi.runtime import rpc, settings
from pulumi.runtime.stack import run_pulumi_func

SIGNATURE_KEY = rpc._special_sig_key  # the key that marks a special value in a serialized property
SECRET = rpc._special_secret_sig
RESOURCE = rpc._special_resource_sig
ASSET = rpc._special_asset_sig
ARCHIVE = rpc._special_archive_sig
UNKNOWN = rpc.UNKNOWN  # a value not known until the engine applies the change


def forget_root() -> None:
    """Forget the last run's root stack, so that the next run makes its own."""
    settings.ROOT.set(None)


def start_in(project_dir: Path) -> None:
    """After `set_mocks`: run the next program in `project_dir`, with no outputs from the last."""
    settings.SETTINGS.root_directory = str(project_dir)
    settings.SETTINGS.outputs.clear()


def root_outputs() -> dict[str, Any]:
    """What the program exported, as Outputs."""
    return dict(settings.get_root_resource().outputs)


def run_as_program(func: Callable[[], Any]) -> Coroutine[Any, Any, Any]:
    """`func` run as Pulumi runs a program: under the root stack, waiting for every registration."""
    return run_pulumi_func(func)
