"""Install a command-line tool the make targets need, on first use, into .tools/bin (ignored by git).

    python -m tools.install_tool pulumi kind kubectl

A tool already on PATH (or installed here before) is left alone. Otherwise its pinned release is
downloaded from its official source and verified against the checksum that release publishes;
only then is it put in place, in one rename. Linux on x86-64 only; elsewhere, and without
internet, one message says what to install by hand. Exit 0 done, 2 not installed.
"""

from __future__ import annotations

import hashlib
import io
import os
import platform
import shutil
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

from tools.download import DownloadError, fetch

REPO = Path(__file__).resolve().parent.parent
TOOLS_BIN = REPO / ".tools" / "bin"


@dataclass(frozen=True)
class Tool:
    version: str
    url: str  # the binary, or a tar.gz archive; {version} is replaced
    checksums: str  # the release's published checksum file
    archive_folder: str | None = None  # in an archive: the folder whose files are installed
    manual: str = ""  # where to get it by hand

    def download_url(self) -> str:
        return self.url.format(version=self.version)

    def checksums_url(self) -> str:
        return self.checksums.format(version=self.version)


TOOLS = {
    "pulumi": Tool("3.272.0",  # the CLI of the Pulumi SDK in requirements.txt
                   "https://github.com/pulumi/pulumi/releases/download/v{version}/pulumi-v{version}-linux-x64.tar.gz",
                   "https://github.com/pulumi/pulumi/releases/download/v{version}/pulumi-{version}-checksums.txt",
                   archive_folder="pulumi", manual="https://www.pulumi.com/docs/iac/download-install/"),
    "kind": Tool("0.30.0", "https://github.com/kubernetes-sigs/kind/releases/download/v{version}/kind-linux-amd64",
                 "https://github.com/kubernetes-sigs/kind/releases/download/v{version}/kind-linux-amd64.sha256sum",
                 manual="https://kind.sigs.k8s.io/docs/user/quick-start/#installation"),
    "kubectl": Tool("1.34.1", "https://dl.k8s.io/release/v{version}/bin/linux/amd64/kubectl",
                    "https://dl.k8s.io/release/v{version}/bin/linux/amd64/kubectl.sha256",
                    manual="https://kubernetes.io/docs/tasks/tools/#kubectl"),
}


class InstallError(Exception):
    """Why a tool could not be installed, and what to do instead."""


def published_checksum(checksums: str, file_name: str) -> str:
    """The sha256 a release publishes for `file_name`: a bare hash, or `<hash>  <name>` lines."""
    for line in checksums.splitlines():
        parts = line.split()
        if len(parts) == 1 and len(parts[0]) == 64:
            return parts[0].lower()
        if len(parts) == 2 and parts[1].lstrip("*").rsplit("/", 1)[-1] == file_name:
            return parts[0].lower()
    raise InstallError(f"the release's checksums list no {file_name}")


def install(name: str, tools_bin: Path = TOOLS_BIN) -> str:
    """Make `name` available: on PATH already, installed here before, or downloaded now."""
    found = shutil.which(name, path=os.pathsep.join([str(tools_bin), os.environ.get("PATH", "")]))
    if found:
        return f"{name}: {found}"
    tool = TOOLS[name]
    manually = f"install {name} {tool.version} yourself ({tool.manual}), then run the command again"
    if platform.system() != "Linux" or platform.machine() not in ("x86_64", "AMD64"):
        raise InstallError(f"{name} is not installed, and is fetched only for Linux on x86-64: {manually}")
    url = tool.download_url()
    try:
        data = fetch(url)
        expected = published_checksum(fetch(tool.checksums_url()).decode(), url.rsplit("/", 1)[-1])
    except (DownloadError, UnicodeDecodeError) as exc:
        raise InstallError(f"{name} {tool.version} could not be downloaded ({exc}): "
                           f"{manually}") from None
    actual = hashlib.sha256(data).hexdigest()
    if actual != expected:
        raise InstallError(f"{name} {tool.version}: the download's sha256 is {actual}, but its release publishes "
                           f"{expected}: refused, nothing installed")
    _put_in_place(name, tool, data, tools_bin)
    return f"{name}: {tool.version} installed in {tools_bin}"


def _put_in_place(name: str, tool: Tool, data: bytes, tools_bin: Path) -> None:
    """The binary (or the archive folder's files) into tools_bin, each made executable, each in one rename."""
    tools_bin.mkdir(parents=True, exist_ok=True)
    files = {name: data}
    if tool.archive_folder:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
            files = {Path(member.name).name: archive.extractfile(member).read() for member in archive.getmembers()
                     if member.isfile() and Path(member.name).parent.name == tool.archive_folder}
        if name not in files:
            raise InstallError(f"{name} {tool.version}: its archive holds no {tool.archive_folder}/{name}")
    for file_name, content in files.items():
        with tempfile.NamedTemporaryFile(dir=tools_bin, delete=False, prefix=f".{file_name}.") as staged:
            staged.write(content)
        os.chmod(staged.name, 0o755)  # noqa: S103 (an executable)
        os.replace(staged.name, tools_bin / file_name)


def main(argv: list[str] | None = None) -> int:
    names = sys.argv[1:] if argv is None else argv
    unknown = [name for name in names if name not in TOOLS]
    if not names or unknown:
        print(f"usage: python -m tools.install_tool {' '.join(TOOLS)}", file=sys.stderr)
        return 2
    try:
        for name in names:
            print(install(name), file=sys.stderr)
    except InstallError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
