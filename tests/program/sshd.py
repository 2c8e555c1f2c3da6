"""A throwaway sshd on 127.0.0.1 in front of simulated Debian hosts, for the kubeadm host scripts.

`SimulatedHost` starts the real OpenSSH server (Debian `openssh-server`) as the current user, with
its own host key, config and a generated client key, all in a temporary directory; the system's
sshd and its configuration are never touched. Every SSH session runs through a forced command
that gives it a clean environment: `PBH_ROOT` pointing at the host's scratch root, and a `PATH` of
stand-ins (kubeadm, kubectl, kubelet, apt-get, apt-mark, dpkg-query, systemctl, modprobe, sysctl,
swapoff, curl, gpg, containerd, sudo) plus a short list of harmless real tools (coreutils, sed,
grep, openssl, ...). A command the scripts call that is neither is "not found", so nothing they do
can reach the real system.

The stand-ins are one bash script (`STAND_IN`, bash so that each call costs milliseconds): it
appends its argv to the host's call log, then simulates the command against the host's files and
state: packages in a fake dpkg database, kernel modules under /sys/module, sysctls under
/proc/sys, swap in /proc/swaps, services, bootstrap tokens, nodes, and the files kubeadm writes
under /etc/kubernetes. The kubeadm config files it is given are copied to `captured/` (mode
checked: 600) for the tests to read.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import NamedTuple

SSHD = "/usr/sbin/sshd"
SSH = "/usr/bin/ssh"
SCP = "/usr/bin/scp"
SSH_KEYGEN = "/usr/bin/ssh-keygen"
SFTP_SERVER = "/usr/lib/openssh/sftp-server"
UPLOAD_DIR = "/opt/persistent-binderhub"
STAND_INS = ("kubeadm", "kubectl", "kubelet", "apt-get", "apt-mark", "dpkg-query", "systemctl", "modprobe",
             "sysctl", "swapoff", "curl", "gpg", "containerd", "sudo")
REAL_TOOLS = ("bash", "cat", "cmp", "stat", "chmod", "mv", "rm", "mkdir", "mktemp", "dirname", "basename",
              "head", "tail", "wc", "find", "base64", "openssl", "flock", "tr", "sort", "sed", "awk", "grep",
              "env", "cp", "ls", "cut", "touch", "true", "sleep")
# Strings shaped like the secrets real kubeadm prints (a bootstrap token, a certificate key): the
# fake kubeadm prints them too, to prove the scripts never pass such output on.
FAKE_PRINTED_TOKEN = "k8sfak.e0123456789abcde"
FAKE_PRINTED_KEY = "0123456789abcdef" * 4
FIELD = "\x1f"  # separates the fields of a line of the call log


class Result(NamedTuple):
    returncode: int
    stdout: str
    stderr: str


class Call(NamedTuple):
    cmd: str
    argv: list[str]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _descendants(pid: int) -> list[int]:
    """Every live process under `pid` (from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        children.setdefault(int(stat.rsplit(")", 1)[1].split()[1]), []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _end(process: subprocess.Popen) -> None:
    """End a process we started, and anything under it, by process id."""
    for pid in [*_descendants(process.pid), process.pid]:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)
    for pid in _descendants(process.pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


class SimulatedHost:
    """One host: a scratch root (PBH_ROOT), a call log, and an sshd on 127.0.0.1 that leads to them.

    `start()` once, `reset()` between tests (a fresh Debian host, the uploaded scripts kept),
    `stop()` at the end.
    """

    def __init__(self, base: Path, name: str, *, ca_cert: Path):
        self.name = name
        self.dir = base / name
        self.root = self.dir / "root"
        self.state = self.dir / "state"
        self.captured_dir = self.dir / "captured"
        self.log = self.dir / "calls.log"
        self.ssh_dir = self.dir / "ssh"
        self.ssh_dir.mkdir(parents=True)
        self.ca_cert = ca_cert
        self.user = pwd.getpwuid(os.geteuid()).pw_name
        self.sshd: subprocess.Popen | None = None
        self.master: subprocess.Popen | None = None
        self.control_path: Path | None = None
        self.port = 0
        self._write_tools()
        self._write_keys()
        self.reset()

    # --- set-up -----------------------------------------------------------------------------------

    def _write_tools(self) -> None:
        fakebin, toolbin = self.dir / "fakebin", self.dir / "toolbin"
        fakebin.mkdir()
        toolbin.mkdir()
        program = fakebin / "stand-in"
        program.write_text(STAND_IN.replace("@FAKE_TOKEN@", FAKE_PRINTED_TOKEN).replace("@FAKE_KEY@", FAKE_PRINTED_KEY))
        program.chmod(0o755)
        for name in STAND_INS:
            (fakebin / name).symlink_to("stand-in")
        for name in REAL_TOOLS:
            real = shutil.which(name, path="/usr/bin:/bin")
            assert real, f"{name} is missing on this machine"
            (toolbin / name).symlink_to(real)
        environment = {
            "PATH": f"{fakebin}:{toolbin}",
            "PBH_ROOT": str(self.root),
            "PBH_FAKE_DIR": str(self.dir),
            "PBH_FAKE_CA": str(self.ca_cert),
            # confirmations (the API server answers, the node is registered) tried twice, at once
            "PBH_READY_TRIES": "2",
            "PBH_READY_WAIT": "0",
            "HOME": str(self.dir),
            "LANG": "C.UTF-8",
        }
        assignments = " ".join(f"'{key}={value}'" for key, value in environment.items())
        # The forced command of every session: a clean environment, then the client's command.
        self.session = self.dir / "session"
        self.session.write_text(
            f'#!/bin/bash\nexec /usr/bin/env -i {assignments} /bin/bash -c "$SSH_ORIGINAL_COMMAND"\n')
        self.session.chmod(0o755)

    def _write_keys(self) -> None:
        for key in ("host_key", "client_key"):
            subprocess.run([SSH_KEYGEN, "-q", "-t", "ed25519", "-N", "", "-C", f"pbh-test-{key}",
                            "-f", str(self.ssh_dir / key)], check=True)
        (self.ssh_dir / "authorized_keys").write_text((self.ssh_dir / "client_key.pub").read_text())

    def reset(self) -> None:
        """A fresh host: empty root (but for the uploaded scripts), state, call log and captures."""
        uploaded = self.root / UPLOAD_DIR.lstrip("/")
        keep = self.dir / "uploaded"
        if uploaded.is_dir():
            uploaded.rename(keep)
        for path in (self.root, self.state, self.captured_dir):
            shutil.rmtree(path, ignore_errors=True)
            path.mkdir()
        if keep.is_dir():
            uploaded.parent.mkdir(parents=True)
            keep.rename(uploaded)
        self.log.write_text("")

    def _sshd_config(self) -> Path:
        config = self.ssh_dir / "sshd_config"
        config.write_text(
            f"Port {self.port}\n"
            "ListenAddress 127.0.0.1\n"
            f"HostKey {self.ssh_dir / 'host_key'}\n"
            f"PidFile {self.ssh_dir / 'sshd.pid'}\n"
            f"AuthorizedKeysFile {self.ssh_dir / 'authorized_keys'}\n"
            f"AllowUsers {self.user}\n"
            "AuthenticationMethods publickey\n"
            "PubkeyAuthentication yes\n"
            "PasswordAuthentication no\n"
            "KbdInteractiveAuthentication no\n"
            "PermitRootLogin prohibit-password\n"
            "UsePAM no\n"
            # The scratch directory lives under /tmp (world-writable), which StrictModes refuses.
            "StrictModes no\n"
            "PermitUserEnvironment no\n"
            "PermitTTY no\n"
            "X11Forwarding no\n"
            "AllowTcpForwarding no\n"
            "AllowAgentForwarding no\n"
            "PrintMotd no\n"
            "LogLevel VERBOSE\n"
            # bash started by sshd reads ~/.bashrc: point HOME away from the user's own, so the
            # sessions are the same on every machine (and fast).
            f"SetEnv HOME={self.dir}\n"
            f"ForceCommand {self.session}\n"
            f"Subsystem sftp {SFTP_SERVER}\n"
        )
        return config

    def start(self) -> None:
        if os.geteuid() == 0:
            # sshd started by root checks for its privilege-separation directory (the Debian
            # package's service creates it at boot); create it as that service would.
            Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
        for _attempt in range(3):
            self.port = free_port()
            self.sshd = subprocess.Popen(
                [SSHD, "-D", "-f", str(self._sshd_config()), "-E", str(self.ssh_dir / "sshd.log")],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
            if self._wait_listening():
                (self.ssh_dir / "known_hosts").write_text(
                    f"[127.0.0.1]:{self.port} {(self.ssh_dir / 'host_key.pub').read_text()}")
                self._start_master()
                return
            self.stop()
        raise RuntimeError(f"sshd did not start: {self.sshd_log()}")

    def _wait_listening(self) -> bool:
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            if self.sshd.poll() is not None:
                return False
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                return True
            time.sleep(0.01)
        return False

    def _start_master(self) -> None:
        """One SSH connection per host that every command's session rides on (ssh's ControlMaster).

        Each command is still its own SSH session, as with Pulumi; only the key exchange is shared,
        which keeps the tests fast. The master runs in the foreground as our child.
        """
        self.control_path = Path(tempfile.mkdtemp(prefix="pbh-ssh-")) / "master"  # socket paths are short
        self.master = subprocess.Popen(
            [SSH, "-N", "-o", "ControlMaster=yes", "-o", f"ControlPath={self.control_path}",
             *self._client_options(), "-p", str(self.port), f"{self.user}@127.0.0.1"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            env=self._client_env(), start_new_session=True,
        )
        deadline = time.monotonic() + 5
        while not self.control_path.exists():
            if self.master.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the SSH control connection did not start: {self.sshd_log()}")
            time.sleep(0.01)

    def stop(self) -> None:
        """End the SSH control connection, then sshd and whatever it started."""
        if self.master is not None:
            _end(self.master)
            self.master = None
            shutil.rmtree(self.control_path.parent, ignore_errors=True)
        if self.sshd is not None:
            _end(self.sshd)
            self.sshd = None

    def processes(self) -> list[int]:
        """The processes sshd and the SSH master have running (their sessions)."""
        return [pid for process in (self.sshd, self.master) if process for pid in _descendants(process.pid)]

    def sshd_log(self) -> str:
        path = self.ssh_dir / "sshd.log"
        return path.read_text() if path.exists() else ""

    # --- the SSH client, used as Pulumi's remote.Command / CopyToRemote would -------------------

    def _client_options(self) -> list[str]:
        mux = ["-o", "ControlMaster=no", "-o", f"ControlPath={self.control_path}"] if self.master else []
        return [*mux, "-F", "/dev/null",
                "-o", "BatchMode=yes",
                "-o", "IdentitiesOnly=yes",
                "-o", f"IdentityFile={self.ssh_dir / 'client_key'}",
                "-o", f"UserKnownHostsFile={self.ssh_dir / 'known_hosts'}",
                "-o", "GlobalKnownHostsFile=/dev/null",
                "-o", "StrictHostKeyChecking=yes",
                "-o", "ConnectTimeout=5",
                "-o", "LogLevel=ERROR"]

    def _client_env(self) -> dict[str, str]:
        return {"PATH": "/usr/bin:/bin", "HOME": str(self.dir), "LANG": "C.UTF-8"}

    def upload(self, files: list[Path]) -> None:
        """Copy files into the host's /opt/persistent-binderhub with scp (SFTP, as CopyToRemote does)."""
        target = self.root / UPLOAD_DIR.lstrip("/")
        target.mkdir(parents=True, exist_ok=True)
        subprocess.run([SCP, "-q", *self._client_options(), "-P", str(self.port),
                        *map(str, files), f"{self.user}@127.0.0.1:{target}/"],
                       check=True, env=self._client_env(), timeout=20, capture_output=True)

    def ssh(self, command: str, stdin: str = "") -> Result:
        done = subprocess.run([SSH, "-T", *self._client_options(), "-p", str(self.port),
                               f"{self.user}@127.0.0.1", command],
                              input=stdin, capture_output=True, text=True, env=self._client_env(), timeout=20,
                              check=False)
        return Result(done.returncode, done.stdout, done.stderr)

    def command_for(self, script: str) -> str:
        """The remote command, as Pulumi sends it (with this host's root in front of the path)."""
        return f"sudo bash {self.root}{UPLOAD_DIR}/{script}"

    def run(self, script: str, params: dict[str, str] | str | None = None) -> Result:
        """Run an uploaded script like Pulumi does: `sudo bash <script>`, parameters on stdin."""
        if isinstance(params, dict):
            stdin = "".join(f"{key}={value}\n" for key, value in params.items())
        else:
            stdin = params or ""
        return self.ssh(self.command_for(script), stdin)

    # --- what happened -------------------------------------------------------------------------

    def calls(self) -> list[Call]:
        calls = []
        for line in self.log.read_text().splitlines():
            cmd, *argv = line.split(FIELD)
            calls.append(Call(cmd, argv))
        return calls

    def captured(self, kind: str) -> list[str]:
        """The content of every kubeadm --config file of that kind (init, join, token, upload-certs)."""
        return [path.read_text() for path in sorted(self.captured_dir.glob(f"*-{kind}.yaml"))]

    def file(self, path: str) -> Path:
        return self.root / path.lstrip("/")

    # --- the simulated state --------------------------------------------------------------------

    def package(self, name: str) -> str:
        """'<want> <status> <version>' from the fake dpkg database, or ''."""
        path = self.state / "dpkg" / name
        return path.read_text().strip() if path.exists() else ""

    def set_package(self, name: str, version: str, *, held: bool = False) -> None:
        (self.state / "dpkg").mkdir(exist_ok=True)
        (self.state / "dpkg" / name).write_text(f"{'hold' if held else 'install'} installed {version}\n")

    def set_service(self, unit: str, *, enabled: bool = True, active: bool = True) -> None:
        (self.state / "systemd").mkdir(exist_ok=True)
        for flag, on in (("enabled", enabled), ("active", active)):
            path = self.state / "systemd" / f"{unit}.{flag}"
            if on:
                path.touch()
            else:
                path.unlink(missing_ok=True)

    def names(self, kind: str) -> list[str]:
        """Names in a state folder: tokens, nodes, secrets."""
        folder = self.state / kind
        return sorted(path.name for path in folder.iterdir()) if folder.is_dir() else []

    def add(self, kind: str, name: str, content: str = "") -> None:
        (self.state / kind).mkdir(exist_ok=True)
        (self.state / kind / name).write_text(content)


# The stand-ins. Every command in STAND_INS is a symlink to this script.
STAND_IN = r'''#!/bin/bash
# Stand-in for the host commands the kubeadm scripts call (see sshd.py): records its argv, then
# simulates the command against the host's scratch root ($PBH_ROOT) and state ($PBH_FAKE_DIR/state).
set -euo pipefail
name=${0##*/}
fake=$PBH_FAKE_DIR
root=$PBH_ROOT
state=$fake/state
FAKE_TOKEN=@FAKE_TOKEN@  # shaped like the secrets kubeadm can print, to prove the scripts never pass them on
FAKE_KEY=@FAKE_KEY@
{ printf '%s' "$name"; printf '\037%s' "$@"; printf '\n'; } >>"$fake/calls.log"

fail() {
  local code=$1
  shift
  echo "$name: $*" >&2
  exit "$code"
}
path() { printf '%s%s' "$root" "$1"; }
has() {  # has WORD args...: is WORD among the arguments?
  local word=$1 arg
  shift
  for arg in "$@"; do [[ $arg == "$word" ]] && return 0; done
  return 1
}
option() {  # option FLAG args...: the value of "FLAG VALUE" or "FLAG=VALUE"
  local flag=$1
  shift
  while (($#)); do
    case $1 in
      "$flag") echo "${2:-}"; return 0 ;;
      "$flag"=*) echo "${1#*=}"; return 0 ;;
    esac
    shift
  done
}
words=()
positional() {  # positional "FLAGS WITH VALUES" args...: sets words to the non-option arguments
  local valued=" $1 " skip=0 arg
  shift
  words=()
  for arg in "$@"; do
    if ((skip)); then skip=0; continue; fi
    if [[ $valued == *" $arg "* ]]; then skip=1; continue; fi
    [[ $arg == -* ]] || words+=("$arg")
  done
}
pkg_version() {  # the installed version of a package, or nothing
  local file=$state/dpkg/$1 want status version
  [[ -f $file ]] || return 0
  read -r want status version <"$file"
  if [[ $status == installed ]]; then echo "$version"; fi
}
yaml_value() {  # yaml_value KEY FILE: the first "KEY: value" (quotes dropped)
  sed -n -E "s/^[[:space:]]*-?[[:space:]]*$1:[[:space:]]*\"?([^\"]*)\"?[[:space:]]*\$/\\1/p" "$2" | head -n 1
}
config_file() {  # config_file KIND args...: the --config file; must be mode 600; captured for the test
  local file count
  file=$(option --config "${@:2}")
  [[ -n $file && -f $file ]] || fail 1 "--config FILE is required here"
  [[ $(stat -c %a "$file") == 600 ]] || fail 1 "$file is not mode 600"
  count=$(($(cat "$state/captures" 2>/dev/null || echo 0) + 1))
  echo "$count" >"$state/captures"
  cp "$file" "$fake/captured/$(printf %02d "$count")-$1.yaml"
  echo "$file"
}
write_apiserver() {
  mkdir -p "$(path /etc/kubernetes/manifests)"
  printf '%s\n' 'apiVersion: v1' 'kind: Pod' 'metadata:' '  name: kube-apiserver' 'spec:' '  containers:' \
    '  - name: kube-apiserver' "    image: registry.k8s.io/kube-apiserver:v$1" \
    >"$(path /etc/kubernetes/manifests/kube-apiserver.yaml)"
}
need() { [[ -e $(path "$1") ]] || fail 1 "open $1: no such file or directory"; }
service() {  # service UNIT enabled|active on|off
  mkdir -p "$state/systemd"
  if [[ $3 == on ]]; then touch "$state/systemd/$1.$2"; else rm -f "$state/systemd/$1.$2"; fi
}

case $name in
  sudo)
    exec "$@"
    ;;

  dpkg-query)
    # shellcheck disable=SC2016  # the format is dpkg's, compared literally
    [[ ${1:-} == -W && ${2:-} == '-f=${db:Status-Want} ${db:Status-Status} ${Version}\n' ]] \
      || fail 2 "only 'dpkg-query -W -f=<want status version> PKG...' is simulated"
    rc=0
    for pkg in "${@:3}"; do
      if [[ -f $state/dpkg/$pkg ]]; then
        cat "$state/dpkg/$pkg"
      else
        echo "dpkg-query: no packages found matching $pkg" >&2
        rc=1
      fi
    done
    exit "$rc"
    ;;

  apt-get)
    positional "-o" "$@"
    case ${words[0]:-} in
      update)
        cat "$(path /etc/apt/sources.list.d)"/*.list >"$state/apt-lists" 2>/dev/null || : >"$state/apt-lists"
        echo "Reading package lists... Done"
        ;;
      install)
        mkdir -p "$state/dpkg"
        plan=()
        for spec in "${words[@]:1}"; do
          pkg=${spec%%=*}
          version=""
          [[ $spec == *=* ]] && version=${spec#*=}
          case $pkg in
            containerd) version=${version:-1.6.20~ds1-1+deb12u3} ;;
            curl) version=${version:-7.88.1-10+deb12u14} ;;
            nfs-common) version=${version:-1:2.6.2-4+deb12u1} ;;
            ca-certificates) version=${version:-20230311+deb12u1} ;;
            kubeadm | kubelet | kubectl)
              [[ -n $version ]] || fail 100 "E: $pkg is installed at a pinned version in these tests"
              minor=$(cut -d. -f2 <<<"$version")
              found=0
              repository='^deb \[signed-by=([^]]+)\] https://pkgs\.k8s\.io/core:/stable:/v1\.([0-9]+)/deb/ /$'
              while read -r line; do
                if [[ $line =~ $repository ]] \
                  && [[ ${BASH_REMATCH[2]} == "$minor" && -f $(path "${BASH_REMATCH[1]}") ]]; then
                  found=1
                fi
              done <"$state/apt-lists"
              ((found)) || fail 100 "E: Version '$version' for '$pkg' was not found"
              ;;
            *) fail 100 "E: Unable to locate package $pkg" ;;
          esac
          want=install
          old=""
          if [[ -f $state/dpkg/$pkg ]]; then read -r want _ old <"$state/dpkg/$pkg"; fi
          if [[ $want == hold && $old != "$version" ]] && ! has --allow-change-held-packages "$@"; then
            fail 100 "E: Held packages were changed and -y was used without --allow-change-held-packages."
          fi
          plan+=("$pkg $want $version")
        done
        for entry in "${plan[@]}"; do
          read -r pkg want version <<<"$entry"
          echo "$want installed $version" >"$state/dpkg/$pkg"
          echo "Setting up $pkg ($version) ..."
          case $pkg in
            containerd)
              if [[ ! -f $(path /etc/containerd/config.toml) ]]; then
                mkdir -p "$(path /etc/containerd)"
                printf '%s\n' 'version = 2' '' '[plugins]' '  [plugins."io.containerd.grpc.v1.cri"]' \
                  '    [plugins."io.containerd.grpc.v1.cri".cni]' '      bin_dir = "/usr/lib/cni"' \
                  '      conf_dir = "/etc/cni/net.d"' >"$(path /etc/containerd/config.toml)"
              fi
              service containerd enabled on
              service containerd active on
              ;;
            kubelet) service kubelet enabled on ;;
          esac
        done
        ;;
      *) fail 100 "E: command not simulated: ${words[0]:-}" ;;
    esac
    ;;

  apt-mark)
    command=$1
    for pkg in "${@:2}"; do
      [[ -f $state/dpkg/$pkg ]] || fail 100 "E: Unable to locate package $pkg"
      read -r _ status version <"$state/dpkg/$pkg"
      case $command in
        hold) echo "hold $status $version" >"$state/dpkg/$pkg"; echo "$pkg set on hold." ;;
        unhold) echo "install $status $version" >"$state/dpkg/$pkg"; echo "Canceled hold on $pkg." ;;
        *) fail 1 "command not simulated: $command" ;;
      esac
    done
    ;;

  modprobe)
    for module in "$@"; do mkdir -p "$(path "/sys/module/$module")"; done
    ;;

  sysctl)
    [[ $* == --system ]] || fail 1 "only 'sysctl --system' is simulated"
    rc=0
    for file in "$(path /etc/sysctl.d)"/*.conf; do
      [[ -f $file ]] || continue
      echo "* Applying ${file#"$root"} ..."
      while IFS='=' read -r key value; do
        key=${key//[[:space:]]/}
        value=${value//[[:space:]]/}
        [[ -z $key || $key == \#* ]] && continue
        if [[ $key == net.bridge.* && ! -d $(path /sys/module/br_netfilter) ]]; then
          echo "sysctl: cannot stat /proc/sys/${key//.//}: No such file or directory" >&2
          rc=1
          continue
        fi
        mkdir -p "$(dirname "$(path "/proc/sys/${key//.//}")")"
        echo "$value" >"$(path "/proc/sys/${key//.//}")"
      done <"$file"
    done
    exit "$rc"
    ;;

  swapoff)
    [[ $* == -a ]] || fail 1 "only 'swapoff -a' is simulated"
    swaps=$(path /proc/swaps)
    if [[ -f $swaps ]]; then
      header=$(head -n 1 "$swaps")
      echo "$header" >"$swaps"
    fi
    ;;

  systemctl)
    positional "" "$@"
    unit=${words[1]:-}
    case ${words[0]} in
      daemon-reload) ;;
      is-enabled) [[ -f $state/systemd/$unit.enabled ]] || exit 1 ;;
      is-active) [[ -f $state/systemd/$unit.active ]] || exit 3 ;;
      enable) service "$unit" enabled on ;;
      start | restart) service "$unit" active on ;;
      stop) service "$unit" active off ;;
      *) fail 1 "command not simulated: ${words[0]}" ;;
    esac
    ;;

  curl)
    output=$(option -o "$@")
    url=${*: -1}
    if [[ $url =~ ^https://[^/]+/version$ ]]; then  # is a cluster's API server answering there?
      [[ -e $state/live-endpoint ]] || fail 7 "(7) Failed to connect to ${url#https://}: Connection refused"
      exit 0
    fi
    [[ -n $output && $url =~ ^https://pkgs\.k8s\.io/core:/stable:/v1\.[0-9]+/deb/Release\.key$ ]] \
      || fail 22 "(22) The requested URL returned error: 404"
    printf '%s\n' '-----BEGIN PGP PUBLIC KEY BLOCK-----' '' 'mQENBGMHoXcBCADukGOEQyleViOgtkMVa7hKifP6POCTh+98xNW4TfHK' \
      '-----END PGP PUBLIC KEY BLOCK-----' >"$output"
    ;;

  containerd)
    [[ $* == "config default" ]] || fail 1 "only 'containerd config default' is simulated"
    cat <<'EOF'
disabled_plugins = []
version = 2

[plugins]
  [plugins."io.containerd.grpc.v1.cri"]
    sandbox_image = "registry.k8s.io/pause:3.6"
    [plugins."io.containerd.grpc.v1.cri".cni]
      bin_dir = "/opt/cni/bin"
      conf_dir = "/etc/cni/net.d"
    [plugins."io.containerd.grpc.v1.cri".containerd]
      default_runtime_name = "runc"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes]
        [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
          runtime_type = "io.containerd.runc.v2"
          [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
            SystemdCgroup = false
EOF
    ;;

  kubeadm)
    version=$(pkg_version kubeadm)
    version=${version%%-*}
    [[ -n $version ]] || fail 127 "command not found (the kubeadm package is not installed)"
    positional "--config --kubeconfig --kubernetes-version -o" "$@"
    kubernetes=$(path /etc/kubernetes)
    case "${words[*]}" in
      version) echo "v$version" ;;

      "config images list")
        wanted=$(option --kubernetes-version "$@")
        for image in kube-apiserver kube-controller-manager kube-scheduler kube-proxy; do
          echo "registry.k8s.io/$image:$wanted"
        done
        minor=$(cut -d. -f2 <<<"$wanted")
        if ((minor >= 31)); then echo registry.k8s.io/pause:3.10; else echo registry.k8s.io/pause:3.9; fi
        ;;

      init)
        file=$(config_file init "$@")
        wanted=$(yaml_value kubernetesVersion "$file")
        [[ ${wanted#v} == "$version" ]] || fail 1 "this kubeadm is v$version, the config asks for $wanted"
        [[ ! -e $kubernetes/manifests/kube-apiserver.yaml ]] \
          || fail 1 "[preflight] /etc/kubernetes/manifests/kube-apiserver.yaml already exists"
        mkdir -p "$kubernetes/pki" "$state/nodes" "$state/tokens"
        cp "$PBH_FAKE_CA" "$kubernetes/pki/ca.crt"
        for conf in admin.conf super-admin.conf kubelet.conf; do
          printf 'apiVersion: v1\nkind: Config\n# %s\nusers:\n- name: admin\n  user:\n    client-key-data: c2VjcmV0\n' \
            "$conf" >"$kubernetes/$conf"
          chmod 600 "$kubernetes/$conf"
        done
        write_apiserver "$version"
        node=$(yaml_value name "$file")
        : >"$state/nodes/${node:-control-plane}"
        echo 23h >"$state/tokens/$FAKE_TOKEN"  # kubeadm's own default token
        echo "[init] Using Kubernetes version: v$version"
        echo "Your Kubernetes control-plane has initialized successfully!"
        echo "  kubeadm join k8s.example.org:6443 --token $FAKE_TOKEN \\"
        echo "    --control-plane --certificate-key $FAKE_KEY"
        ;;

      "upgrade plan "*)
        need /etc/kubernetes/admin.conf
        echo "[upgrade/versions] kubeadm version: v$version"
        echo "You can now apply the upgrade by executing: kubeadm upgrade apply ${words[2]}"
        ;;

      "upgrade apply "*)
        need /etc/kubernetes/admin.conf
        [[ ${words[2]} == "v$version" ]] || fail 1 "kubeadm v$version cannot upgrade to ${words[2]}"
        has --yes "$@" || fail 1 "would ask for confirmation without --yes"
        write_apiserver "$version"
        echo "[upgrade/successful] SUCCESS! Your cluster was upgraded to \"v$version\". Enjoy!"
        ;;

      "upgrade node")
        need /etc/kubernetes/kubelet.conf
        if [[ -f $kubernetes/manifests/kube-apiserver.yaml ]]; then write_apiserver "$version"; fi
        echo "[upgrade] The configuration for this node was successfully updated!"
        ;;

      "token list")
        need /etc/kubernetes/admin.conf
        echo "TOKEN                     TTL         EXPIRES                USAGES                   DESCRIPTION"
        for file in "$state/tokens"/*; do
          [[ -f $file ]] || continue
          echo "${file##*/}   $(cat "$file")   2031-01-01T00:00:00Z   authentication,signing   <none>"
        done
        ;;

      "token create")
        need /etc/kubernetes/admin.conf
        file=$(config_file token "$@")
        token=$(yaml_value token "$file")
        [[ -n $token && ! -e $state/tokens/$token ]] || fail 1 "no token in the config, or it exists already"
        yaml_value ttl "$file" >"$state/tokens/$token"
        echo "$token"  # as kubeadm does
        ;;

      "token delete "*)
        need /etc/kubernetes/admin.conf
        for id in "${words[@]:2}"; do
          [[ $id != *.* ]] || fail 1 "the test wants the token id here, not the token"
          rm -f "$state/tokens/$id".*
          echo "bootstrap token \"$id\" deleted"
        done
        ;;

      "init phase upload-certs")
        need /etc/kubernetes/admin.conf
        file=$(config_file upload-certs "$@")
        if ! has --upload-certs "$@" || [[ -z $(yaml_value certificateKey "$file") ]]; then
          fail 1 "nothing to upload with"
        fi
        mkdir -p "$state/secrets"
        : >"$state/secrets/kubeadm-certs"
        printf '[upload-certs] Using certificate key:\n%s\n' "$FAKE_KEY"
        ;;

      "certs renew admin.conf")
        need /etc/kubernetes/admin.conf
        # the test leaves the renewed kubeconfig in renewed-admin.conf
        cp "$state/renewed-admin.conf" "$kubernetes/admin.conf"
        echo "certificate embedded in the kubeconfig file for the admin to use and for kubeadm itself renewed"
        ;;

      join)
        file=$(config_file join "$@")
        [[ ! -e $kubernetes/kubelet.conf ]] || fail 1 "[preflight] /etc/kubernetes/kubelet.conf already exists"
        echo "[preflight] Running pre-flight checks"
        echo "[discovery] Using bootstrap token $(yaml_value token "$file")"  # more than kubeadm says
        mkdir -p "$kubernetes/pki" "$state/nodes"
        printf 'apiVersion: v1\nkind: Config\n' >"$kubernetes/kubelet.conf"
        # the cluster, as this host's kubectl sees it, lists the node (a control plane as one)
        node=$(yaml_value name "$file")
        if grep -q '^controlPlane:' "$file"; then
          write_apiserver "$version"
          printf 'apiVersion: v1\nkind: Config\n' >"$kubernetes/admin.conf"
          echo control-plane >"$state/nodes/$node"
        else
          echo worker >"$state/nodes/$node"
        fi
        echo "This node has joined the cluster"
        ;;

      reset)
        has -f "$@" || fail 1 "would ask for confirmation without -f"
        rm -f "$state/apiserver-down"  # a half-made control plane's: the next init starts afresh
        rm -rf "$kubernetes/admin.conf" "$kubernetes/super-admin.conf" "$kubernetes/kubelet.conf" \
          "$kubernetes/manifests" "$kubernetes/pki"
        echo "The reset process does not clean CNI configuration. To do so, you must remove /etc/cni/net.d"
        ;;

      *) fail 1 "not simulated: kubeadm $*" ;;
    esac
    ;;

  kubectl)
    kubeconfig=$(option --kubeconfig "$@")
    [[ -n $kubeconfig && -f $kubeconfig ]] || fail 1 "The connection to the server localhost:8080 was refused"
    positional "--kubeconfig -n -o -l" "$@"
    case "${words[0]:-} ${words[1]:-}" in
      "get ")
        [[ $* == *--raw=/readyz* ]] || fail 1 "not simulated: kubectl $*"
        [[ ! -e $state/apiserver-down ]] || fail 1 "The connection to the server was refused"
        echo ok
        ;;
      "get nodes")
        [[ $(option -l "$@") == node-role.kubernetes.io/control-plane ]] || fail 1 "not simulated: kubectl $*"
        for file in "$state/nodes"/*; do
          [[ -f $file && $(cat "$file") == control-plane ]] && echo "node/${file##*/}"
        done
        true
        ;;
      "get node")
        if [[ -f $state/nodes/${words[2]} ]]; then
          echo "node/${words[2]}"
        elif ! has --ignore-not-found "$@"; then
          fail 1 "Error from server (NotFound): nodes \"${words[2]}\" not found"
        fi
        ;;
      "get secret")
        if [[ -f $state/secrets/${words[2]} ]]; then echo "secret/${words[2]}"; fi
        ;;
      "drain "*)
        [[ -f $state/nodes/${words[1]} ]] || fail 1 "Error from server (NotFound): nodes \"${words[1]}\" not found"
        if [[ -e $state/unmanaged-pods/${words[1]} ]] && ! has --force "$@"; then
          fail 1 "error: cannot delete Pods that declare no controller (use --force to override)"
        fi
        mkdir -p "$state/cordoned"
        : >"$state/cordoned/${words[1]}"
        echo "node/${words[1]} cordoned"
        echo "node/${words[1]} drained"
        ;;
      "uncordon "*)
        [[ -f $state/nodes/${words[1]} ]] || fail 1 "Error from server (NotFound): nodes \"${words[1]}\" not found"
        rm -f "$state/cordoned/${words[1]}"
        echo "node/${words[1]} uncordoned"
        ;;
      "delete node")
        if [[ -f $state/nodes/${words[2]} ]]; then
          [[ -e $state/cordoned/${words[2]} ]] || fail 1 "test rule: drain a node before deleting it"
          rm "$state/nodes/${words[2]}"
          echo "node \"${words[2]}\" deleted"
        fi
        ;;
      *) fail 1 "not simulated: kubectl $*" ;;
    esac
    ;;

  *)
    fail 1 "the scripts are not expected to call $name"
    ;;
esac
'''
