"""The policy pack's rules, offline, over a render; and the pack's configuration for a stack.

    python -m tools.policy DIR             # the rules over DIR (a render: resources.json, policy-config.json)
    python -m tools.policy --config STACK  # the pack's configuration for STACK, as JSON (pulumi --policy-pack-config)

The same rules (policies/rules) as `pulumi preview --policy-pack policies` runs, over the inputs
the program registered. Exit 1 when a mandatory rule fails, 0 otherwise (advisory findings and
rules the stack downgraded are printed), 2 on bad input.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from components.errors import OperatorError
from components.settings import Settings, parse_settings
from policies.rules import RULES, Resource, Rule, Stack, Violation, message_of
from tools.cli import run
from tools.offline import REPO
from tools.stackfile import read_stack_config

CONFIG_FILE = "policy-config.json"  # beside resources.json in a render
TLS_RULE = "ingress-has-tls-for-the-stacks-domains"


def pack_config(settings: Settings) -> dict[str, dict[str, Any]]:
    """The pack's configuration for a stack: each downgraded rule advisory with its reason, and the
    stack's domains for the TLS rule."""
    config: dict[str, dict[str, Any]] = {name: {"enforcementLevel": "advisory", "reason": reason}
                                         for name, reason in sorted(settings.policy.downgrade.items())}
    domains = [settings.domains.hub, settings.domains.binder]
    if settings.registry.type == "harbor":
        domains.append(settings.registry.harbor.hostname)
    if settings.monitoring:
        domains.append(settings.monitoring.grafana_host)
    config.setdefault(TLS_RULE, {})["domains"] = domains
    return config


def stack_config(stack: str, project_dir: Path = REPO) -> dict[str, dict[str, Any]]:
    return pack_config(parse_settings(read_stack_config(project_dir, stack), stack))


@dataclass(frozen=True)
class Finding:
    rule: Rule
    violation: Violation
    message: str
    mandatory: bool  # fails the check: a mandatory rule the stack did not downgrade


def check(stack: Stack, config: dict[str, dict[str, Any]]) -> list[Finding]:
    findings = []
    for rule in RULES:
        own = config.get(rule.name, {})
        mandatory = not rule.advisory and own.get("enforcementLevel") != "advisory"
        findings += [Finding(rule, violation, message_of(rule, violation, own), mandatory)
                     for violation in rule.violations(stack, own)]
    return findings


def read_render(directory: Path) -> tuple[Stack, dict[str, dict[str, Any]]]:
    """The stack and the pack's configuration as a render wrote them."""
    try:
        document = json.loads((directory / "resources.json").read_text())
        config = json.loads((directory / CONFIG_FILE).read_text())
        resources = tuple(Resource(r["type"], r["name"], r["urn"], r["inputs"], bool(r["options"]["protect"]),
                                   r["parent"]) for r in document["resources"])
        return Stack(document["stack"], resources), config
    except FileNotFoundError as exc:
        raise OperatorError(f"{directory}: no {Path(exc.filename).name}, so this is not a render of this version: "
                            f"render it with python -m tools.render STACK --out {directory}") from None
    except (ValueError, KeyError, TypeError) as exc:
        raise OperatorError(f"{directory}: not a readable render ({type(exc).__name__}: {exc}); render it "
                            f"again with python -m tools.render") from None


def report(stack: Stack, findings: list[Finding]) -> list[str]:
    lines = [f"policy: {len(RULES)} rules over the {len(stack.resources)} resources of stack {stack.name}"]
    for finding in findings:
        level = "mandatory" if finding.mandatory else "advisory"
        lines.append(f"  {level:9}  {finding.rule.name}: {finding.message}")
        if finding.violation.urn:
            lines.append(f"             on {finding.violation.urn}")
    failed = sum(f.mandatory for f in findings)
    lines.append(f"policy: {failed} mandatory violation(s), {len(findings) - failed} advisory")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.policy", description=__doc__.splitlines()[0])
    parser.add_argument("render", nargs="?", type=Path, help="a render directory (python -m tools.render)")
    parser.add_argument("--config", metavar="STACK", help="print the pack's configuration for STACK")
    parser.add_argument("--project-dir", type=Path, default=REPO, help="the directory holding stacks/ and secrets/")
    args = parser.parse_args(argv)
    if bool(args.render) == bool(args.config):
        parser.error("give either a render directory, or --config STACK")
    def command() -> int:
        if args.config:
            print(json.dumps(stack_config(args.config, args.project_dir), indent=2, sort_keys=True))
            return 0
        stack, config = read_render(args.render)
        findings = check(stack, config)
        print("\n".join(report(stack, findings)))
        return 1 if any(f.mandatory for f in findings) else 0

    return run(command)


if __name__ == "__main__":
    sys.exit(main())
