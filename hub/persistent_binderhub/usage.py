"""How full a user's volume is, from Prometheus's volume statistics, for the home page.

The kubelet reports every mounted volume's `kubelet_volume_stats_used_bytes` and
`..._capacity_bytes`, which Prometheus keeps; the last value it has is good for the page, as
"6.1 GiB of 10 GiB". Answers are kept for a short while (one query per user and minute at
most, however often the page is loaded). Where Prometheus cannot tell (it is down or slow, or
the volume reports nothing, as NFS volumes do), there is no answer and the page says nothing.
"""

from __future__ import annotations

import json
import logging
import time
from urllib.parse import urlencode

from tornado.httpclient import AsyncHTTPClient, HTTPClientError

log = logging.getLogger(__name__)
_UNITS = ("B", "KiB", "MiB", "GiB", "TiB")


def size_text(count: float) -> str:
    """1234567890 -> '1.1 GiB': one decimal below ten units, none above."""
    unit = 0
    while count >= 1024 and unit < len(_UNITS) - 1:
        count /= 1024
        unit += 1
    return f"{count:.1f} {_UNITS[unit]}" if count < 10 and unit else f"{count:.0f} {_UNITS[unit]}"


def _selector(namespace: str, claim: str) -> str:
    def quoted(value: str) -> str:
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'

    return f"{{namespace={quoted(namespace)},persistentvolumeclaim={quoted(claim)}}}"


class VolumeUsage:
    """Reads and caches the usage of claims through Prometheus's HTTP API."""

    def __init__(self, prometheus_url: str, ttl: float = 60.0, timeout: float = 2.0) -> None:
        self.prometheus_url = prometheus_url.rstrip("/")
        self.ttl, self.timeout = ttl, timeout
        self._cache: dict[tuple[str, str], tuple[float, str | None]] = {}

    async def text(self, namespace: str, claim: str) -> str | None:
        """'USED of CAPACITY' for the claim, or None when Prometheus cannot tell."""
        key = (namespace, claim)
        cached = self._cache.get(key)
        if cached and time.monotonic() - cached[0] < self.ttl:
            return cached[1]
        selector = _selector(namespace, claim)
        used = await self._value(f"kubelet_volume_stats_used_bytes{selector}")
        capacity = await self._value(f"kubelet_volume_stats_capacity_bytes{selector}") if used is not None else None
        text = f"{size_text(used)} of {size_text(capacity)}" if used is not None and capacity else None
        self._cache[key] = (time.monotonic(), text)
        return text

    async def _value(self, query: str) -> float | None:
        url = f"{self.prometheus_url}/api/v1/query?{urlencode({'query': f'max({query})'})}"
        try:
            response = await AsyncHTTPClient().fetch(url, request_timeout=self.timeout, connect_timeout=self.timeout)
            result = json.loads(response.body)["data"]["result"]
            return float(result[0]["value"][1]) if result else None
        except (HTTPClientError, OSError, ValueError, KeyError, IndexError, TypeError) as exc:
            log.debug("Prometheus cannot tell %s: %s", query, exc)
            return None
