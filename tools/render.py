"""Render a stack offline, or diff two renders.

    python -m tools.render STACK --out DIR      # DIR/resources.json, DIR/values/<release>.yaml,
                                                # DIR/policy-config.json (python -m tools.policy DIR)
        [--project-dir DIR]                     # stacks/ and secrets/ of another checkout
    python -m tools.render --diff DIR_A DIR_B   # exit 0: same, 1: differences
        [--markdown]                            # the diff and DIR_B's policy results, for a pull request
    python -m tools.render STACK --out DIR --without-secrets   # without the key: the same files

The render runs the real program under Pulumi's mocks with the stack's settings
and secrets: no cloud, no credentials, no Pulumi CLI. Secrets appear as
`[secret]`. The same commit renders byte-identical files. Exit 2 on bad input.
"""

from __future__ import annotations

import argparse
import html
import json
import re
import shutil
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import yaml

from components.errors import OperatorError
from tools.offline import CHART_TYPE, REPO, OfflineRun, run_program
from tools.policy import CONFIG_FILE, check, read_render, stack_config

RESOURCES = "resources.json"
MARKER = ".render"  # what makes a directory a render, which the next render may replace
MARKER_TEXT = "Written by python -m tools.render; the next render into this directory replaces all of it.\n"
# libyaml's emitter when PyYAML has it (the hub package's files make large values): same YAML, faster
_YAML_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
_RENDERED_FIELDS = {"urn", "type", "name", "parent", "custom", "inputs", "options"}
VALUES = "values"
_MARKDOWN_ACTIVE = re.compile(r"[@\[\]()`*_~|#!\\:]")


def write_render(run: OfflineRun, out: Path) -> None:
    """Write the desired state of one run: every resource, the stack outputs, each chart's values."""
    out.mkdir(parents=True, exist_ok=True)
    document = {"stack": run.stack, "resources": [asdict(r) for r in run.resources], "outputs": run.outputs}
    (out / RESOURCES).write_text(json.dumps(document, indent=2, sort_keys=True) + "\n")
    (out / MARKER).write_text(MARKER_TEXT)
    values_dir = out / VALUES
    values_dir.mkdir()
    for chart in run.of_type(CHART_TYPE):
        release = chart.inputs.get("name") or chart.name
        values = chart.inputs.get("values", {})
        (values_dir / f"{release}.yaml").write_text(yaml.dump(values, Dumper=_YAML_DUMPER, sort_keys=True))


def check_render_target(out: Path) -> None:
    """A render is written only into a new or empty directory, or over an earlier render (which
    holds the marker): never over anything else."""
    if out.is_symlink() or (out.exists() and not out.is_dir()):
        raise OperatorError(f"{out}: exists and is not a directory; choose a new directory for the render")
    if out.is_dir() and any(out.iterdir()) and not (out / MARKER).is_file():
        raise OperatorError(f"{out}: is not empty and not a render (it has no {MARKER} file), so it is left "
                            f"alone; choose a new or empty directory, such as render/<stack>")


