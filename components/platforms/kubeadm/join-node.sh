#!/usr/bin/env bash
# Join this host to the cluster (additional control planes and workers), or upgrade it.
#
# stdin:  JOIN_CONFIG_B64=<base64>            (secret) the JoinConfiguration the program made for
#                                             this host (components/platforms/kubeadm/documents.py):
#                                             endpoint, token, CA hash, node name, labels, taints
#         NODE_NAME=worker-1                  the Kubernetes node name (DNS-1123 subdomain)
#         ROLE=control-plane|core|user|build
#         KUBERNETES_VERSION=1.31.4
# stdout: nothing.
#
# Not joined (no /etc/kubernetes/kubelet.conf): writes the JoinConfiguration (mode 600: it holds
# the token), runs `kubeadm join --config <it>`, and removes the file once joined; done once the
# cluster lists the node (a control plane as one: marker /etc/persistent-binderhub/joined).
# kubelet.conf without that marker and a node the cluster never lists is a join that did not
# finish: the host is reset and joins again. Joined and
# older than KUBERNETES_VERSION: `kubeadm upgrade node`, then the kubelet and kubectl packages and
# a kubelet restart. Joined at that version: nothing. (Labels and taints are set at join time only.)
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

pbh_param JOIN_CONFIG_B64 "$PBH_RE_BASE64"
pbh_param NODE_NAME "$PBH_RE_NODE_NAME"
pbh_param ROLE 'control-plane|core|user|build'
pbh_param KUBERNETES_VERSION "$PBH_RE_VERSION"
pbh_read_params

((${#NODE_NAME} <= 253)) || pbh_bad_param "NODE_NAME is longer than 253 characters"
pbh_documents JOIN_CONFIG_B64 JoinConfiguration
grep -Eq "^[[:space:]]+name:[[:space:]]*[\"']?${NODE_NAME//./\\.}[\"']?[[:space:]]*\$" <<<"$JOIN_CONFIG" \
  || pbh_bad_param "JOIN_CONFIG_B64 does not name node $NODE_NAME"
# A control plane joins with the certificate key; a worker is never given it.
if grep -q '^controlPlane:' <<<"$JOIN_CONFIG"; then
  [[ $ROLE == control-plane ]] || pbh_bad_param "JOIN_CONFIG_B64 joins a control plane, but ROLE is $ROLE"
else
  [[ $ROLE != control-plane ]] || pbh_bad_param "ROLE=control-plane needs a JoinConfiguration with controlPlane"
fi
pbh_start

VERSION=$KUBERNETES_VERSION
KUBELET_CONF=$(pbh_path /etc/kubernetes/kubelet.conf)
ADMIN_CONF=$(pbh_path /etc/kubernetes/admin.conf)

registered() {  # the cluster lists this node; a control plane once kubeadm marked it one (its last step)
  if [[ $ROLE == control-plane ]]; then
    kubectl --kubeconfig "$ADMIN_CONF" get nodes -l node-role.kubernetes.io/control-plane -o name \
      | grep -qx "node/$NODE_NAME"
  else
    kubectl --kubeconfig "$KUBELET_CONF" get node "$NODE_NAME" -o name
  fi
}

if [[ -f $KUBELET_CONF ]]; then
  pbh_confirm_or_reset "$PBH_JOINED" "kubeadm join" registered
fi

if [[ -f $KUBELET_CONF ]]; then
  # Joined already: upgrade if this node is older than VERSION.
  if [[ $ROLE == control-plane ]]; then
    current=$(pbh_apiserver_version)
    [[ -n $current ]] || pbh_die 3 "joined, but not as a control plane (no kube-apiserver manifest) although ROLE=control-plane"
  else
    pbh_pkg kubelet
    current=$(pbh_upstream "$PKG_VERSION")
    [[ -n $current ]] || pbh_die 1 "joined, but the kubelet package is not installed"
  fi
  if pbh_upgrade_needed "this node" "$current" "$VERSION"; then
    pbh_require_kubeadm "$VERSION"
    pbh_log "upgrading node $NODE_NAME ($ROLE) $current -> $VERSION"
    pbh_run kubeadm upgrade node
  else
    pbh_log "node $NODE_NAME is joined (kubelet.conf exists)"
  fi
  pbh_upgrade_kubelet "$VERSION"
  exit 0
fi

pbh_require_kubeadm "$VERSION"

state_dir=$(pbh_path "$PBH_STATE_DIR")
mkdir -p "$state_dir"
chmod 700 "$state_dir"
CONFIG_FILE="$state_dir/kubeadm-join.yaml"
trap 'rm -f "$CONFIG_FILE"' EXIT  # it holds the token: only there while kubeadm join runs
printf '%s\n' "$JOIN_CONFIG" | pbh_write "$CONFIG_FILE" 600
pbh_log "joining as $NODE_NAME ($ROLE), Kubernetes $VERSION"
pbh_run kubeadm join --config "$CONFIG_FILE"
[[ -f $KUBELET_CONF ]] || pbh_die 1 "kubeadm join finished without writing /etc/kubernetes/kubelet.conf"
pbh_confirmed registered || pbh_die 1 "kubeadm join finished, but the cluster does not list node $NODE_NAME"
pbh_mark "$PBH_JOINED"
pbh_log "node $NODE_NAME joined"
