"""Tools installed on first use, against a stand-in release server on 127.0.0.1."""

from __future__ import annotations

import hashlib
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.program.archives import tar_gz
from tools import install_tool
from tools.install_tool import TOOLS, Tool
from tools.offline import REPO

BINARY = b"#!/bin/sh\necho stand-in kind 0.30.0\n"


def _archive() -> bytes:
    return tar_gz({f"pulumi/{name}": f"#!/bin/sh\necho {name}\n".encode()
                   for name in ("pulumi", "pulumi-language-python")})


@pytest.fixture
def releases(monkeypatch, tmp_path):
    """A release server; `files` maps a path to its bytes (or to `CUT`: a download that breaks off)."""
    files: dict[str, bytes | str] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            body = files.get(self.path)
            if body is None:
                self.send_error(404)
                return
            self.send_response(200)
            if body == "CUT":  # promises more than it sends, then closes
                self.send_header("Content-Length", "1000")
                self.end_headers()
                self.wfile.write(b"partial")
                return
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}"
    monkeypatch.setitem(install_tool.TOOLS, "kind", Tool("0.30.0", base + "/v{version}/kind-linux-amd64",
                                                         base + "/v{version}/kind-linux-amd64.sha256sum"))
    monkeypatch.setitem(install_tool.TOOLS, "pulumi", Tool(
        "3.272.0", base + "/v{version}/pulumi-v{version}-linux-x64.tar.gz",
        base + "/v{version}/pulumi-{version}-checksums.txt", archive_folder="pulumi"))
    monkeypatch.setenv("PATH", "/nonexistent")  # neither tool on PATH
    monkeypatch.setattr(install_tool.platform, "system", lambda: "Linux")
    monkeypatch.setattr(install_tool.platform, "machine", lambda: "x86_64")
    yield files, tmp_path / "bin"
    server.shutdown()


def test_a_download_with_the_published_checksum_is_installed_once(releases):
    files, tools_bin = releases
    files["/v0.30.0/kind-linux-amd64"] = BINARY
    files["/v0.30.0/kind-linux-amd64.sha256sum"] = f"{hashlib.sha256(BINARY).hexdigest()}  kind-linux-amd64\n".encode()
    assert install_tool.install("kind", tools_bin) == f"kind: 0.30.0 installed in {tools_bin}"
    assert (tools_bin / "kind").read_bytes() == BINARY
    assert (tools_bin / "kind").stat().st_mode & 0o111
    files.clear()  # installed: nothing is downloaded again
    assert install_tool.install("kind", tools_bin) == f"kind: {tools_bin / 'kind'}"


def test_an_archive_installs_every_file_of_its_folder(releases):
    files, tools_bin = releases
    archive = _archive()
    files["/v3.272.0/pulumi-v3.272.0-linux-x64.tar.gz"] = archive
    files["/v3.272.0/pulumi-3.272.0-checksums.txt"] = (
        f"{'0' * 64}  pulumi-v3.272.0-darwin-x64.tar.gz\n"
        f"{hashlib.sha256(archive).hexdigest()}  pulumi-v3.272.0-linux-x64.tar.gz\n").encode()
    install_tool.install("pulumi", tools_bin)
    assert sorted(p.name for p in tools_bin.iterdir()) == ["pulumi", "pulumi-language-python"]


@pytest.mark.parametrize(("case", "expected"), [
    ("wrong sum", "the download's sha256 is"),
    ("missing file", "kind 0.30.0 could not be downloaded (Not Found)"),
    ("cut off", "was cut off"),
])
def test_a_bad_download_installs_nothing(releases, case, expected):
    files, tools_bin = releases
    files["/v0.30.0/kind-linux-amd64.sha256sum"] = f"{'f' * 64}  kind-linux-amd64\n".encode()
    if case == "wrong sum":
        files["/v0.30.0/kind-linux-amd64"] = BINARY
    elif case == "cut off":
        files["/v0.30.0/kind-linux-amd64"] = "CUT"
    with pytest.raises(install_tool.InstallError, match=re.escape(expected)):
        install_tool.install("kind", tools_bin)
    assert not tools_bin.exists() or list(tools_bin.iterdir()) == []


def test_without_internet_one_message_says_what_to_install(releases, monkeypatch, capsys):
    monkeypatch.setitem(install_tool.TOOLS, "kubectl", Tool("1.34.1", "http://127.0.0.1:9/kubectl",
                                                            "http://127.0.0.1:9/kubectl.sha256",
                                                            manual="https://kubernetes.io/docs/tasks/tools/"))
    assert install_tool.main(["kubectl"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: kubectl 1.34.1 could not be downloaded")
    assert "install kubectl 1.34.1 yourself (https://kubernetes.io/docs/tasks/tools/)" in err


def test_the_dependency_bot_reads_each_pinned_tool_version():
    config = json.loads((REPO / "renovate.json").read_text())
    text = (REPO / "tools" / "install_tool.py").read_text()
    found = {}
    for manager in config["customManagers"]:
        if manager["datasourceTemplate"] == "github-releases":
            (pattern,) = manager["matchStrings"]
            (match,) = re.finditer(pattern.replace("(?<", "(?P<"), text)
            found[manager["depNameTemplate"].rsplit("/", 1)[1]] = match["currentValue"]
    assert found == {"pulumi": TOOLS["pulumi"].version, "kind": TOOLS["kind"].version,
                     "kubernetes": TOOLS["kubectl"].version}
