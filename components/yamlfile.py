"""Reading the YAML files operators edit (stack files, secrets files, .sops.yaml) with clear errors.

These files may come from anyone's pull request (the offline render runs on forks), so what they
may expand to is bounded: a size limit, no aliases (a few lines of them can expand to gigabytes),
and no merge keys (which need aliases to be of use).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from components.errors import OperatorError

MAX_BYTES = 1_000_000  # far above any stack or secrets file
_MERGE = "tag:yaml.org,2002:merge"


class _StrictLoader(yaml.SafeLoader):
    """Safe YAML as Pulumi reads stack files: duplicate keys refused, dates kept as text; and
    neither aliases nor merge keys."""

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.composer.ComposerError(
                None, None, f"uses the alias *{event.anchor}, and aliases are refused (they can make a small "
                            f"file expand without bound): write the value out", event.start_mark)
        return super().compose_node(parent, index)

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            if key_node.tag == _MERGE:
                raise yaml.constructor.ConstructorError(
                    None, None, "uses a merge key (<<), which is not supported: write the keys out",
                    key_node.start_mark)
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"found duplicate key {key!r}", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


_StrictLoader.add_constructor("tag:yaml.org,2002:timestamp", yaml.SafeLoader.construct_yaml_str)


def load_yaml(project_dir: Path, relative: str, if_missing: str) -> Any:
    """The parsed `project_dir/relative`; OperatorError naming the file if it is missing, a link,
    too large, not UTF-8 or not YAML."""
    return parse_yaml(read_text(project_dir, relative, if_missing), relative)


def read_text(project_dir: Path, relative: str, if_missing: str) -> str:
    """The text of an operator file, refused if it is missing, a link, too large or not UTF-8."""
    path = project_dir / relative
    if path.is_symlink():
        raise OperatorError(f"{relative}: is a symbolic link, which is refused (it would be read and rewritten "
                            f"wherever it points): put the file itself here")
    if not path.is_file():
        raise OperatorError(f"{relative}: not found. {if_missing}")
    data = path.read_bytes()
    if len(data) > MAX_BYTES:
        raise OperatorError(f"{relative}: is {len(data)} bytes, more than the {MAX_BYTES} an operator file may be")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise OperatorError(f"{relative}: is not UTF-8 text (line {line} holds the byte 0x{data[exc.start]:02x}): "
                            f"save it as UTF-8") from None


def parse_yaml(text: str, relative: str) -> Any:
    try:
        return yaml.load(text, Loader=_StrictLoader)  # noqa: S506 (a SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or "unreadable"
        raise OperatorError(f"{relative}: is not valid YAML{where}: {problem}") from None
