#!/usr/bin/env bash
# Run `pulumi up` or `pulumi preview` on a stack, first setting up what is missing:
# the state backend (a local file backend in .pulumi-state/ unless you have logged in
# elsewhere), the stack itself, and the passphrase of the local stack.
#
#   tools/pulumi.sh up|preview STACK [pulumi arguments...]
set -euo pipefail

if [[ $# -lt 2 || ! $1 =~ ^(up|preview)$ ]]; then
  echo "usage: tools/pulumi.sh up|preview STACK [pulumi arguments...]" >&2
  exit 2
fi
action=$1
stack=$2
shift 2
cd "$(dirname "$0")/.."

if ! command -v pulumi >/dev/null 2>&1; then
  cat >&2 <<'MSG'
error: the Pulumi CLI is not installed. (make test and make render work without it.)
Install it with the official installer, then open a new shell:
    curl -fsSL https://get.pulumi.com | sh
Other ways (Homebrew, Windows, a fixed version): https://www.pulumi.com/docs/iac/download-install/
MSG
  exit 1
fi

if ! pulumi whoami --non-interactive >/dev/null 2>&1; then
  mkdir -p .pulumi-state
  echo "Not logged in to a Pulumi backend: keeping state in .pulumi-state/ (pulumi login <url> to choose another)."
  pulumi login --non-interactive "file://$PWD/.pulumi-state"
fi

backend=$(pulumi whoami --verbose --non-interactive | sed -n 's/^Backend URL: *//p')
if [[ $backend == file://* && -z ${PULUMI_CONFIG_PASSPHRASE+set} && -z ${PULUMI_CONFIG_PASSPHRASE_FILE:-} ]]; then
  if [[ $stack == local ]]; then
    # The local stack holds only test-key secrets and throwaway generated ones.
    export PULUMI_CONFIG_PASSPHRASE=""
  else
    echo "error: a file state backend encrypts stack $stack's state with a passphrase:" \
      "set PULUMI_CONFIG_PASSPHRASE or PULUMI_CONFIG_PASSPHRASE_FILE first." >&2
    exit 1
  fi
fi

pulumi stack select --create --non-interactive "$stack"
exec pulumi "$action" --stack "$stack" "$@"
