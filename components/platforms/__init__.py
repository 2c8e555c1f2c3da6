"""One component per platform, each a `components.cluster.Cluster`.

Provider modules are heavy to import, so each platform is imported only when chosen.
"""

from __future__ import annotations

import importlib

from components.cluster import Cluster
from components.secrets import StackSecrets
from components.settings import Settings


def build_cluster(settings: Settings, secrets: StackSecrets) -> Cluster:
    # Each platform's module is named after it, and builds its component with `build`.
    module = importlib.import_module(f"components.platforms.{settings.platform}")
    return module.build(settings, secrets)
