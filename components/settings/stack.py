"""The project, its stacks and their files, as operators name them."""

from __future__ import annotations

PROJECT = "persistent-binderhub"
DEMO_STACK_PREFIX = "example-"
LOCAL_STACK = "local"


def is_example_stack(stack: str) -> bool:
    """Example stacks (and `local`) may use the public test-only age key."""
    return stack.startswith(DEMO_STACK_PREFIX) or stack == LOCAL_STACK


def stack_file(stack: str) -> str:
    """The stack file as operators know it, relative to the project root."""
    return f"stacks/Pulumi.{stack}.yaml"
