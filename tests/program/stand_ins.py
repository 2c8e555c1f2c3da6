"""Hand-made stand-ins for what one component receives from others, to build it on its own."""

from __future__ import annotations

import json

import pulumi
import pulumi_kubernetes as kubernetes

from components.cluster import Cluster, Placement
from components.ingress import TRAEFIK, IngressController


class HandMadeCluster(Cluster):
    """A `Cluster` with the interface given by hand (a provider of its own, no platform behind it)."""

    TYPE = "tests:stand-ins:HandMadeCluster"

    def __init__(self, name: str = "test-cluster", *, core: Placement | None = None,
                 user: Placement | None = None, **interface):
        super().__init__(name)
        self.hand_over(provider=kubernetes.Provider(f"{name}-kubernetes", opts=self.child()),
                       kubeconfig=pulumi.Output.secret("kubeconfig"), kubernetes_version="1.31",
                       core=core or Placement(), user=user or Placement(), **interface)


class HandMadeIngress:
    """What components read of the Ingress component (Traefik as the controller, by default)."""

    def __init__(self, class_name: str = "traefik", issuer: str | None = "letsencrypt-staging",
                 controller: IngressController | None = TRAEFIK):
        self.class_name, self.issuer, self.controller, self.ready = class_name, issuer, controller, []


def settings_of(stack: str, change=None):
    """A stack's settings, read from its stack file (and changed by `change(config)` first)."""
    from components.settings import parse_settings
    from tools.offline import REPO
    from tools.stackfile import read_stack_config

    # Objects come JSON-encoded, as Pulumi passes them; decoded here so that `change` can edit them.
    config = {key: json.loads(value) if value[:1] in "{[" else value
              for key, value in read_stack_config(REPO, stack).items()}
    if change:
        change(config)
    return parse_settings(config, stack)
