"""What every platform hands the rest of the program, so nothing downstream knows which it is."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import pulumi

if TYPE_CHECKING:
    import pulumi_kubernetes as kubernetes

# Where the hub, the proxy and BinderHub run; the charts (and registry pull secrets) go here.
HUB_NAMESPACE = "binderhub"
USER_HOMES_CLASS = "user-homes"
HUB_DB_CLASS = "hub-db"
NODE_PURPOSE = "hub.jupyter.org/node-purpose"
DEDICATED = "hub.jupyter.org/dedicated"


@dataclass(frozen=True)
class Placement:
    """Where one kind of workload runs: a node selector and the taints it tolerates."""

    node_selector: dict[str, str] = field(default_factory=dict)
    tolerations: tuple[dict[str, str], ...] = ()

    def chart_values(self) -> dict:
        """This placement as chart values: `nodeSelector` and `tolerations`, as most charts name them."""
        return {"nodeSelector": dict(self.node_selector),
                "tolerations": [dict(toleration) for toleration in self.tolerations]}

    @classmethod
    def dedicated(cls, label: str, purpose: str) -> Placement:
        """Nodes labelled `label=purpose` and tainted `hub.jupyter.org/dedicated=user:NoSchedule`:
        the taint z2jh's user pods and BinderHub's build pods tolerate, on user and build nodes."""
        return cls({label: purpose}, ({"key": DEDICATED, "operator": "Equal", "value": "user",
                                       "effect": "NoSchedule"},))


@dataclass(frozen=True)
class RegistryAccess:
    """The registry BinderHub pushes built images to and the nodes pull them from."""

    url: pulumi.Input[str]  # the registry API, for BinderHub's DockerRegistry.url ("" without one)
    image_prefix: pulumi.Input[str]  # BinderHub's image_prefix: where built images go
    username: pulumi.Input[str] | None = None
    password: pulumi.Output[str] | None = None  # always a Pulumi secret
    private: bool = False  # user pods need a pull secret (nodes cannot pull on their own)
    # Served in this cluster at the ingress address (Harbor): image builds need an egress rule to it.
    in_cluster: bool = False


@dataclass(frozen=True)
class Cluster:
    provider: kubernetes.Provider
    kubeconfig: pulumi.Output[str]  # a secret: kubeconfig content (or, for an existing cluster, its path)
    kubernetes_version: str  # minor version, such as "1.31", for validating what is applied
    registry: RegistryAccess
    core: Placement  # the hub, the proxy, BinderHub
    user: Placement  # user servers
    build: Placement  # image builds (the user nodes when there is no build pool)
    ingress_address: pulumi.Input[str] | None = None  # the address the ingress controller is exposed on
    # The entry point is the nodes' fixed ports (an existing, often local, cluster has no load
    # balancer to give it an address), not a LoadBalancer Service.
    ingress_on_node_ports: bool = False
    storage_classes: tuple[str, str] = (USER_HOMES_CLASS, HUB_DB_CLASS)
    depends_on: list[pulumi.Resource] = field(default_factory=list)  # what must exist before workloads
