"""The home page's volume usage, read from a stand-in Prometheus on 127.0.0.1 by the real hub:
shown where Prometheus can tell, quietly left out where it cannot, and queried at most once a
minute per user however often the page is loaded."""

from __future__ import annotations

import asyncio
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest
from persistent_binderhub.usage import VolumeUsage, _selector, size_text

from tests.hub.running_hub import SeedUser, free_port, running_hub

GIB = 1024**3
# What the kubelet reported for each claim; claim-nils is on NFS, which reports nothing.
STATS = {"claim-uma": {"used": 6.1 * GIB, "capacity": 10 * GIB}}


class StandInPrometheus:
    """Answers /api/v1/query for max(kubelet_volume_stats_{used,capacity}_bytes{...}) from STATS."""

    def __init__(self) -> None:
        self.queries: list[str] = []
        prometheus = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                query = parse_qs(urlsplit(self.path).query)["query"][0]
                prometheus.queries.append(query)
                claim = next((c for c in STATS if f'persistentvolumeclaim="{c}"' in query), None)
                metric = "used" if "used_bytes" in query else "capacity"
                result = [{"metric": {}, "value": [1764547200, str(STATS[claim][metric])]}] if claim else []
                body = json.dumps({"status": "success", "data": {"resultType": "vector", "result": result}}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture(scope="module")
def prometheus():
    stand_in = StandInPrometheus()
    yield stand_in
    stand_in.close()


@pytest.fixture(scope="module")
def hub(tmp_path_factory, prometheus):
    config = f"c.PersistentBinderSpawner.usage_prometheus_url = {prometheus.url!r}\n"
    with running_hub(tmp_path_factory.mktemp("usage-hub"), {"uma": SeedUser(), "nils": SeedUser()},
                     chart_config=config) as running:
        yield running


def test_the_home_page_says_how_full_the_volume_is(hub, prometheus):
    page = hub.login("uma").get(hub.hub_url("home"), timeout=10)
    assert '<span id="volume-usage">Your volume holds 6.1 GiB of 10 GiB.</span>' in page.text
    assert any('persistentvolumeclaim="claim-uma"' in q and q.startswith("max(kubelet_volume_stats_used_bytes{")
               for q in prometheus.queries)


def test_where_prometheus_cannot_tell_nothing_is_said(hub):
    page = hub.login("nils").get(hub.hub_url("home"), timeout=10)
    assert page.status_code == 200
    assert "volume-usage" not in page.text


def test_prometheus_is_asked_at_most_once_a_minute_per_user(hub, prometheus):
    session = hub.login("uma")
    session.get(hub.hub_url("home"), timeout=10)
    before = len(prometheus.queries)
    for _ in range(5):
        assert "6.1 GiB of 10 GiB" in session.get(hub.hub_url("home"), timeout=10).text
    assert len(prometheus.queries) == before


def test_a_prometheus_that_is_down_or_answers_nonsense_gives_no_answer():
    down = VolumeUsage(f"http://127.0.0.1:{free_port()}", timeout=1)
    assert asyncio.run(down.text("binderhub", "claim-uma")) is None


@pytest.mark.parametrize(("count", "text"), [(0, "0 B"), (512, "512 B"), (6.1 * GIB, "6.1 GiB"),
                                             (10 * GIB, "10 GiB"), (1536 * 1024**2, "1.5 GiB"),
                                             (300 * GIB, "300 GiB"), (2.5 * 1024**4, "2.5 TiB")])
def test_sizes_read_as_people_read_them(count, text):
    assert size_text(count) == text


def test_a_claim_name_cannot_break_out_of_its_label_matcher():
    escaped = '{namespace="binderhub",persistentvolumeclaim="x\\"}or vector(1)"}'
    assert _selector("binderhub", 'x"}or vector(1)') == escaped
