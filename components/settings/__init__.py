"""Typed stack settings: every setting an operator gives per environment.

The settings live in `stacks/Pulumi.<stack>.yaml` under the project namespace
(`persistent-binderhub:<key>`). Pulumi hands them to the program as strings, objects
JSON-encoded; `parse_settings` turns them into one validated, frozen `Settings` object or
raises a single `OperatorError` listing every mistake with its stack file and key path.

- values.py: the value types and the base model;
- platforms.py: each platform's block (no provider imports);
- deployment.py: everything on the cluster, and `Settings`;
- loading.py, pulumi_config.py: reading them from the running stack;
- explain.py: validation errors as operator messages;
- stack.py: the project's and stacks' names and files.
"""

from components.settings.deployment import (
    ArtifactRegistry,
    Auth,
    Backups,
    Binder,
    Charts,
    HarborSettings,
    HubDatabase,
    Monitoring,
    Persistence,
    Restore,
    Servers,
    Settings,
    Storage,
    Tls,
)
from components.settings.loading import load_settings, parse_settings
from components.settings.platforms import Existing, Gke, Kubeadm, Magnum, NodePool
from components.settings.stack import PROJECT, is_example_stack, stack_file

__all__ = [
    "PROJECT", "ArtifactRegistry", "Auth", "Backups", "Binder", "Charts", "Existing", "Gke", "HarborSettings",
    "HubDatabase", "Kubeadm", "Magnum", "Monitoring", "NodePool", "Persistence", "Restore", "Servers", "Settings",
    "Storage", "Tls",
    "is_example_stack", "load_settings", "parse_settings", "stack_file",
]
