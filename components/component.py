"""The one shape of every part of the deployment: `Kind(name, args, opts)`.

`args` is a frozen dataclass holding only what the component needs (its block of the
settings, the secrets it uses, what other components made). The component registers its
children under itself with `self.child(...)` and ends with `register_outputs`.

Children inherit the component's providers and `protect` from Pulumi itself; what they do
not inherit is the component's `depends_on`, so `child` carries it over: a component that
waits for something waits with everything in it.
"""

from __future__ import annotations

from typing import ClassVar

import pulumi

# A child registered at the stack's root before its component existed: the alias keeps a deployed
# stack's resource (and everything under it) in place.
FROM_ROOT = [pulumi.Alias(parent=pulumi.ROOT_STACK_RESOURCE)]


class Component(pulumi.ComponentResource):
    """Base of every component; a subclass names its type token in `TYPE`."""

    TYPE: ClassVar[str]  # "persistent-binderhub:<module>:<Kind>"

    def __init__(self, name: str, opts: pulumi.ResourceOptions | None = None):
        super().__init__(self.TYPE, name, None, opts)
        self._depends_on = opts.depends_on if opts else None

    def child(self, *depends_on: pulumi.Resource, **options) -> pulumi.ResourceOptions:
        """Options of a child: parented here, waiting for what this component waits for and for
        `depends_on`; `options` are any other resource options (a provider made here, `protect`)."""
        inherited = pulumi.ResourceOptions(parent=self, depends_on=self._depends_on)
        return inherited.merge(pulumi.ResourceOptions(depends_on=list(depends_on), **options))
