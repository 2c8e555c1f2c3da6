#!/usr/bin/env bash
# Make sure the join token exists, and print the discovery hash of the cluster CA (first control
# plane, after init-control-plane.sh).
#
# stdin:  TOKEN=abcdef.0123456789abcdef       the bootstrap token joins use (secret)
#         TOKEN_CONFIG_B64=<base64>           (secret) the documents that create it (its lifetime,
#                                             usages, groups), made by the program
#                                             (components/platforms/kubeadm/documents.py)
#         CERTS_CONFIG_B64=<base64>           optional (secret): also make sure the control-plane
#                                             certificates are uploaded, encrypted with the key
#                                             these documents name, for control planes joining
#                                             later (kubeadm deletes them after 2 hours)
# stdout: one line, the CA cert hash for kubeadm join: sha256:<64 hex>
#
# The token is created from a mode-600 config file (`kubeadm token create --config`), so it is
# never on a command line, and never printed. An existing unexpired token is left alone.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

pbh_param TOKEN "$PBH_RE_TOKEN"
pbh_param TOKEN_CONFIG_B64 "$PBH_RE_BASE64"
pbh_param CERTS_CONFIG_B64 "$PBH_RE_BASE64" optional
pbh_read_params
pbh_documents TOKEN_CONFIG_B64 InitConfiguration ClusterConfiguration
pbh_documents CERTS_CONFIG_B64 InitConfiguration ClusterConfiguration
created="token: [\"']?${TOKEN//./\\.}[\"']?[[:space:]]"
[[ $TOKEN_CONFIG =~ $created ]] || pbh_bad_param "TOKEN_CONFIG_B64 does not create TOKEN"
pbh_start

ADMIN_CONF=$(pbh_path /etc/kubernetes/admin.conf)
CA_CERT=$(pbh_path /etc/kubernetes/pki/ca.crt)
[[ -f $ADMIN_CONF && -f $CA_CERT ]] || pbh_die 3 "this host is not an initialised control plane (run init-control-plane.sh)"

TOKEN_ID=${TOKEN%%.*}  # the public half of the token; the part after the dot is the secret

# A private scratch directory for the mode-600 config files, removed on exit.
mkdir -p "$(pbh_path "$PBH_STATE_DIR")"
chmod 700 "$(pbh_path "$PBH_STATE_DIR")"
SCRATCH=$(mktemp -d "$(pbh_path "$PBH_STATE_DIR")/.join-token.XXXXXX")
trap 'rm -rf "$SCRATCH"' EXIT

# --- the token ---------------------------------------------------------------------------------
tokens=$(kubeadm token list --kubeconfig "$ADMIN_CONF" 2>"$SCRATCH/err") \
  || { pbh_redact <"$SCRATCH/err" >&2; pbh_die 1 "kubeadm token list failed"; }
state=absent
while read -r listed ttl _; do
  [[ ${listed%%.*} == "$TOKEN_ID" ]] || continue
  if [[ $listed != "$TOKEN" ]]; then
    pbh_die 1 "a bootstrap token with id $TOKEN_ID but another secret exists; delete it or use another token"
  fi
  if [[ $ttl == '<invalid>' ]]; then
    state=expired
  else
    state=present
  fi
done <<<"$tokens"  # the header line never matches a token id

if [[ $state == present ]]; then
  pbh_log "join token $TOKEN_ID.<secret> exists"
else
  if [[ $state == expired ]]; then
    pbh_run kubeadm token delete "$TOKEN_ID" --kubeconfig "$ADMIN_CONF"
  fi
  printf '%s\n' "$TOKEN_CONFIG" | pbh_write "$SCRATCH/token.yaml" 600
  pbh_log "creating join token $TOKEN_ID.<secret>"
  # kubeadm prints the new token on stdout: thrown away.
  kubeadm token create --config "$SCRATCH/token.yaml" --kubeconfig "$ADMIN_CONF" >/dev/null 2>"$SCRATCH/err" \
    || { pbh_redact <"$SCRATCH/err" >&2; pbh_die 1 "kubeadm token create failed"; }
fi

# --- the control-plane certificates, for control planes that join --------------------------------
if [[ -n $CERTS_CONFIG ]]; then
  uploaded=$(kubectl --kubeconfig "$ADMIN_CONF" -n kube-system get secret kubeadm-certs --ignore-not-found -o name)
  if [[ -n $uploaded ]]; then
    pbh_log "control-plane certificates are uploaded (secret kubeadm-certs)"
  else
    printf '%s\n' "$CERTS_CONFIG" | pbh_write "$SCRATCH/certs.yaml" 600
    pbh_log "uploading the control-plane certificates for joining control planes"
    pbh_run kubeadm init phase upload-certs --upload-certs --config "$SCRATCH/certs.yaml" \
      --kubeconfig "$ADMIN_CONF" --skip-certificate-key-print
  fi
fi

# --- the discovery hash ------------------------------------------------------------------------
hash=$(openssl x509 -pubkey -noout -in "$CA_CERT" | openssl pkey -pubin -outform DER | openssl dgst -sha256 -hex)
hash=${hash##* }
[[ $hash =~ ^[0-9a-f]{64}$ ]] || pbh_die 1 "could not compute the CA cert hash of /etc/kubernetes/pki/ca.crt"
pbh_emit "sha256:$hash"
