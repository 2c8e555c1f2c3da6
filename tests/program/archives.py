"""Stand-in release archives for the tests of what the tools download."""

from __future__ import annotations

import io
import tarfile


def tar_gz(files: dict[str, bytes]) -> bytes:
    """A .tar.gz holding `files` (path -> content), as a chart package or a release archive is."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for path, data in files.items():
            info = tarfile.TarInfo(path)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()
