"""Where users reach the hub and BinderHub: the one place their public URLs are made.

Only what a browser follows is public (OAuth redirects, links, BinderHub's hub_url); the
services reach each other inside the cluster.
"""

from __future__ import annotations

from dataclasses import dataclass

from components.settings import Settings


@dataclass(frozen=True)
class Endpoints:
    hub_host: str
    binder_host: str
    tls: bool  # https, with certificates from the stack's issuer; plain http only on a local cluster

    @classmethod
    def of(cls, settings: Settings) -> Endpoints:
        return cls(settings.domains.hub, settings.domains.binder, settings.tls.issuer != "none")

    @property
    def scheme(self) -> str:
        return "https" if self.tls else "http"

    @property
    def hub_url(self) -> str:
        return f"{self.scheme}://{self.hub_host}/"

    @property
    def binder_url(self) -> str:
        return f"{self.scheme}://{self.binder_host}/"
