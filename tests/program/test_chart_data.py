"""tools.chart_data against a stand-in chart repository on 127.0.0.1, and a reference folder."""

from __future__ import annotations

import hashlib
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest
import yaml

from components.chart_versions import ChartSource
from tests.program.archives import tar_gz
from tools import chart_data

SCHEMA = b'{"type": "object"}'
VALUES = b"replicas: 1\n"


def _package(chart: str) -> bytes:
    return tar_gz({f"{chart}/Chart.yaml": b"name: x\n", f"{chart}/values.schema.json": SCHEMA,
                   f"{chart}/values.yaml": VALUES})


@pytest.fixture
def repository(tmp_path, monkeypatch):
    """A chart repository serving jupyterhub at its pinned version; `digest` is what its index lists."""
    served = tmp_path / "served"
    (served / "charts").mkdir(parents=True)
    package = _package("jupyterhub")
    (served / "charts" / "jupyterhub-4.4.0.tgz").write_bytes(package)

    def publish(digest: str) -> None:
        index = {"apiVersion": "v1", "entries": {"jupyterhub": [
            {"version": "4.3.0", "urls": ["jupyterhub-4.3.0.tgz"], "digest": "0" * 64},
            {"version": "4.4.0", "urls": ["jupyterhub-4.4.0.tgz"], "digest": digest}]}}
        (served / "charts" / "index.yaml").write_text(yaml.safe_dump(index))

    publish(hashlib.sha256(package).hexdigest())
    handler = partial(SimpleHTTPRequestHandler, directory=str(served))
    handler.log_message = lambda *args: None
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}/charts/"
    monkeypatch.setitem(chart_data.CHARTS, "jupyterhub", ChartSource(url, "jupyterhub", "4.4.0"))
    monkeypatch.setattr(chart_data, "CHECKED", ("jupyterhub",))
    yield publish, package
    server.shutdown()


def test_a_package_is_downloaded_verified_and_cached_with_its_schema_and_defaults(repository, tmp_path):
    _, package = repository
    cache = tmp_path / "cache"
    assert chart_data.main([], cache=cache) == 0
    folder = cache / "jupyterhub-4.4.0"
    assert (folder / "values.schema.json").read_bytes() == SCHEMA
    assert (folder / "values.yaml").read_bytes() == VALUES
    assert (folder / "jupyterhub-4.4.0.tgz").read_bytes() == package
    assert chart_data.missing(cache) == []


def test_a_package_that_does_not_match_its_digest_is_refused(repository, tmp_path, capsys):
    publish, _ = repository
    publish("f" * 64)
    cache = tmp_path / "cache"
    assert chart_data.main([], cache=cache) == 2
    assert "the package's sha256 is" in capsys.readouterr().err
    assert not (cache / "jupyterhub-4.4.0").exists()


def test_without_a_repository_one_message_says_how_to_get_the_data(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(chart_data.CHARTS, "jupyterhub",
                        ChartSource("http://127.0.0.1:9/charts/", "jupyterhub", "4.4.0"))  # nothing listens
    monkeypatch.setattr(chart_data, "CHECKED", ("jupyterhub",))
    assert chart_data.main([], cache=tmp_path / "cache") == 2
    err = capsys.readouterr().err
    assert err.startswith("error: chart jupyterhub 4.4.0: could not be downloaded from http://127.0.0.1:9/charts/")
    assert "make test CHART_DATA=<folder>" in err


def test_without_internet_a_named_folder_serves(tmp_path, capsys):
    folder = tmp_path / "reference"
    folder.mkdir()
    for name in chart_data.CHECKED:
        version = chart_data.CHARTS[name].version
        (folder / f"{name}-{version}.values.schema.json").write_bytes(SCHEMA)
        (folder / f"{name}.values.yaml").write_bytes(VALUES)  # the unversioned name serves too
    cache = tmp_path / "cache"
    assert chart_data.main(["--from", str(folder)], cache=cache) == 0
    assert chart_data.missing(cache) == []
    (folder / "traefik.values.yaml").unlink()
    assert chart_data.main(["--from", str(folder)], cache=tmp_path / "other") == 2
    assert "has no traefik-41.3.0.values.yaml (nor traefik.values.yaml)" in capsys.readouterr().err