def render(stack: str, out: Path, project_dir: Path = REPO, *, without_secrets: bool = False) -> OfflineRun:
    """Render `stack` into `out`, replacing an earlier render there only once the new one is whole.
    `without_secrets`: without decrypting (see run_program); the same files, as secrets are masked."""
    check_render_target(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.new-", dir=out.parent))
    try:
        run = run_program(stack, project_dir, without_secrets=without_secrets)
        write_render(run, staging)
        # What the policy pack is told about this stack, for python -m tools.policy DIR
        (staging / CONFIG_FILE).write_text(json.dumps(stack_config(stack, project_dir), indent=2, sort_keys=True)
                                           + "\n")
        if out.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
            out.rename(old / out.name)
            staging.rename(out)
            shutil.rmtree(old)
        else:
            staging.rename(out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return run


def _load(directory: Path) -> dict[str, Any]:
    path = directory / RESOURCES
    try:
        document = json.loads(path.read_text())
        resources = {_identity(r["urn"]): r for r in document["resources"] if set(r) >= _RENDERED_FIELDS}
        if len(resources) != len(document["resources"]) or not isinstance(document["outputs"], dict):
            raise ValueError
        return {"resources": resources, "outputs": document["outputs"]}
    except FileNotFoundError:
        raise OperatorError(f"{path}: not found; {directory} is not a render (python -m tools.render STACK "
                            f"--out <a new directory> makes one)") from None
    except (OSError, ValueError, KeyError, TypeError, IndexError, AttributeError):
        raise OperatorError(f"{path}: is not a render written by python -m tools.render") from None


def _identity(urn: str) -> str:
    """A resource's URN without stack and project, so that two stacks can be compared too."""
    return urn.split("::", 2)[2]


def changed_paths(old: Any, new: Any, path: str = "") -> list[tuple[str, Any, Any]]:
    """Every leaf path whose value differs, with the old and new value (absent: None)."""
    if isinstance(old, dict) and isinstance(new, dict):
        changes = []
        for key in sorted(set(old) | set(new), key=str):
            changes += changed_paths(old.get(key), new.get(key), f"{path}.{key}" if path else str(key))
        return changes
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        changes = []
        for index, (a, b) in enumerate(zip(old, new, strict=True)):
            changes += changed_paths(a, b, f"{path}[{index}]")
        return changes
    return [] if old == new else [(path, old, new)]


def _show(value: Any) -> str:
    text = "(absent)" if value is None else json.dumps(value, sort_keys=True)
    return text if len(text) <= 80 else text[:77] + "..."


@dataclass(frozen=True)
class Change:
    sign: str  # + added, - removed, ~ changed
    label: str  # "TYPE  NAME", or "stack outputs"
    paths: tuple[tuple[str, Any, Any], ...] = ()  # of a change: (path, old, new)


def render_changes(dir_a: Path, dir_b: Path) -> list[Change]:
    """Resources added, removed, and changed with their changed input paths; then the outputs."""
    a, b = _load(dir_a), _load(dir_b)
    changes = []
    for identity in sorted(set(a["resources"]) | set(b["resources"])):
        old, new = a["resources"].get(identity), b["resources"].get(identity)
        resource = old or new
        label = f"{resource['type']}  {resource['name']}"
        if new is None or old is None:
            changes.append(Change("-" if new is None else "+", label))
            continue
        fields = ("inputs", "options", "custom")
        paths = changed_paths({f: old[f] for f in fields}, {f: new[f] for f in fields})
        if paths:
            changes.append(Change("~", label, tuple(paths)))
    output_paths = changed_paths(a["outputs"], b["outputs"])
    if output_paths:
        changes.append(Change("~", "stack outputs", tuple(output_paths)))
    return changes


def diff_renders(dir_a: Path, dir_b: Path) -> list[str]:
    """A readable resource-level diff: added, removed, and changed with the changed input paths."""
    lines = []
    for change in render_changes(dir_a, dir_b):
        lines.append(f"{change.sign} {change.label}")
        lines += [f"    {path}: {_show(was)} -> {_show(now)}" for path, was, now in change.paths]
    return lines


def markdown_diff(dir_a: Path, dir_b: Path) -> str:
    """The diff of two renders and the policy results of the second, as one Markdown section for a
    pull request. Every value is HTML-escaped inside <code>: a pull request's values stay inert."""
    changes = render_changes(dir_a, dir_b)
    stack, config = read_render(dir_b)
    findings = check(stack, config)
    counts = {sign: sum(c.sign == sign for c in changes) for sign in "+-~"}
    lines = [f"### Stack <code>{_escaped(stack.name)}</code>", "",
             f"{counts['+']} added, {counts['-']} removed, {counts['~']} changed" if changes else "No changes."]
    if changes:
        lines += ["", "<details><summary>The changes</summary>", ""]
        for change in changes:
            lines.append(f"- {change.sign} <code>{_escaped(change.label)}</code>")
            lines += [f"  - <code>{_escaped(path)}</code>: <code>{_escaped(_show(was))}</code> → "
                      f"<code>{_escaped(_show(now))}</code>" for path, was, now in change.paths]
        lines += ["", "</details>"]
    failed = [f for f in findings if f.mandatory]
    lines += ["", f"Policy: {len(failed)} mandatory violation(s), {len(findings) - len(failed)} advisory"
              if findings else "Policy: every rule passes."]
    lines += [f"- {'❌' if f.mandatory else '⚠️'} <code>{f.rule.name}</code>: {_escaped(f.message)}" for f in findings]
    return "\n".join(lines) + "\n"


def _escaped(text: str) -> str:
    """TEXT as it reads, inert in GitHub's Markdown: HTML escaped, and the characters that make
    links, mentions, emphasis or tables written as character references."""
    return _MARKDOWN_ACTIVE.sub(lambda m: f"&#{ord(m.group())};", html.escape(text.replace("\n", " "), quote=False))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.render", description=__doc__.splitlines()[0])
    parser.add_argument("stack", nargs="?", help="the stack to render, such as example-gke")
    parser.add_argument("--out", type=Path, help="the directory to write the render into")
    parser.add_argument("--project-dir", type=Path, default=REPO,
                        help="the directory holding stacks/ and secrets/ (default: this repository)")
    parser.add_argument("--diff", nargs=2, type=Path, metavar=("DIR_A", "DIR_B"), help="compare two renders")
    parser.add_argument("--without-secrets", action="store_true",
                        help="render without the decryption key: the secrets file is checked, not decrypted")
    parser.add_argument("--markdown", action="store_true",
                        help="with --diff: the diff and DIR_B's policy results, as Markdown for a pull request")
    args = parser.parse_args(argv)
    if bool(args.diff) == bool(args.stack) or (args.stack and not args.out):
        parser.error("give either STACK --out DIR, or --diff DIR_A DIR_B")
    try:
        if args.diff and args.markdown:
            print(markdown_diff(*args.diff), end="")
            return 0
        if args.diff:
            lines = diff_renders(*args.diff)
            print("\n".join(lines) if lines else "no differences")
            return 1 if lines else 0
        run = render(args.stack, args.out, args.project_dir, without_secrets=args.without_secrets)
    except OperatorError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"error: cannot write the render into {args.out}: {exc.strerror}", file=sys.stderr)
        return 2
    charts = len(run.of_type(CHART_TYPE))
    print(f"rendered stack {args.stack}: {len(run.resources)} resources, {charts} chart values, into {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
