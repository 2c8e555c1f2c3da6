"""The whole deployment of one stack, built from its settings and secrets."""

from __future__ import annotations

import pulumi

from components.generated_secrets import GeneratedSecrets
from components.secrets import StackSecrets
from components.settings import Settings


def build_platform(settings: Settings, secrets: StackSecrets) -> None:
    """Register every resource of the stack and export what operators need to know."""
    GeneratedSecrets("chart-secrets")
    scheme = "http" if settings.tls.issuer == "none" else "https"
    pulumi.export("hubUrl", f"{scheme}://{settings.domains.hub}/")
    pulumi.export("binderUrl", f"{scheme}://{settings.domains.binder}/")
