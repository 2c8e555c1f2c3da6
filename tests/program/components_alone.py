"""Run a few lines that build one component from hand-made args, under the offline mocks."""

from __future__ import annotations

import textwrap
from pathlib import Path

from tools.offline import OfflineRun, RecordingMonitor, run_program


def run_alone(directory: Path, code: str, stack: str = "local",
              monitor: RecordingMonitor | None = None) -> OfflineRun:
    """`code` (imports included) as a whole Pulumi program: only what it builds is registered."""
    program = directory / f"alone-{len(list(directory.glob('alone-*.py')))}.py"
    program.write_text(textwrap.dedent(code))
    return run_program(stack, program=program, monitor=monitor)
