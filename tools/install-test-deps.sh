#!/usr/bin/env bash
# Install, with apt, the system packages the tests and lint need, if any is missing:
# Chromium (the hub's browser tests), node and npm (configurable-http-proxy), shellcheck,
# libpq-dev (to build psycopg2 for the hub-image virtualenv) and Python's venv module.
set -euo pipefail

missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v npm >/dev/null 2>&1 || missing+=(nodejs npm)
command -v shellcheck >/dev/null 2>&1 || missing+=(shellcheck)
command -v pg_config >/dev/null 2>&1 || missing+=(libpq-dev)
python3 -c 'import ensurepip, venv' >/dev/null 2>&1 || missing+=(python3-venv)
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
