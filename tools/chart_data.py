"""The upstream data chart values are checked against: each pinned chart's schema and defaults.

    python -m tools.chart_data                 # download, verify and cache what is missing
    python -m tools.chart_data --from DIR      # without internet: take the files from DIR

For each chart whose values the tests validate, the package of its pinned version (the table in
components/chart_versions.py) is downloaded from the chart's own repository and verified against
the sha256 digest that repository's index.yaml lists for it, as Helm verifies it. The package,
its values.schema.json and its values.yaml are kept in .chart-cache/ (ignored by git). With
--from, the schema and defaults are copied from DIR instead, named <chart>-<version>.values.schema.json
and <chart>-<version>.values.yaml (or <chart>.values.*), as in a reference copy such as
../shared/chart-schemas. What is cached already is left alone. Exit 2 with one message when the
data cannot be had.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import shutil
import sys
import tarfile
import urllib.parse
from pathlib import Path

import yaml

from components.chart_versions import CHARTS
from components.errors import OperatorError
from tools.download import DownloadError, fetch

REPO = Path(__file__).resolve().parent.parent
CACHE = REPO / ".chart-cache"
CHECKED = ("jupyterhub", "binderhub-service", "cert-manager", "traefik", "velero")  # the charts that publish a schema
FILES = ("values.schema.json", "values.yaml")
HOW_TO_GET = ("run `make chart-data` where the chart repositories can be reached, or name a folder holding "
              "the schemas and defaults: `make test CHART_DATA=<folder>` (here: ../shared/chart-schemas)")


def cached(name: str, cache: Path = CACHE) -> Path:
    """The cache folder of chart `name` at its pinned version."""
    return cache / f"{name}-{CHARTS[name].version}"


def missing(cache: Path = CACHE) -> list[str]:
    """The checked charts whose schema or defaults are not in the cache."""
    return [name for name in CHECKED if not all((cached(name, cache) / file).is_file() for file in FILES)]


def download(name: str, cache: Path = CACHE) -> None:
    """Download chart `name`'s pinned package, verify its digest, keep it and its two files."""
    source = CHARTS[name]
    index_url = source.repository.rstrip("/") + "/index.yaml"
    try:
        index = yaml.load(fetch(index_url, timeout=60), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # noqa: S506
        versions = (index.get("entries") or {}).get(source.chart) or []
        (entry,) = [e for e in versions if e.get("version") == source.version]
        package = fetch(urllib.parse.urljoin(index_url, entry["urls"][0]))
    except DownloadError as exc:
        raise OperatorError(f"chart {name} {source.version}: could not be downloaded from {source.repository} "
                            f"({exc}); {HOW_TO_GET}") from None
    except (ValueError, KeyError, TypeError, AttributeError, IndexError, yaml.YAMLError):
        raise OperatorError(f"chart {name} {source.version}: {index_url} does not list it; {HOW_TO_GET}") from None
    actual = hashlib.sha256(package).hexdigest()
    if actual != entry.get("digest"):
        raise OperatorError(f"chart {name} {source.version}: the package's sha256 is {actual}, but {index_url} "
                            f"lists {entry.get('digest')}: refused")
    files = _package_files(package, source.chart)
    _keep(name, {f"{source.chart}-{source.version}.tgz": package, **files}, cache)


def _package_files(package: bytes, chart: str) -> dict[str, bytes]:
    """values.schema.json and values.yaml from a chart package (read, never extracted to disk)."""
    with tarfile.open(fileobj=io.BytesIO(package), mode="r:gz") as archive:
        files = {}
        for file in FILES:
            member = archive.extractfile(f"{chart}/{file}")
            if member is None:
                raise OperatorError(f"chart {chart}: its package has no {file}")
            files[file] = member.read()
    return files


def copy_from(name: str, folder: Path, cache: Path = CACHE) -> None:
    """Take chart `name`'s schema and defaults from a reference folder."""
    version = CHARTS[name].version
    files = {}
    for file in FILES:
        for candidate in (folder / f"{name}-{version}.{file}", folder / f"{name}.{file}"):
            if candidate.is_file():
                files[file] = candidate.read_bytes()
                break
        else:
            raise OperatorError(f"{folder}: has no {name}-{version}.{file} (nor {name}.{file}); {HOW_TO_GET}")
    _keep(name, files, cache)


def _keep(name: str, files: dict[str, bytes], cache: Path) -> None:
    """Write the files into the chart's cache folder, whole or not at all."""
    target = cached(name, cache)
    staging = target.with_name(target.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    for file, data in files.items():
        (staging / file).write_bytes(data)
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)


def main(argv: list[str] | None = None, cache: Path = CACHE) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.chart_data", description=__doc__.splitlines()[0])
    parser.add_argument("--from", dest="folder", type=Path, help="take the files from this folder (no internet)")
    args = parser.parse_args(argv)
    try:
        for name in missing(cache):
            if args.folder:
                copy_from(name, args.folder, cache)
            else:
                download(name, cache)
            print(f"chart data: {name} {CHARTS[name].version} in {cached(name, cache)}")
    except OperatorError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
