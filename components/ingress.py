"""The way in: Traefik as the ingress controller and cert-manager with Let's Encrypt issuers.

Traefik watches Ingresses of its own class `traefik` (not the cluster's default class, so it
coexists with another controller) and is exposed on the entry point the cluster hands over:

- a LoadBalancer Service on `cluster.ingress_address` (on GKE a static IP, on OpenStack a
  floating IP, on bare metal the first MetalLB address), set as the Service's
  `spec.loadBalancerIP`. Since traefik chart 40 the Service is written the Kubernetes way,
  under `service.spec`; a top-level `service.type` is silently ignored (the schema allows it).
- where `cluster.ingress_on_node_ports` (an existing cluster: kind, k3d, minikube): a NodePort
  Service on fixed ports, 30080 for HTTP and 30443 for HTTPS, so a local cluster can map them
  once (kind: `extraPortMappings` of containerPort 30080/30443 to hostPort 80/443) or reach
  them with `kubectl port-forward -n traefik svc/traefik 8080:80`.

With TLS on, HTTP is redirected to HTTPS on the entry point. ACME HTTP-01 challenges still
pass: Let's Encrypt follows a redirect to HTTPS on port 443 and does not check the
certificate there.

Only Traefik's Kubernetes Ingress provider is on: nothing here uses IngressRoutes,
Middlewares or Gateway API routes, so the CRD provider (and its watches and RBAC) is off.

cert-manager installs its CRDs (`crds.enabled`), and its startupapicheck,
a Helm hook that helm.v4.Chart would skip anyway, is off. Both ClusterIssuers
(`letsencrypt-staging`, `letsencrypt-production`) exist whenever a stack uses TLS, so a stack
moves from staging to production by changing `tls.issuer` alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as kubernetes

from components.charts import chart
from components.cluster import Cluster, Placement
from components.component import Component
from components.settings import Charts, Settings, Tls

CLASS_NAME = "traefik"
CERT_MANAGER_NAMESPACE = "cert-manager"
TRAEFIK_NAMESPACE = "traefik"
ACME_SERVERS = {
    "letsencrypt-staging": "https://acme-staging-v02.api.letsencrypt.org/directory",
    "letsencrypt-production": "https://acme-v02.api.letsencrypt.org/directory",
}
# The fixed node ports of a cluster whose entry is its nodes (Cluster.ingress_on_node_ports): HTTP, HTTPS.
NODE_PORTS = {"web": 30080, "websecure": 30443}
# How long a request may take to arrive, body included: an image layer pushed to Harbor is one
# request (Traefik's default, 60 s since v3, cuts large pushes).
READ_TIMEOUT = "3600s"
# Until cainjector has put the CA into cert-manager's webhook configurations, the API server
# cannot call the webhook, and the ClusterIssuers would be refused.
_WAIT_FOR_CA = {"pulumi.com/waitFor": "jsonpath={.webhooks[0].clientConfig.caBundle}"}


@dataclass(frozen=True)
class IngressController:
    """The ingress controller's pods, for network policies that let traffic reach them: traffic to
    the ingress address from inside the cluster arrives at a pod, on its container port."""

    namespace: str
    pod_labels: dict[str, str]
    https_port: int

    def egress(self) -> dict:
        """A NetworkPolicy egress rule to the controller's HTTPS port."""
        return {"to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": self.namespace}},
                        "podSelector": {"matchLabels": dict(self.pod_labels)}}],
                "ports": [{"port": self.https_port, "protocol": "TCP"}]}


# Traefik as its chart runs it: websecure listens on 8443 in the pod.
TRAEFIK = IngressController(TRAEFIK_NAMESPACE, {"app.kubernetes.io/name": "traefik"}, 8443)


def cert_manager_values(cluster: Cluster) -> dict[str, Any]:
    core = cluster.core.chart_values()
    return {
        "crds": {"enabled": True},
        # A post-install Helm hook: helm.v4.Chart skips hooks, so say so.
        "startupapicheck": {"enabled": False},
        **core,  # the controller
        "webhook": {**core, "validatingWebhookConfigurationAnnotations": _WAIT_FOR_CA,
                    "mutatingWebhookConfigurationAnnotations": _WAIT_FOR_CA},
        "cainjector": core,
    }


