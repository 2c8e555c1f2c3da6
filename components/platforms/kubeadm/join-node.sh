#!/usr/bin/env bash
# Join this host to the cluster (additional control planes and workers), or upgrade it.
#
# stdin:  CONTROL_PLANE_ENDPOINT=host:port   the API endpoint (DNS name, IPv4 or [IPv6], port)
#         TOKEN=abcdef.0123456789abcdef       bootstrap token (secret), from join-token.sh's input
#         CA_CERT_HASH=sha256:<64 hex>        join-token.sh's output
#         NODE_NAME=worker-1                  the Kubernetes node name (DNS-1123 subdomain)
#         ROLE=control-plane|core|user|build
#         KUBERNETES_VERSION=1.31.4
#         CERTIFICATE_KEY=<64 hex>            (secret) required for ROLE=control-plane, refused otherwise
#         NODE_IP=10.0.0.12                   optional: the kubelet's node IP (and the API server's
#                                             advertise address on a control plane)
# stdout: nothing.
#
# Not joined (no /etc/kubernetes/kubelet.conf): writes a JoinConfiguration (mode 600: it holds
# the token) with the node name, for workers the label hub.jupyter.org/node-purpose=<role> and,
# for user and build nodes, the taint hub.jupyter.org/dedicated=user:NoSchedule (the one user
# pods and BinderHub's build pods tolerate), runs
# `kubeadm join --config <it>`, and removes the file once joined. Joined and older than
# KUBERNETES_VERSION: `kubeadm upgrade node`, then the kubelet and kubectl packages and a kubelet
# restart. Joined at that version: nothing. (Labels and taints are set at join time only.)
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

HOST_LABEL='[A-Za-z0-9]([-A-Za-z0-9]{0,61}[A-Za-z0-9])?'  # DNS names and IPv4 addresses; IPv6 in brackets
pbh_param CONTROL_PLANE_ENDPOINT "($HOST_LABEL(\\.$HOST_LABEL)*|\\[[0-9a-fA-F:.]{2,45}\\]):[0-9]{1,5}"
pbh_param TOKEN "$PBH_RE_TOKEN"
pbh_param CA_CERT_HASH 'sha256:[0-9a-f]{64}'
pbh_param NODE_NAME "$PBH_RE_NODE_NAME"
pbh_param ROLE 'control-plane|core|user|build'
pbh_param KUBERNETES_VERSION "$PBH_RE_VERSION"
pbh_param CERTIFICATE_KEY "$PBH_RE_CERT_KEY" optional
pbh_param NODE_IP '[0-9]{1,3}(\.[0-9]{1,3}){3}|[0-9a-fA-F:.]{2,45}' optional
pbh_read_params

port=${CONTROL_PLANE_ENDPOINT##*:}
((10#$port >= 1 && 10#$port <= 65535)) || pbh_bad_param "CONTROL_PLANE_ENDPOINT has an invalid port"
((${#NODE_NAME} <= 253)) || pbh_bad_param "NODE_NAME is longer than 253 characters"
if [[ $ROLE == control-plane && -z $CERTIFICATE_KEY ]]; then
  pbh_bad_param "ROLE=control-plane needs CERTIFICATE_KEY"
fi
if [[ $ROLE != control-plane && -n $CERTIFICATE_KEY ]]; then
  pbh_bad_param "CERTIFICATE_KEY is only for ROLE=control-plane"
fi
if [[ -n $NODE_IP && ! $NODE_IP =~ ^[0-9.]+$ && $NODE_IP != *:* ]]; then
  pbh_bad_param "NODE_IP is neither an IPv4 nor an IPv6 address"
fi
pbh_start

VERSION=$KUBERNETES_VERSION
KUBELET_CONF=$(pbh_path /etc/kubernetes/kubelet.conf)

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
API=$(pbh_kubeadm_api "$VERSION")

# kubelet flags: a list of name/value pairs in v1beta4, a map before.
kubelet_args=()
if [[ $ROLE != control-plane ]]; then
  kubelet_args+=(node-labels "hub.jupyter.org/node-purpose=$ROLE")
fi
if [[ -n $NODE_IP ]]; then
  kubelet_args+=(node-ip "$NODE_IP")
fi

join_configuration() {
  local i
  printf 'apiVersion: %s\nkind: JoinConfiguration\n' "$API"
  printf 'discovery:\n  bootstrapToken:\n'
  printf '    apiServerEndpoint: "%s"\n' "$CONTROL_PLANE_ENDPOINT"
  printf '    token: "%s"\n' "$TOKEN"
  printf '    caCertHashes:\n    - "%s"\n' "$CA_CERT_HASH"
  printf '  tlsBootstrapToken: "%s"\n' "$TOKEN"
  printf 'nodeRegistration:\n  name: "%s"\n' "$NODE_NAME"
  printf '  criSocket: "unix:///var/run/containerd/containerd.sock"\n'
  if ((${#kubelet_args[@]} > 0)); then
    printf '  kubeletExtraArgs:\n'
    for ((i = 0; i < ${#kubelet_args[@]}; i += 2)); do
      if [[ $API == */v1beta4 ]]; then
        printf '  - name: "%s"\n    value: "%s"\n' "${kubelet_args[i]}" "${kubelet_args[i + 1]}"
      else
        printf '    %s: "%s"\n' "${kubelet_args[i]}" "${kubelet_args[i + 1]}"
      fi
    done
  fi
  case $ROLE in
    user | build)
      printf '  taints:\n  - key: "hub.jupyter.org/dedicated"\n    value: "user"\n    effect: "NoSchedule"\n' ;;
    core) printf '  taints: []\n' ;;
    control-plane) ;;  # kubeadm's own control-plane taint
  esac
  if [[ $ROLE == control-plane ]]; then
    printf 'controlPlane:\n  certificateKey: "%s"\n' "$CERTIFICATE_KEY"
    if [[ -n $NODE_IP ]]; then
      printf '  localAPIEndpoint:\n    advertiseAddress: "%s"\n' "$NODE_IP"
    fi
  fi
}

state_dir=$(pbh_path "$PBH_STATE_DIR")
mkdir -p "$state_dir"
chmod 700 "$state_dir"
CONFIG_FILE="$state_dir/kubeadm-join.yaml"
trap 'rm -f "$CONFIG_FILE"' EXIT  # it holds the token: only there while kubeadm join runs
join_configuration | pbh_write "$CONFIG_FILE" 600
pbh_log "joining $CONTROL_PLANE_ENDPOINT as $NODE_NAME ($ROLE), Kubernetes $VERSION"
pbh_run kubeadm join --config "$CONFIG_FILE"
[[ -f $KUBELET_CONF ]] || pbh_die 1 "kubeadm join finished without writing /etc/kubernetes/kubelet.conf"
pbh_log "node $NODE_NAME joined"
