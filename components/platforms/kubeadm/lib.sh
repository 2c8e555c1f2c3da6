# shellcheck shell=bash
# Shared by the kubeadm host steps; sourced (never run) by each script from its own directory.
#
# Contract common to every script:
#   - parameters arrive on stdin as KEY=VALUE lines (blank lines allowed). Stdin is read line by
#     line and never evaluated; only the keys the script declares are accepted and each value must
#     match its pattern. Anything else: a message on stderr that never repeats a value, exit 2, and
#     nothing has been run;
#   - stdout carries only the script's result (if it has one); everything else goes to stderr;
#   - exit codes: 0 done (or nothing to do), 1 a step failed, 2 bad parameters,
#     3 refused in this state (not root, not initialised, downgrade, minor version skipped,
#     kubeadm not at the requested version yet);
#   - every path the scripts read or write is under PBH_ROOT (default /), so the tests can run
#     them unprivileged in a scratch directory. On a real host PBH_ROOT is never set (sudo resets
#     the environment anyway).

# The globals set here (PBH_CHANGED, PKG_*, the PBH_RE_* patterns, ...) are read by the scripts
# that source this file, which shellcheck cannot see when it checks this file alone:
# shellcheck disable=SC2034
set -Eeuo pipefail
shopt -s lastpipe  # `... | pbh_write` runs pbh_write in this shell, so PBH_CHANGED is seen
umask 022
export LC_ALL=C
export DEBIAN_FRONTEND=noninteractive

PBH_SCRIPT=$(basename "$0" .sh)
PBH_ROOT=${PBH_ROOT:-/}
PBH_MAX_LINE=65536
PBH_MAX_LINES=64
PBH_STDIN_TIMEOUT=${PBH_STDIN_TIMEOUT:-60}
PBH_STATE_DIR=/etc/persistent-binderhub
PBH_CHANGED=0

# The script's result goes to fd 3; fd 1 is stderr from here on, so nothing a command prints
# can reach the caller's stdout by accident.
exec 3>&1 1>&2

pbh_log() {
  printf '[%s] %s\n' "$PBH_SCRIPT" "$*" >&2
}

pbh_die() {  # pbh_die CODE MESSAGE...
  local code=$1
  shift
  printf '[%s] error: %s\n' "$PBH_SCRIPT" "$*" >&2
  exit "$code"
}

# Any failing command ends the script with exit 1 (so that 2 and 3 keep their meaning). Only the
# place is logged, never the command's text, which may name a variable holding a secret.
pbh_failed() {
  trap - ERR
  printf '[%s] error: a step failed (exit %s at %s line %s); see the messages above\n' \
    "$PBH_SCRIPT" "$1" "$(basename "$2")" "$3" >&2
  exit 1
}
trap 'pbh_failed $? "${BASH_SOURCE[0]}" "$LINENO"' ERR

pbh_emit() {  # the script's result, on the caller's stdout
  printf '%s\n' "$@" >&3
}

if [[ ! $PBH_ROOT =~ ^/[A-Za-z0-9._/+-]*$ || $PBH_ROOT == *..* ]]; then
  pbh_die 2 "PBH_ROOT must be an absolute path of plain characters"
fi

pbh_path() {  # pbh_path /etc/x -> the path under PBH_ROOT
  printf '%s%s' "${PBH_ROOT%/}" "$1"
}

# --- parameters --------------------------------------------------------------------------------

declare -a PBH_PARAM_NAMES=()
declare -A PBH_PARAM_PATTERN=() PBH_PARAM_REQUIRED=() PBH_PARAM_SEEN=()

# pbh_param NAME REGEX [required|optional]
# Declare a parameter; REGEX is a bash ERE matched against the whole value (anchored here).
pbh_param() {
  local name=$1 pattern=$2 need=${3:-required}
  PBH_PARAM_NAMES+=("$name")
  PBH_PARAM_PATTERN[$name]=$pattern
  PBH_PARAM_REQUIRED[$name]=$([[ $need == required ]] && echo 1 || echo 0)
  printf -v "$name" '%s' ""
}