def traefik_values(tls: bool, cluster: Cluster) -> dict[str, Any]:
    timeouts = {"respondingTimeouts": {"readTimeout": READ_TIMEOUT}}
    web: dict[str, Any] = {"transport": timeouts}
    websecure: dict[str, Any] = {"http": {"tls": {"enabled": True}}, "transport": timeouts}
    if cluster.ingress_on_node_ports:
        service_spec: dict[str, Any] = {"type": "NodePort"}
        web["nodePort"] = NODE_PORTS["web"]
        websecure["nodePort"] = NODE_PORTS["websecure"]
    else:
        service_spec = {"type": "LoadBalancer"}
        if cluster.ingress_address is not None:
            service_spec["loadBalancerIP"] = cluster.ingress_address
    if tls:
        web["http"] = {"redirections": {"entryPoint": {"to": "websecure", "scheme": "https", "permanent": True}}}
    return {
        "ingressClass": {"enabled": True, "isDefaultClass": False, "name": CLASS_NAME},
        "providers": {
            "kubernetesIngress": {"enabled": True},
            "kubernetesCRD": {"enabled": False},
            "kubernetesGateway": {"enabled": False},
        },
        "service": {"spec": service_spec},
        "ports": {"web": web, "websecure": websecure},
        **cluster.core.chart_values(),
    }


def cluster_issuer(name: str, email: str, core: Placement, class_name: str = CLASS_NAME) -> dict[str, Any]:
    """The spec of a Let's Encrypt ClusterIssuer answering HTTP-01 challenges through the ingress."""
    ingress: dict[str, Any] = {"ingressClassName": class_name}
    if core.node_selector or core.tolerations:  # the short-lived solver pods run where the hub runs
        ingress["podTemplate"] = {"spec": core.chart_values()}
    return {"acme": {
        "server": ACME_SERVERS[name],
        "email": email,
        "privateKeySecretRef": {"name": f"{name}-account-key"},
        "solvers": [{"http01": {"ingress": ingress}}],
    }}


@dataclass(frozen=True)
class IngressArgs:
    tls: Tls
    existing_class: str | None  # an IngressClass the cluster has: then Traefik is not installed
    charts: Charts
    cluster: Cluster

    @classmethod
    def of(cls, settings: Settings, cluster: Cluster) -> IngressArgs:
        return cls(settings.tls, settings.ingress.existing_class, settings.charts, cluster)


class Ingress(Component):
    """Traefik and cert-manager, with Let's Encrypt ClusterIssuers when the stack uses TLS.

    For the rest of the program:
    - `class_name`: the IngressClass to put in `ingressClassName` ("traefik");
    - `issuer`: the ClusterIssuer to name in `cert-manager.io/cluster-issuer`, or None without TLS;
    - `ready`: what Ingress objects must depend on;
    - `controller`: the controller's pods (`IngressController`), or None for the cluster's own.
    """

    TYPE = "persistent-binderhub:ingress:Ingress"

    def __init__(self, name: str, args: IngressArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(name, opts)
        existing_class, cluster = args.existing_class, args.cluster
        self.class_name = existing_class or CLASS_NAME
        self.controller: IngressController | None = None if existing_class else TRAEFIK
        self.issuer: str | None = None if args.tls.issuer == "none" else args.tls.issuer
        namespaces = {
            namespace: kubernetes.core.v1.Namespace(namespace, metadata={"name": namespace}, opts=self.child())
            for namespace in (CERT_MANAGER_NAMESPACE, *([] if existing_class else [TRAEFIK_NAMESPACE]))
        }
        cert_manager = chart(args.charts, "cert-manager", CERT_MANAGER_NAMESPACE, cert_manager_values(cluster),
                             self.child(namespaces[CERT_MANAGER_NAMESPACE]))
        controller = [] if existing_class else [
            chart(args.charts, "traefik", TRAEFIK_NAMESPACE, traefik_values(self.issuer is not None, cluster),
                  self.child(namespaces[TRAEFIK_NAMESPACE]))]
        issuers = [
            kubernetes.apiextensions.CustomResource(
                issuer, api_version="cert-manager.io/v1", kind="ClusterIssuer", metadata={"name": issuer},
                spec=cluster_issuer(issuer, args.tls.email, cluster.core, self.class_name),
                opts=self.child(cert_manager))
            for issuer in (ACME_SERVERS if self.issuer is not None else ())
        ]
        self.ready: list[pulumi.Resource] = [*controller, cert_manager, *issuers]
        self.register_outputs({})
