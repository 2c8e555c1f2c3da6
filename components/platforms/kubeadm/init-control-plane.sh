#!/usr/bin/env bash
# Initialise the first control plane with kubeadm, or upgrade it to a newer version.
#
# stdin:  KUBEADM_CONFIG_B64=<base64>     the kubeadm config file (InitConfiguration +
#                                         ClusterConfiguration), base64 on one line
#         KUBERNETES_VERSION=1.31.4       must equal the config's kubernetesVersion
# stdout: nothing.
#
# Not initialised (no /etc/kubernetes/admin.conf): the config is written to
# /etc/persistent-binderhub/kubeadm-init.yaml (mode 600) and `kubeadm init --config <it>
# --upload-certs` runs; done once the API server answers (marker /etc/persistent-binderhub/
# initialised). admin.conf without that marker and an API server that never answers is an init
# that did not finish: the host is reset and initialised again. A host without a cluster whose
# endpoint answers is refused (exit 3): it was reinstalled while the cluster lives on. Initialised and this node's control plane is older than
# KUBERNETES_VERSION: `kubeadm upgrade plan`, `kubeadm upgrade apply v<version> --yes`, then the
# kubelet and kubectl packages and a kubelet restart (never a second init). Same version: nothing.
# prepare-node.sh with the same version must have run first (kubeadm at that version).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

pbh_param KUBEADM_CONFIG_B64 "$PBH_RE_BASE64"
pbh_param KUBERNETES_VERSION "$PBH_RE_VERSION"
pbh_read_params

VERSION=$KUBERNETES_VERSION
pbh_documents KUBEADM_CONFIG_B64 InitConfiguration ClusterConfiguration
grep -Eq "^kubernetesVersion:[[:space:]]*[\"']?v${VERSION//./\\.}[\"']?[[:space:]]*$" <<<"$KUBEADM_CONFIG" \
  || pbh_bad_param "the kubeadm config's kubernetesVersion is not v$VERSION"
pbh_start

ADMIN_CONF=$(pbh_path /etc/kubernetes/admin.conf)
CONFIG_FILE=$(pbh_path "$PBH_STATE_DIR/kubeadm-init.yaml")
ENDPOINT=$(sed -n -E "s/^controlPlaneEndpoint:[[:space:]]*[\"']?([^\"' ]+)[\"']?[[:space:]]*\$/\1/p" <<<"$KUBEADM_CONFIG")

api_answers() {  # the cluster's API server is up and ready
  kubectl --kubeconfig "$ADMIN_CONF" get --raw=/readyz
}

if [[ -f $ADMIN_CONF ]]; then
  pbh_confirm_or_reset "$PBH_INITIALISED" "kubeadm init" api_answers
fi

if [[ ! -f $ADMIN_CONF ]]; then
  # This host has no cluster: one that answers at the endpoint is another's (the other control
  # planes', with this host reinstalled), and a second init would split it.
  if [[ -n $ENDPOINT ]] && curl -fsk --max-time 10 -o /dev/null "https://$ENDPOINT/version"; then
    pbh_die 3 "a cluster already answers at $ENDPOINT, but this host has none: it was reinstalled or" \
      "replaced. Initialising would make a second cluster. Put a control plane of the running cluster" \
      "first under controlPlanes, so that this host joins it (README: replacing a host)"
  fi
  pbh_require_kubeadm "$VERSION"
  mkdir -p "$(dirname "$CONFIG_FILE")"
  chmod 700 "$(dirname "$CONFIG_FILE")"
  printf '%s\n' "$KUBEADM_CONFIG" | pbh_write "$CONFIG_FILE" 600
  pbh_log "initialising the control plane, Kubernetes $VERSION (config: $PBH_STATE_DIR/kubeadm-init.yaml)"
  pbh_run kubeadm init --config "$CONFIG_FILE" --upload-certs --skip-token-print --skip-certificate-key-print
  [[ -f $ADMIN_CONF ]] || pbh_die 1 "kubeadm init finished without writing /etc/kubernetes/admin.conf"
  pbh_confirmed api_answers || pbh_die 1 "kubeadm init finished, but the API server does not answer"
  pbh_mark "$PBH_INITIALISED"
  pbh_log "control plane initialised"
  exit 0
fi

# Initialised: compare this control plane's version with the one asked for.
if [[ -f $CONFIG_FILE ]] && ! printf '%s\n' "$KUBEADM_CONFIG" | cmp -s - "$CONFIG_FILE"; then
  pbh_log "note: the kubeadm config differs from the one this cluster was initialised with; kubeadm" \
    "does not reconfigure a running cluster, so only a version change is acted upon here"
fi
current=$(pbh_apiserver_version)
[[ -n $current ]] || pbh_die 1 "admin.conf exists but no kube-apiserver static pod manifest: not a kubeadm control plane?"

if pbh_upgrade_needed "the control plane" "$current" "$VERSION"; then
  pbh_require_kubeadm "$VERSION"
  pbh_log "upgrading the control plane $current -> $VERSION"
  pbh_run kubeadm upgrade plan "v$VERSION" --kubeconfig "$ADMIN_CONF"
  pbh_run kubeadm upgrade apply "v$VERSION" --yes --kubeconfig "$ADMIN_CONF"
  current=$(pbh_apiserver_version)
  [[ $current == "$VERSION" ]] || pbh_die 1 "after kubeadm upgrade apply the API server is at '${current:-?}', not $VERSION"
fi

# The kubelet and kubectl follow the control plane (also finishes an upgrade interrupted after
# `kubeadm upgrade apply`).
pbh_upgrade_kubelet "$VERSION"
pbh_log "control plane at Kubernetes $VERSION"
