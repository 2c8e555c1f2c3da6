"""How a tool ends on an operator's mistake: one `error:` line on standard error and exit code 2,
never a traceback."""

from __future__ import annotations

import sys
from collections.abc import Callable

from components.errors import OperatorError


def run(command: Callable[[], int | None]) -> int:
    """COMMAND's exit code (0 for None); 2 with one message for an OperatorError, or for a file named
    on the command line that cannot be read or written."""
    try:
        return command() or 0
    except OperatorError as exc:
        print(f"error: {exc}", file=sys.stderr)
    except OSError as exc:
        print(f"error: {exc.filename or ''}: {exc.strerror or exc}", file=sys.stderr)
    return 2
