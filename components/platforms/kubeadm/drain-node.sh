#!/usr/bin/env bash
# A node's work moved off it, from the first control plane. Around its upgrade, as kubeadm's
# upgrade guide asks (one node at a time): ACTION=drain cordons and drains it before, and
# ACTION=uncordon lets pods back after. On its removal from the inventory: ACTION=remove drains it
# and deletes its Node object; then reset-node.sh runs on the removed host itself.
#
# stdin:  NODE_NAME=worker-3           the node
#         ACTION=drain|uncordon|remove
#         DRAIN_TIMEOUT=300s           optional: how long the drain may take (default 300s)
# stdout: nothing.
#
# No cluster yet (no /etc/kubernetes/admin.conf), or a node the cluster does not list (not joined
# yet, or removed already): nothing to do. The drain forces out user servers (see pbh_drain).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

pbh_param NODE_NAME "$PBH_RE_NODE_NAME"
pbh_param ACTION 'drain|uncordon|remove'
pbh_param DRAIN_TIMEOUT '[1-9][0-9]{0,4}[sm]' optional
pbh_read_params
((${#NODE_NAME} <= 253)) || pbh_bad_param "NODE_NAME is longer than 253 characters"
pbh_start

ADMIN_CONF=$(pbh_path /etc/kubernetes/admin.conf)
if [[ ! -f $ADMIN_CONF ]]; then
  pbh_log "no cluster on this host: nothing to $ACTION"
  exit 0
fi
kubectl=(kubectl --kubeconfig "$ADMIN_CONF")
if [[ -z $("${kubectl[@]}" get node "$NODE_NAME" --ignore-not-found -o name) ]]; then
  pbh_log "node $NODE_NAME is not in the cluster: nothing to $ACTION"
  exit 0
fi
case $ACTION in
  drain | remove)
    pbh_log "draining node $NODE_NAME"
    pbh_drain "$NODE_NAME" "${DRAIN_TIMEOUT:-300s}" "${kubectl[@]}"
    ;;
  uncordon) pbh_run "${kubectl[@]}" uncordon "$NODE_NAME" ;;
esac
if [[ $ACTION == remove ]]; then
  pbh_run "${kubectl[@]}" delete node "$NODE_NAME" --ignore-not-found
  pbh_log "node $NODE_NAME removed from the cluster; now run reset-node.sh on that host"
fi
