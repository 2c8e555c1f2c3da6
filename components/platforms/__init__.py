"""One component per platform, each building a `components.cluster.Cluster`.

Provider modules are heavy to import, so each platform is imported only when chosen.
"""

from __future__ import annotations

import importlib

from components.cluster import Cluster
from components.secrets import StackSecrets
from components.settings import Settings

_MODULES = {"gke": "gke", "magnum": "magnum", "kubeadm": "kubeadm", "existing": "existing"}


def build_cluster(settings: Settings, secrets: StackSecrets) -> Cluster:
    module = importlib.import_module(f"components.platforms.{_MODULES[settings.platform]}")
    return module.build(settings, secrets)
