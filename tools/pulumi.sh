#!/usr/bin/env bash
# Run `pulumi up` or `pulumi preview` on a stack, first setting up what is missing:
# without any Pulumi login, state goes to a local file backend in .pulumi-state/ (for
# this command only; your Pulumi login elsewhere is never changed); the local and
# example stacks are created on first use, with an empty passphrase for `local`.
# `init` creates another stack, once, in that same backend; `destroy` removes a stack's resources;
# `output` prints a deployed stack's outputs (`pulumi stack output`); `export` writes its state
# (`pulumi stack export`: secrets stay encrypted); `policy` prepares the policy pack for STACK and
# prints its configuration file (for workflows that run Pulumi themselves).
#
#   tools/pulumi.sh up|preview|init|destroy|output|export|policy STACK [pulumi arguments...]
set -euo pipefail

if [[ $# -lt 2 || ! $1 =~ ^(up|preview|init|destroy|output|export|policy)$ ]]; then
  echo "usage: tools/pulumi.sh up|preview|init|destroy|output|export|policy STACK [pulumi arguments...]" >&2
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

credentials="${PULUMI_HOME:-$HOME/.pulumi}/credentials.json"
if [[ -z ${PULUMI_BACKEND_URL:-} ]] && ! grep -qs '"current"' "$credentials"; then
  mkdir -p .pulumi-state
  export PULUMI_BACKEND_URL="file://$PWD/.pulumi-state"
  echo "No Pulumi login: keeping state in .pulumi-state/ ('pulumi login <backend>' to choose another)." >&2
fi
# With a login whose credentials no longer work, this fails with Pulumi's own message.
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

if [[ $action == init ]]; then
  exec pulumi stack init --non-interactive "$stack" "$@"
fi
if [[ $stack == local || $stack == example-* ]]; then
  pulumi stack select --create --non-interactive "$stack"
elif ! pulumi stack select --non-interactive "$stack"; then
  echo "error: stack $stack does not exist in $backend. If this is its first deployment," \
    "create it with: pulumi stack init $stack" >&2
  exit 1
fi
if [[ $action == output || $action == export ]]; then
  exec pulumi stack "$action" --stack "$stack" "$@"
fi
if [[ $action == destroy ]]; then
  # The user volumes' namespace and the registries are protected against a rename in code; the
  # caller (make down, after asking) means to delete them.
  pulumi state unprotect --all --yes --stack "$stack"
fi
# The policy pack (policies/) guards every preview and deployment, in its own virtualenv, told
# what the stack's settings say (downgraded rules, the stack's domains).
prepare_policy_pack() {
  if [[ ! -f policies/venv/.ready || policies/requirements.txt -nt policies/venv/.ready ]]; then
    echo "Preparing the policy pack's virtualenv (policies/venv)." >&2
    python3 -m venv policies/venv
    policies/venv/bin/pip install --quiet --disable-pip-version-check -r policies/requirements.txt
    touch policies/venv/.ready
  fi
  mkdir -p policies/.config
  .venv/bin/python -m tools.policy --config "$stack" >"policies/.config/$stack.json"
}
if [[ $action == policy ]]; then
  # For a workflow that runs Pulumi itself (pulumi/actions): the pack ready, its config's path printed.
  prepare_policy_pack
  echo "policies/.config/$stack.json"
  exit 0
fi
if [[ $action == up || $action == preview ]]; then
  prepare_policy_pack
  set -- --policy-pack policies --policy-pack-config "policies/.config/$stack.json" "$@"
fi
# Steps that must run on every deployment (refreshing the kubeadm admin kubeconfig) take this as
# a trigger; a preview shows them as it will run them.
PBH_DEPLOYMENT=$(date -u +%Y-%m-%dT%H:%M:%SZ)
export PBH_DEPLOYMENT
exec pulumi "$action" --stack "$stack" "$@"
