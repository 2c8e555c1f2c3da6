#!/usr/bin/env bash
# Undo kubeadm init/join on this host (a removed node): `kubeadm reset -f`, then the CNI
# configuration kubeadm leaves behind and this project's kubeadm config files. The packages
# prepare-node.sh installed stay, so the host can join again.
#
# stdin:  nothing (no parameters; empty input).
# stdout: nothing.
#
# A host that is not joined (no kubelet.conf, admin.conf or static pod manifests): nothing to do.
# For a control plane, run it while the rest of the cluster is reachable: kubeadm reset removes
# the host's etcd member.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

pbh_read_params
pbh_start

joined=0
for file in /etc/kubernetes/kubelet.conf /etc/kubernetes/admin.conf \
  /etc/kubernetes/manifests/kube-apiserver.yaml /etc/kubernetes/manifests/etcd.yaml; do
  if [[ -e $(pbh_path "$file") ]]; then joined=1; fi
done
if ((joined == 0)); then
  pbh_log "not joined to a cluster: nothing to do"
  exit 0
fi

pbh_log "resetting this node"
pbh_reset_node
pbh_log "node reset (iptables/IPVS rules the CNI or kube-proxy left are not touched)"
