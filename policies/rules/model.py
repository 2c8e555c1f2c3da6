"""What a rule sees and says: the stack's resources, each with its type, name, URN, properties and
whether it is protected; and violations, each with a message and the resource it is about.

The same model is filled from a render (tools/policy.py: the inputs the program registered) and
from the policy engine in a real preview (the pack's __main__.py: the properties the engine
presents). Under mocks a `helm.v4.Chart` has no children, so rules about a chart read its
inputs (`chart`, `version`, `values`), which both see alike.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

CHART = "kubernetes:helm.sh/v4:Chart"


@dataclass(frozen=True)
class Resource:
    type: str
    name: str
    urn: str
    props: Mapping[str, Any]
    protect: bool = False
    parent: str | None = None  # the parent's URN

    def get(self, path: str, default: Any = None) -> Any:
        """The property at a dotted PATH (`spec.type`), or DEFAULT when any part is missing."""
        return lookup(self.props, path, default)

    def value(self, path: str, default: Any = None) -> Any:
        """A chart's value at a dotted PATH (`proxy.service.type`)."""
        return lookup(self.props.get("values") or {}, path, default)


@dataclass(frozen=True)
class Stack:
    name: str
    resources: tuple[Resource, ...]

    @property
    def local(self) -> bool:
        """The laptop stack: plain HTTP and the dummy authenticator are for it alone."""
        return self.name == "local"

    def of_type(self, *types: str) -> list[Resource]:
        return [r for r in self.resources if r.type in types]

    def parent_of(self, resource: Resource) -> Resource | None:
        return next((r for r in self.resources if r.urn == resource.parent), None) if resource.parent else None

    def charts(self, chart: str) -> list[Resource]:
        """The releases of CHART (its name in its repository: jupyterhub, binderhub-service, ...)."""
        return [r for r in self.of_type(CHART) if r.props.get("chart") == chart]


@dataclass(frozen=True)
class Violation:
    message: str
    urn: str | None = None


Check = Callable[[Stack, Mapping[str, Any]], Iterable[Violation]]


@dataclass(frozen=True)
class Rule:
    """One policy: mandatory unless `advisory`. `check(stack, config)` gets the rule's own
    configuration (the policy pack's config for it, made from the stack's settings)."""

    name: str
    description: str
    check: Check
    advisory: bool = False
    config_properties: Mapping[str, Any] = field(default_factory=dict)

    def violations(self, stack: Stack, config: Mapping[str, Any]) -> list[Violation]:
        return list(self.check(stack, config))


def lookup(data: Any, path: str, default: Any = None) -> Any:
    for part in path.split("."):
        if not isinstance(data, Mapping) or part not in data:
            return default
        data = data[part]
    return data


def walk(data: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    """Every (dotted path, value) pair of nested mappings and lists, containers included."""
    yield path, data
    if isinstance(data, Mapping):
        for key, value in data.items():
            yield from walk(value, f"{path}.{key}" if path else str(key))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            yield from walk(value, f"{path}[{index}]")


def stack_name(urns: Iterable[str]) -> str:
    """The stack a URN belongs to: urn:pulumi:STACK::PROJECT::TYPE::NAME."""
    for urn in urns:
        if urn.startswith("urn:pulumi:"):
            return urn.split(":", 3)[2].split("::", 1)[0]
    return ""


def message_of(rule: Rule, violation: Violation, config: Mapping[str, Any]) -> str:
    """The violation's message, with the stack's written reason when it downgraded the rule."""
    reason = config.get("reason")
    return f"{violation.message} [downgraded to advisory by the stack: {reason}]" if reason else violation.message
