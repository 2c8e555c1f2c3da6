#!/usr/bin/env bash
# Print the cluster's admin kubeconfig (first control plane, after init-control-plane.sh).
#
# stdin:  nothing (no parameters; empty input).
# stdout: the content of /etc/kubernetes/admin.conf. It is a cluster-admin credential: the
#         caller keeps it secret and should not log this command's stdout.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

pbh_read_params
pbh_start

ADMIN_CONF=$(pbh_path /etc/kubernetes/admin.conf)
[[ -s $ADMIN_CONF ]] || pbh_die 3 "/etc/kubernetes/admin.conf does not exist: run init-control-plane.sh first"
cat "$ADMIN_CONF" >&3
pbh_log "admin kubeconfig printed"
