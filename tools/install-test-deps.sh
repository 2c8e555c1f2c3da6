#!/usr/bin/env bash
# Install, with apt, the system packages the tests and lint need, if any is missing:
# Chromium (the hub's browser tests), node and npm (configurable-http-proxy), shellcheck, curl
# (the Harbor setup script), libpq-dev (to build psycopg2 for the hub-image virtualenv),
# Python's venv module, openssh-server and openssh-client (the kubeadm host scripts are
# tested over SSH against an sshd the tests start on 127.0.0.1; the system's own sshd is never
# started or changed), and busybox (the volume scripts are tested under busybox sh and its
# applets too, as an Alpine image runs them), and prometheus (its promtool checks and unit-tests
# the alert rules).
set -euo pipefail

missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v npm >/dev/null 2>&1 || missing+=(nodejs npm)
command -v shellcheck >/dev/null 2>&1 || missing+=(shellcheck)
command -v curl >/dev/null 2>&1 || missing+=(curl)
command -v pg_config >/dev/null 2>&1 || missing+=(libpq-dev)
python3 -c 'import ensurepip, venv' >/dev/null 2>&1 || missing+=(python3-venv)
command -v sshd >/dev/null 2>&1 || [ -x /usr/sbin/sshd ] || missing+=(openssh-server)
command -v ssh >/dev/null 2>&1 && command -v scp >/dev/null 2>&1 || missing+=(openssh-client)
command -v busybox >/dev/null 2>&1 || missing+=(busybox)
command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
[[ ${#missing[@]} -eq 0 ]] && exit 0

if ! command -v apt-get >/dev/null 2>&1; then
  echo "error: the tests need these packages (Debian names): ${missing[*]}; install them first." >&2
  exit 1
fi
as_root=()
[[ $(id -u) -eq 0 ]] || as_root=(sudo)
echo "Installing with apt: ${missing[*]}"
"${as_root[@]}" apt-get update -qq
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
