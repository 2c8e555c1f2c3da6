"""The real chart packages rendered with the program's values (Helm's engine, offline), and the
objects validated as Kubernetes will receive them."""

from __future__ import annotations

import kubernetes_validate
import yaml

BUILT_IN_GROUPS = {"", "apps", "batch", "storage.k8s.io", "networking.k8s.io", "rbac.authorization.k8s.io",
                   "policy", "scheduling.k8s.io", "admissionregistration.k8s.io", "apiextensions.k8s.io"}


def rendered_objects(package: bytes, values: dict, release: str, namespace: str) -> list[dict]:
    """What helm.v4.Chart applies: the chart's rendered objects, its Helm hooks left out."""
    import helm_python as helm  # the Helm engine: loaded only by the tests that render

    manifests = helm.Chart.load_archive(package).render(values, name=release, namespace=namespace, is_install=True)
    objects = []
    for path in sorted(manifests):
        if path.endswith("NOTES.txt"):  # text for the operator, not an object
            continue
        for document in yaml.safe_load_all(manifests[path]):
            if not isinstance(document, dict) or "kind" not in document:
                continue  # an empty document (a template that rendered nothing)
            if "helm.sh/hook" not in (document.get("metadata", {}).get("annotations") or {}):
                objects.append(document)
    return objects


def invalid_objects(objects: list[dict], kubernetes_version: str) -> list[str]:
    """Each object of a built-in API group that Kubernetes `kubernetes_version` would refuse."""
    problems = []
    for document in objects:
        group = document.get("apiVersion", "").rpartition("/")[0]
        if group not in BUILT_IN_GROUPS:
            continue  # custom resources are their operators' to check
        try:
            kubernetes_validate.validate(document, kubernetes_version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            problems.append(f"{document.get('kind')} {document.get('metadata', {}).get('name')}: {exc.message}")
    return problems
