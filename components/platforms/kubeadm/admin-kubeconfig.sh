#!/usr/bin/env bash
# Print the cluster's admin kubeconfig (first control plane, after init-control-plane.sh),
# renewed first when its client certificate (valid a year) expires within RENEW_DAYS.
#
# stdin:  nothing (no parameters; empty input).
# stdout: the content of /etc/kubernetes/admin.conf. It is a cluster-admin credential: the
#         caller keeps it secret and should not log this command's stdout.
#
# The program runs this on every `make up` (and on upgrades, which renew kubeadm's certificates
# too), so the kubeconfig Pulumi holds is never older than its last deployment.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

RENEW_DAYS=60
pbh_read_params
pbh_start

ADMIN_CONF=$(pbh_path /etc/kubernetes/admin.conf)
[[ -s $ADMIN_CONF ]] || pbh_die 3 "/etc/kubernetes/admin.conf does not exist: run init-control-plane.sh first"
certificate=$(sed -n 's/^[[:space:]]*client-certificate-data:[[:space:]]*//p' "$ADMIN_CONF" | head -n 1)
if [[ -n $certificate ]] && ! base64 -d <<<"$certificate" 2>/dev/null \
  | openssl x509 -noout -checkend $((RENEW_DAYS * 86400)) >/dev/null 2>&1; then
  pbh_log "the admin kubeconfig's certificate expires within $RENEW_DAYS days: renewing it"
  pbh_run kubeadm certs renew admin.conf
fi
cat "$ADMIN_CONF" >&3
pbh_log "admin kubeconfig printed"
