"""What the outside world reaches: one entry point, over TLS, for the stack's own domains; and
network policies around everything else."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from .model import Resource, Rule, Stack, Violation

PUBLIC_TYPES = ("LoadBalancer", "NodePort")
# Each chart's Service types, at their value paths, and the type the chart uses when unset.
CHART_SERVICES = {
    "jupyterhub": (("proxy.service.type", "LoadBalancer"), ("hub.service.type", "ClusterIP")),
    "binderhub-service": (("service.type", "ClusterIP"),),
}
# The network policies of each chart that must be on, and what they guard.
CHART_NETWORK_POLICIES = {
    "jupyterhub": (("hub.networkPolicy.enabled", "the hub"), ("proxy.chp.networkPolicy.enabled", "the proxy"),
                   ("singleuser.networkPolicy.enabled", "user servers")),
    "binderhub-service": (("networkPolicy.enabled", "BinderHub and its builds"),),
}


def only_the_ingress_is_exposed(stack: Stack, config: Mapping[str, Any]) -> Iterator[Violation]:
    """Services and the charts' Services; the ingress controller's (Traefik's) is the one way in."""
    for service in stack.of_type("kubernetes:core/v1:Service"):
        parent = stack.parent_of(service)
        if parent is not None and parent.props.get("chart") == "traefik":
            continue  # in a real preview, a chart's objects are its children: Traefik's Service is the way in
        if service.get("spec.type") in PUBLIC_TYPES:
            yield Violation(f"Service {service.get('metadata.name', service.name)} is of type "
                            f"{service.get('spec.type')}: only the ingress controller may be reached from outside. "
                            f"Make it ClusterIP and route to it through an Ingress.", service.urn)
    for chart, services in CHART_SERVICES.items():
        for release in stack.charts(chart):
            for path, default in services:
                kind = release.value(path, default)
                if kind in PUBLIC_TYPES:
                    yield Violation(f"The {chart} release {release.name} exposes a Service of type {kind} "
                                    f"({path}{'' if release.value(path) else ', the chart default'}): only the "
                                    f"ingress controller may be reached from outside. Set {path}: ClusterIP.",
                                    release.urn)
    for harbor in stack.charts("harbor"):
        if harbor.value("expose.type", "ingress") not in ("ingress", "clusterIP"):
            yield Violation(f"Harbor is exposed as {harbor.value('expose.type')!r}: only the ingress controller may "
                            f"be reached from outside. Set expose.type: ingress.", harbor.urn)


def ingress_has_tls_for_the_stacks_domains(stack: Stack, config: Mapping[str, Any]) -> Iterator[Violation]:
    if stack.local:
        return
    domains = set(config.get("domains") or ())
    releases = [(release, "ingress") for release in [*stack.charts("jupyterhub"), *stack.charts("binderhub-service")]]
    releases += [(release, "grafana.ingress") for release in stack.charts("kube-prometheus-stack")]
    for release, path in releases:
        # z2jh and binderhub-service: on unless turned off; Grafana's: off unless turned on
        if release.value(f"{path}.enabled", path == "ingress") is not False:
            yield from _hosts_checked(release, release.value(f"{path}.hosts") or [],
                                      [h for tls in release.value(f"{path}.tls") or [] for h in tls.get("hosts", [])],
                                      domains, f"{path}.tls")
    for harbor in stack.charts("harbor"):
        tls = [harbor.value("expose.ingress.hosts.core")] if harbor.value("expose.tls.enabled") is True else []
        yield from _hosts_checked(harbor, [harbor.value("expose.ingress.hosts.core")], tls, domains, "expose.tls")
    for ingress in stack.of_type("kubernetes:networking.k8s.io/v1:Ingress"):
        yield from _hosts_checked(ingress, [rule.get("host") for rule in ingress.get("spec.rules") or []],
                                  [h for tls in ingress.get("spec.tls") or [] for h in tls.get("hosts", [])],
                                  domains, "spec.tls")


def _hosts_checked(resource: Resource, hosts: list, tls_hosts: list, domains: set[str],
                   tls_path: str) -> Iterator[Violation]:
    for host in hosts:
        if host not in tls_hosts:
            yield Violation(f"{resource.name} serves {host or 'every host'} without TLS: sign-ins and tokens would "
                            f"cross the network in the clear. Add the host to {tls_path} (with a tls.issuer in the "
                            f"stack's settings).", resource.urn)
        if host not in domains:
            yield Violation(f"{resource.name} serves {host or 'every host'}, which is none of the stack's domains "
                            f"({', '.join(sorted(domains)) or 'none given'}): set it in the stack's domains, or "
                            f"correct the host.", resource.urn)


def network_policies_on(stack: Stack, config: Mapping[str, Any]) -> Iterator[Violation]:
    for chart, policies in CHART_NETWORK_POLICIES.items():
        for release in stack.charts(chart):
            for path, guarded in policies:
                if release.value(path) is not True:
                    yield Violation(f"The {chart} release {release.name} has no network policy for {guarded} "
                                    f"({path} is not true): a project's image could reach what it should not. "
                                    f"Set {path}: true.", release.urn)


RULES = (
    Rule("only-the-ingress-is-exposed", "No Service of type LoadBalancer or NodePort but the ingress "
         "controller's.", only_the_ingress_is_exposed),
    Rule("ingress-has-tls-for-the-stacks-domains", "Every Ingress of a stack other than local has TLS, for the "
         "stack's own domains only.", ingress_has_tls_for_the_stacks_domains,
         config_properties={"domains": {"type": "array", "items": {"type": "string"}}}),
    Rule("network-policies-on", "Network policies guard the hub, the proxy, user servers and BinderHub's builds.",
         network_policies_on),
)
