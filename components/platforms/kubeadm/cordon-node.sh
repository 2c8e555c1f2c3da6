#!/usr/bin/env bash
# Around a node's upgrade (first control plane): before it, cordon and drain the node; after it,
# uncordon it. As kubeadm's upgrade guide asks, so that no pod runs on a node whose kubelet restarts
# at another version; the program upgrades one node at a time.
#
# stdin:  NODE_NAME=worker-3           the node
#         ACTION=drain|uncordon
#         DRAIN_TIMEOUT=300s           optional: how long the drain may take (default 300s)
# stdout: nothing.
#
# No cluster yet (no /etc/kubernetes/admin.conf), or a node the cluster does not list (it joins
# later): nothing to do. The drain forces out user servers (see pbh_drain in lib.sh).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

pbh_param NODE_NAME "$PBH_RE_NODE_NAME"
pbh_param ACTION 'drain|uncordon'
pbh_param DRAIN_TIMEOUT '[1-9][0-9]{0,4}[sm]' optional
pbh_read_params
((${#NODE_NAME} <= 253)) || pbh_bad_param "NODE_NAME is longer than 253 characters"
pbh_start

ADMIN_CONF=$(pbh_path /etc/kubernetes/admin.conf)
if [[ ! -f $ADMIN_CONF ]]; then
  pbh_log "no cluster yet: nothing to $ACTION"
  exit 0
fi
kubectl=(kubectl --kubeconfig "$ADMIN_CONF")
if [[ -z $("${kubectl[@]}" get node "$NODE_NAME" --ignore-not-found -o name) ]]; then
  pbh_log "node $NODE_NAME is not in the cluster (yet): nothing to $ACTION"
  exit 0
fi
if [[ $ACTION == drain ]]; then
  pbh_log "draining node $NODE_NAME before its upgrade"
  pbh_drain "$NODE_NAME" "${DRAIN_TIMEOUT:-300s}" "${kubectl[@]}"
else
  pbh_run "${kubectl[@]}" uncordon "$NODE_NAME"
fi
