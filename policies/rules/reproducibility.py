"""What a preview shows is what deploys: charts at exact versions, images at a tag or digest."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from .model import Rule, Stack, Violation, walk

EXACT_VERSION = re.compile(r"v?[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?")
WORKLOADS = ("kubernetes:core/v1:Pod", "kubernetes:batch/v1:Job", "kubernetes:batch/v1:CronJob",
             "kubernetes:apps/v1:Deployment", "kubernetes:apps/v1:StatefulSet", "kubernetes:apps/v1:DaemonSet")


def versions_and_images_are_pinned(stack: Stack, config: Mapping[str, Any]) -> Iterator[Violation]:
    for chart in stack.of_type("kubernetes:helm.sh/v4:Chart"):
        version = chart.props.get("version")
        if not isinstance(version, str) or not EXACT_VERSION.fullmatch(version):
            yield Violation(f"Chart {chart.props.get('chart')} ({chart.name}) is not pinned to an exact version "
                            f"({version!r}): each deploy could install another. Pin it in "
                            f"components/chart_versions.py.", chart.urn)
        for path, image in walk(chart.props.get("values") or {}):
            problem = _unpinned(image) if path.rsplit(".", 1)[-1].lower().endswith("image") else None
            if problem:
                yield Violation(f"The {chart.props.get('chart')} value {path} {problem}: each pull could run "
                                f"another image. Name a tag (never latest) or a digest.", chart.urn)
    for workload in stack.of_type(*WORKLOADS):
        for path, image in walk(workload.props):
            if path.endswith("].image") and (problem := _unpinned(image)):
                yield Violation(f"{workload.type} {workload.name}: {path} {problem}: each pull could run another "
                                f"image. Name a tag (never latest) or a digest.", workload.urn)


def _unpinned(image: Any) -> str | None:
    """What is wrong with an image reference (`repo:tag`, `repo@sha256:...`, or a chart's
    {name|repository, tag, digest}), or None when it is pinned."""
    if isinstance(image, Mapping):
        if not (image.get("name") or image.get("repository")):
            return None  # the chart's own image and tag, pinned with the chart
        return _tag_problem(image.get("tag"), bool(image.get("digest")), "an image")
    if not isinstance(image, str) or not image:
        return None
    last = image.rsplit("/", 1)[-1]
    return _tag_problem(last.rpartition(":")[2] if ":" in last else "", "@sha256:" in image, repr(image))


def _tag_problem(tag: object, digest: bool, what: str) -> str | None:
    if tag == "latest":
        return f"is {what} with tag latest"
    return None if tag or digest else f"is {what} without a tag or digest"


RULES = (
    Rule("versions-and-images-are-pinned", "Charts are pinned to exact versions; container images to a tag "
         "(never latest) or a digest.", versions_and_images_are_pinned),
)
