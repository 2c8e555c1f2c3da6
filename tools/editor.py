"""The editor sops runs for `python -m tools.secrets edit|create`: the operator's own (PBH_EDITOR),
then a check that the file is a YAML mapping.

A file that is not valid YAML: with a terminal, say what is wrong and open the editor again (as
sops would); without one, exit 1, so that sops stops with an error instead of waiting for ever for a
key press. The message names the line, never a value.

    PBH_EDITOR="nano" python tools/editor.py FILE
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

import yaml


def problem(path: Path) -> str | None:
    """What is wrong with the edited file, or None if it is a YAML mapping."""
    try:
        document = yaml.safe_load(path.read_text())
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        mark = getattr(exc, "problem_mark", None)
        return f"it is not valid YAML{f' (line {mark.line + 1})' if mark else ''}"
    return None if isinstance(document, dict) else "it must be a mapping of secret names to values"


def main(argv: list[str]) -> int:
    if len(argv) != 1 or not os.environ.get("PBH_EDITOR"):
        print("usage: PBH_EDITOR=<editor> python tools/editor.py FILE", file=sys.stderr)
        return 2
    path = Path(argv[0])
    while True:
        # The operator's editor, as they would run it from the shell (an editor with its options).
        if subprocess.run([*shlex.split(os.environ["PBH_EDITOR"]), str(path)], check=False).returncode != 0:
            print("error: the editor failed; nothing was saved", file=sys.stderr)
            return 1
        wrong = problem(path)
        if wrong is None:
            return 0
        if not sys.stdin.isatty():
            print(f"error: the edited file cannot be saved: {wrong}; nothing was saved", file=sys.stderr)
            return 1
        input(f"The edited file cannot be saved: {wrong}. Press Enter to edit it again. ")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
