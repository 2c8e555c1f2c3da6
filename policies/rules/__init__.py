"""The rules of the persistent-binderhub policy pack: the one list, which the pack
(policies/__main__.py) and the offline checker (python -m tools.policy) both run."""

from __future__ import annotations

from . import access, advisories, cost, data, exposure, reproducibility
from .model import Resource, Rule, Stack, Violation, message_of, stack_name

RULES: tuple[Rule, ...] = (*data.RULES, *exposure.RULES, *access.RULES, *cost.RULES, *reproducibility.RULES,
                           *advisories.RULES)
RULE_NAMES = tuple(rule.name for rule in RULES)

__all__ = ["RULES", "RULE_NAMES", "Resource", "Rule", "Stack", "Violation", "message_of", "stack_name"]
