"""Reading the YAML files operators edit (stack files, secrets files, .sops.yaml) with clear errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from components.errors import OperatorError


class _StrictLoader(yaml.SafeLoader):
    """Safe YAML as Pulumi reads stack files: duplicate keys refused, dates kept as text."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"found duplicate key {key!r}", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


_StrictLoader.add_constructor("tag:yaml.org,2002:timestamp", yaml.SafeLoader.construct_yaml_str)


def load_yaml(project_dir: Path, relative: str, if_missing: str) -> Any:
    """The parsed `project_dir/relative`; OperatorError naming the file if it is missing or not YAML."""
    path = project_dir / relative
    if not path.is_file():
        raise OperatorError(f"{relative}: not found. {if_missing}")
    try:
        return yaml.load(path.read_text(), Loader=_StrictLoader)  # noqa: S506 (a SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or "unreadable"
        raise OperatorError(f"{relative}: is not valid YAML{where}: {problem}") from None
