"""Downloading what the make targets fetch (chart packages, command-line tools): one way, one error."""

from __future__ import annotations

import http.client
import urllib.error
import urllib.request


class DownloadError(Exception):
    """Why a download failed, in a few words (the caller says what it was for and what to do)."""


def fetch(url: str, timeout: float = 120) -> bytes:
    """The whole body at `url`; DownloadError if it cannot be reached, answers an error, or is cut off."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 (official https sources)
            return response.read()
    except http.client.IncompleteRead as exc:
        raise DownloadError(f"the download of {url} was cut off after {len(exc.partial)} bytes") from None
    except urllib.error.HTTPError as exc:
        raise DownloadError(exc.reason) from None
    except (urllib.error.URLError, OSError) as exc:
        raise DownloadError(str(getattr(exc, "reason", exc))) from None
