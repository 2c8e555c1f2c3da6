"""Reading the YAML files operators edit (stack files, secrets files) with clear errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from components.errors import OperatorError


def load_yaml(project_dir: Path, relative: str, if_missing: str) -> Any:
    """The parsed `project_dir/relative`; OperatorError naming the file if it is missing or not YAML."""
    path = project_dir / relative
    if not path.is_file():
        raise OperatorError(f"{relative}: not found. {if_missing}")
    try:
        return yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or "unreadable"
        raise OperatorError(f"{relative}: is not valid YAML{where}: {problem}") from None
