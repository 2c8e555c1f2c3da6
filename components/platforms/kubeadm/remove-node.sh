#!/usr/bin/env bash
# Remove a node from the cluster (first control plane): drain it, then delete its Node object.
# Then run reset-node.sh on the removed host itself.
#
# stdin:  NODE_NAME=worker-3           the node to remove
#         DRAIN_TIMEOUT=300s           optional: how long the drain may take (default 300s)
# stdout: nothing.
#
# A node that is not (or no longer) in the cluster: nothing to do. The drain forces out user
# servers (see pbh_drain).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

pbh_param NODE_NAME "$PBH_RE_NODE_NAME"
pbh_param DRAIN_TIMEOUT '[1-9][0-9]{0,4}[sm]' optional
pbh_read_params
((${#NODE_NAME} <= 253)) || pbh_bad_param "NODE_NAME is longer than 253 characters"
pbh_start

ADMIN_CONF=$(pbh_path /etc/kubernetes/admin.conf)
[[ -f $ADMIN_CONF ]] || pbh_die 3 "this host is not an initialised control plane (no /etc/kubernetes/admin.conf)"
kubectl=(kubectl --kubeconfig "$ADMIN_CONF")

found=$("${kubectl[@]}" get node "$NODE_NAME" --ignore-not-found -o name)
if [[ -z $found ]]; then
  pbh_log "node $NODE_NAME is not in the cluster: nothing to do"
  exit 0
fi
pbh_log "draining node $NODE_NAME"
pbh_drain "$NODE_NAME" "${DRAIN_TIMEOUT:-300s}" "${kubectl[@]}"
pbh_run "${kubectl[@]}" delete node "$NODE_NAME" --ignore-not-found
pbh_log "node $NODE_NAME removed from the cluster; now run reset-node.sh on that host"