# pbh_read_params: read stdin to its end, check it against the declared parameters and set one
# shell variable per declared name. Exits 2 on any problem, naming keys, never values.
pbh_read_params() {
  local line key value status errors=0 count=0 name
  while :; do
    status=0
    IFS= read -r -t "$PBH_STDIN_TIMEOUT" line || status=$?
    if ((status > 128)); then
      pbh_die 2 "stdin was not closed within ${PBH_STDIN_TIMEOUT}s (send KEY=VALUE lines, then end of input)"
    fi
    if ((status != 0)) && [[ -z $line ]]; then
      break  # end of input
    fi
    count=$((count + 1))
    if ((count > PBH_MAX_LINES)); then
      pbh_die 2 "more than $PBH_MAX_LINES lines on stdin"
    fi
    [[ -z $line ]] && continue
    if ((${#line} > PBH_MAX_LINE)); then
      pbh_log "error: stdin line $count is longer than $PBH_MAX_LINE characters"
      errors=$((errors + 1))
      continue
    fi
    if [[ ! $line =~ ^[A-Z][A-Z0-9_]{0,63}= ]]; then
      pbh_log "error: stdin line $count is not KEY=VALUE (KEY in capitals)"
      errors=$((errors + 1))
      continue
    fi
    key=${line%%=*}
    value=${line#*=}
    if [[ -z ${PBH_PARAM_PATTERN[$key]+set} ]]; then
      pbh_log "error: unknown parameter $key (this script takes: ${PBH_PARAM_NAMES[*]:-nothing})"
      errors=$((errors + 1))
      continue
    fi
    if [[ -n ${PBH_PARAM_SEEN[$key]+set} ]]; then
      pbh_log "error: parameter $key given twice"
      errors=$((errors + 1))
      continue
    fi
    PBH_PARAM_SEEN[$key]=1
    if [[ -z $value && ${PBH_PARAM_REQUIRED[$key]} == 0 ]]; then
      continue  # an optional parameter left empty is the same as not given
    fi
    if [[ ! $value =~ ^(${PBH_PARAM_PATTERN[$key]})$ ]]; then
      pbh_log "error: invalid value for $key (must match ${PBH_PARAM_PATTERN[$key]})"
      errors=$((errors + 1))
      continue
    fi
    printf -v "$key" '%s' "$value"
  done
  for name in "${PBH_PARAM_NAMES[@]}"; do
    if [[ ${PBH_PARAM_REQUIRED[$name]} == 1 && -z ${PBH_PARAM_SEEN[$name]+set} ]]; then
      pbh_log "error: missing parameter $name"
      errors=$((errors + 1))
    fi
  done
  if ((errors > 0)); then
    pbh_die 2 "refused: $errors problem(s) with the parameters on stdin; nothing was done"
  fi
  exec </dev/null  # no command started from here on can read what came on stdin
}

pbh_bad_param() {  # a parameter that matched its pattern but does not make sense: exit 2
  pbh_die 2 "refused: $*; nothing was done"
}

# pbh_documents NAME KIND...: the kubeadm documents in parameter NAME (base64, made by the
# program: components/platforms/kubeadm/documents.py), decoded into the variable NAME without
# its _B64 suffix. They must hold a document of each KIND; an empty optional parameter stays
# empty. The content is never shown: it may hold the token or the certificate key.
pbh_documents() {
  local name=$1 kind decoded
  shift
  [[ -n ${!name} ]] || { printf -v "${name%_B64}" '%s' ""; return 0; }
  decoded=$(base64 -d <<<"${!name}" 2>/dev/null) || pbh_bad_param "$name is not valid base64"
  for kind in "$@"; do
    grep -Eq "^kind:[[:space:]]*${kind}[[:space:]]*\$" <<<"$decoded" || pbh_bad_param "$name holds no $kind"
  done
  printf -v "${name%_B64}" '%s' "$decoded"
}

PBH_RE_BASE64='[A-Za-z0-9+/]+={0,2}'

# Patterns shared by several scripts.
PBH_RE_VERSION='1\.[0-9]{1,3}\.[0-9]{1,3}'
PBH_RE_TOKEN='[a-z0-9]{6}\.[a-z0-9]{16}'
PBH_RE_CERT_KEY='[0-9a-f]{64}'
PBH_RE_LABEL='[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?'
PBH_RE_NODE_NAME="$PBH_RE_LABEL(\\.$PBH_RE_LABEL)*"

# --- the host ----------------------------------------------------------------------------------

# Root on a real host; the tests run under a scratch PBH_ROOT instead. Takes the host-wide lock
# so two steps never run at once on one host.
pbh_start() {
  if [[ $PBH_ROOT == / && $EUID -ne 0 ]]; then
    pbh_die 3 "must run as root (sudo bash $0)"
  fi
  local lock
  lock=$(pbh_path /run/lock)
  mkdir -p "$lock"
  exec 9>>"$lock/persistent-binderhub.lock"
  flock -w 1200 9 || pbh_die 1 "another persistent-binderhub step holds $lock/persistent-binderhub.lock"
}

# pbh_write FILE MODE < content: write FILE atomically when its content or mode differ.
# Sets PBH_CHANGED to 1 when it wrote, 0 when the file was already so. The content never passes
# through a command line; the temporary file is created mode 600.
pbh_write() {
  local path=$1 mode=$2 dir tmp
  dir=$(dirname "$path")
  mkdir -p "$dir"
  tmp=$(mktemp "$dir/.pbh-write.XXXXXX")
  cat >"$tmp"
  if [[ -f $path ]] && cmp -s "$tmp" "$path" && [[ $(stat -c %a "$path") == "${mode#0}" ]]; then
    rm -f "$tmp"
    PBH_CHANGED=0
    return 0
  fi
  chmod "$mode" "$tmp"
  mv -f "$tmp" "$path"
  PBH_CHANGED=1
}

# Hide anything shaped like a bootstrap token or a certificate key in command output. kubeadm
# prints both (join commands, "Using certificate key"); the scripts also avoid printing them at
# all, this is the second line of defence. "sha256:<hex>" CA hashes are public and kept.
pbh_redact() {
  sed -E \
    -e 's/[a-z0-9]{6}\.[a-z0-9]{16}/<redacted-token>/g' \
    -e 's/(^|[^:0-9a-f])[0-9a-f]{64}([^0-9a-f]|$)/\1<redacted-key>\2/g'
}

# pbh_run COMMAND ARGS...: log the command, run it with its output (both streams) redacted on
# stderr, without the result descriptor (3) or the lock (9). Arguments are logged, so they must
# never hold a secret (secrets go in mode-600 files).
pbh_run() {
  pbh_log "+ $*"
  "$@" 2>&1 3>&- 9>&- | pbh_redact >&2
}

# --- what is done on a host --------------------------------------------------------------------

# kubeadm writes its files before its work is done (admin.conf before etcd and the API server are
# up, kubelet.conf before a control plane has joined etcd), so they do not say a step finished:
# these markers do, written only once the cluster itself confirmed the step.
PBH_INITIALISED=$PBH_STATE_DIR/initialised
PBH_JOINED=$PBH_STATE_DIR/joined
PBH_READY_TRIES=${PBH_READY_TRIES:-24}  # a confirmation is tried every PBH_READY_WAIT seconds, so many times
PBH_READY_WAIT=${PBH_READY_WAIT:-5}

# pbh_confirm_or_reset MARKER WHAT CHECK...: kubeadm's files of step WHAT exist but MARKER does
# not: the step never finished (or was done before the markers). Recorded as done if CHECK
# confirms it; otherwise the host is reset, so that the step runs again.
pbh_confirm_or_reset() {
  local marker=$1 what=$2
  shift 2
  if pbh_marked "$marker"; then
    return 0
  fi
  if pbh_confirmed "$@"; then
    pbh_log "$what: confirmed by the cluster, recorded as done"
    pbh_mark "$marker"
  else
    pbh_log "$what did not finish (the cluster does not confirm it): resetting this host to do it again"
    pbh_reset_node
  fi
}

pbh_mark() {  # pbh_mark MARKER: the step is done
  printf 'done\n' | pbh_write "$(pbh_path "$1")" 644
}

pbh_marked() {  # pbh_marked MARKER: was the step done?
  [[ -f $(pbh_path "$1") ]]
}

# pbh_confirmed COMMAND ARGS...: succeeds once COMMAND (run quietly) does, trying PBH_READY_TRIES
# times; fails if it never does.
pbh_confirmed() {
  local try
  for ((try = 1; try <= PBH_READY_TRIES; try++)); do
    if "$@" >/dev/null 2>&1 3>&- 9>&-; then
      return 0
    fi
    if ((try < PBH_READY_TRIES)); then sleep "$PBH_READY_WAIT"; fi
  done
  return 1
}

# Undo kubeadm init/join on this host: kubeadm reset, the CNI configuration it leaves behind, this
# project's kubeadm config files and markers. The packages stay, so the host can join again.
pbh_reset_node() {
  local cni
  pbh_run kubeadm reset -f
  cni=$(pbh_path /etc/cni/net.d)
  if [[ -d $cni ]]; then
    find "$cni" -mindepth 1 -maxdepth 1 -exec rm -rf -- {} +
    pbh_log "CNI configuration removed from /etc/cni/net.d"
  fi
  rm -f "$(pbh_path "$PBH_STATE_DIR")"/kubeadm-*.yaml "$(pbh_path "$PBH_INITIALISED")" "$(pbh_path "$PBH_JOINED")"
}

# pbh_drain KUBECTL... -- NODE TIMEOUT: cordon NODE and evict its pods. The drain forces out pods no
# controller manages, such as KubeSpawner's user servers (they stop; their files stay on their
# volumes): without --force, a running user server would block it for ever.
pbh_drain() {
  local node=$1 timeout=$2
  shift 2
  pbh_run "$@" drain "$node" --ignore-daemonsets --delete-emptydir-data --force --timeout="$timeout"
}

# --- versions and packages ---------------------------------------------------------------------

# pbh_version_cmp A B: prints -1, 0 or 1 comparing two X.Y.Z versions numerically.
pbh_version_cmp() {
  local -a a b
  local i
  IFS=. read -r -a a <<<"$1"
  IFS=. read -r -a b <<<"$2"
  for i in 0 1 2; do
    if ((10#${a[i]:-0} < 10#${b[i]:-0})); then echo -1; return 0; fi
    if ((10#${a[i]:-0} > 10#${b[i]:-0})); then echo 1; return 0; fi
  done
  echo 0
}

pbh_minor() {  # 1.31.4 -> 31
  local rest=${1#*.}
  echo "${rest%%.*}"
}

# pbh_pkg NAME: sets PKG_INSTALLED (0/1), PKG_HELD (0/1) and PKG_VERSION (full Debian version,
# empty when not installed) from dpkg's database.
pbh_pkg() {
  local out want status version
  out=$(dpkg-query -W -f='${db:Status-Want} ${db:Status-Status} ${Version}\n' "$1" 2>/dev/null) || out=""
  read -r want status version <<<"$out" || true
  PKG_INSTALLED=0 PKG_HELD=0 PKG_VERSION=""
  if [[ $status == installed ]]; then
    PKG_INSTALLED=1
    PKG_VERSION=$version
  fi
  if [[ $want == hold ]]; then
    PKG_HELD=1
  fi
}

pbh_upstream() {  # 1.31.4-1.1 -> 1.31.4
  echo "${1%%-*}"
}

PBH_APT_OPTS=(-q -y -o DPkg::Lock::Timeout=600 -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold)

pbh_apt_install() {
  pbh_run apt-get "${PBH_APT_OPTS[@]}" install --no-install-recommends "$@"
}

# The installed kubeadm's version (X.Y.Z), empty if kubeadm is not installed.
pbh_kubeadm_version() {
  local v
  command -v kubeadm >/dev/null 2>&1 || return 0
  v=$(kubeadm version -o short 2>/dev/null) || v=""
  v=${v#v}
  if [[ $v =~ ^$PBH_RE_VERSION$ ]]; then
    echo "$v"
  fi
}

pbh_require_kubeadm() {  # pbh_require_kubeadm VERSION: kubeadm must be at VERSION already
  local have
  have=$(pbh_kubeadm_version)
  if [[ $have != "$1" ]]; then
    pbh_die 3 "kubeadm is at '${have:-not installed}', not $1: run prepare-node.sh with KUBERNETES_VERSION=$1 first"
  fi
}

# The version of this node's API server (X.Y.Z from its static pod's image), empty if none.
pbh_apiserver_version() {
  local manifest
  manifest=$(pbh_path /etc/kubernetes/manifests/kube-apiserver.yaml)
  [[ -f $manifest ]] || return 0
  sed -n -E 's@^[[:space:]]*image:[[:space:]]*"?[^"[:space:]]*/kube-apiserver:v([0-9]+\.[0-9]+\.[0-9]+)"?[[:space:]]*$@\1@p' \
    "$manifest" | head -n 1
}

# pbh_upgrade_needed WHAT HAVE WANT: succeeds when WANT is an upgrade of HAVE, fails when they
# are the same; a downgrade or a skipped minor version ends the script (exit 3).
pbh_upgrade_needed() {
  local what=$1 have=$2 want=$3
  case $(pbh_version_cmp "$have" "$want") in
    0) return 1 ;;
    1) pbh_die 3 "$what runs $have, newer than $want: downgrades are not supported" ;;
  esac
  if (($(pbh_minor "$want") > $(pbh_minor "$have") + 1)); then
    pbh_die 3 "$what: $have -> $want skips a minor version: upgrade one minor at a time"
  fi
}

# Bring the kubelet and kubectl packages to VERSION (after `kubeadm upgrade apply|node`), with
# the same package revision as the installed kubeadm, then restart the kubelet. Nothing when they
# are at VERSION already.
pbh_upgrade_kubelet() {
  local target=$1 pkg kubeadm_pkg todo=()
  for pkg in kubelet kubectl; do
    pbh_pkg "$pkg"
    if ((PKG_INSTALLED)); then
      case $(pbh_version_cmp "$(pbh_upstream "$PKG_VERSION")" "$target") in
        0) continue ;;
        1) pbh_die 3 "$pkg is at $PKG_VERSION, newer than $target: downgrades are not supported" ;;
      esac
    fi
    todo+=("$pkg")
  done
  if ((${#todo[@]} == 0)); then
    return 0
  fi
  pbh_require_kubeadm "$target"
  pbh_pkg kubeadm
  kubeadm_pkg=$PKG_VERSION
  pbh_log "upgrading ${todo[*]} to $kubeadm_pkg"
  pbh_apt_install --allow-change-held-packages "${todo[@]/%/=$kubeadm_pkg}"
  pbh_run apt-mark hold "${todo[@]}"
  pbh_run systemctl daemon-reload
  pbh_run systemctl restart kubelet
}
