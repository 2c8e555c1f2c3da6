#!/usr/bin/env bash
# Prepare a host for kubeadm (every host, before init or join).
#
# stdin:  KUBERNETES_VERSION=1.31.4              the cluster's Kubernetes version (X.Y.Z, 1.x)
#         KUBERNETES_PACKAGE_REVISION=1.1        optional: the pkgs.k8s.io package revision
# stdout: nothing.
#
# Kernel modules overlay and br_netfilter, the bridge/forwarding sysctls, swap off (now and in
# /etc/fstab), containerd with the systemd cgroup driver, the pkgs.k8s.io apt repository of the
# version's minor, and kubeadm, kubelet and kubectl pinned to <version>-<revision> and held.
# Every step checks first: a second run with the same version changes nothing and installs
# nothing. With a newer version only kubeadm is upgraded here (one minor at a time); the kubelet
# and kubectl follow in init-control-plane.sh / join-node.sh, after `kubeadm upgrade`.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

pbh_param KUBERNETES_VERSION "$PBH_RE_VERSION"
pbh_param KUBERNETES_PACKAGE_REVISION '[0-9]{1,3}(\.[0-9]{1,3}){0,2}' optional
pbh_read_params
pbh_start

VERSION=$KUBERNETES_VERSION
REVISION=${KUBERNETES_PACKAGE_REVISION:-1.1}
PKG_PIN="$VERSION-$REVISION"
MINOR="v1.$(pbh_minor "$VERSION")"
REPO_URL="https://pkgs.k8s.io/core:/stable:/$MINOR/deb/"
KEYRING="/etc/apt/keyrings/kubernetes-$MINOR.asc"  # apt reads armored keys from .asc files
APT_UPDATED=0

apt_update_once() {
  if ((APT_UPDATED == 0)); then
    pbh_run apt-get -q -o DPkg::Lock::Timeout=600 update
    APT_UPDATED=1
  fi
}

# --- first, what kubeadm/kubelet/kubectl need (refused before anything changes) -----------------
install=()
pbh_pkg kubeadm
if ((PKG_INSTALLED)); then
  have=$(pbh_upstream "$PKG_VERSION")
  if pbh_upgrade_needed kubeadm "$have" "$VERSION"; then
    pbh_log "kubeadm $have -> $VERSION (kubelet and kubectl follow after kubeadm upgrade)"
    install+=("kubeadm=$PKG_PIN")
  fi
else
  install+=("kubeadm=$PKG_PIN")
fi
for pkg in kubelet kubectl; do
  pbh_pkg "$pkg"
  if ((!PKG_INSTALLED)); then
    install+=("$pkg=$PKG_PIN")
  elif [[ $(pbh_version_cmp "$(pbh_upstream "$PKG_VERSION")" "$VERSION") == 1 ]]; then
    pbh_die 3 "$pkg $PKG_VERSION is newer than $VERSION: downgrades are not supported"
  fi
done

# --- kernel modules ------------------------------------------------------------------------------
printf '%s\n' "# Written by persistent-binderhub prepare-node.sh: needed by containerd and kube-proxy." \
  overlay br_netfilter | pbh_write "$(pbh_path /etc/modules-load.d/persistent-binderhub-kubernetes.conf)" 644
if ((PBH_CHANGED)); then pbh_log "kernel modules overlay, br_netfilter: loaded at boot from now on"; fi
for module in overlay br_netfilter; do
  if [[ ! -d $(pbh_path "/sys/module/$module") ]]; then
    pbh_run modprobe "$module"
  fi
done

# --- sysctls -------------------------------------------------------------------------------------
declare -A SYSCTLS=(
  [net.bridge.bridge-nf-call-iptables]=1
  [net.bridge.bridge-nf-call-ip6tables]=1
  [net.ipv4.ip_forward]=1
)
{
  echo "# Written by persistent-binderhub prepare-node.sh: Kubernetes networking."
  for key in net.bridge.bridge-nf-call-iptables net.bridge.bridge-nf-call-ip6tables net.ipv4.ip_forward; do
    echo "$key = ${SYSCTLS[$key]}"
  done
} | pbh_write "$(pbh_path /etc/sysctl.d/90-persistent-binderhub-kubernetes.conf)" 644
sysctls_ok() {
  local key value
  for key in "${!SYSCTLS[@]}"; do
    value=$(cat "$(pbh_path "/proc/sys/${key//.//}")" 2>/dev/null) || return 1
    [[ $value == "${SYSCTLS[$key]}" ]] || return 1
  done
}
if ((PBH_CHANGED)) || ! sysctls_ok; then
  pbh_run sysctl --system
  sysctls_ok || pbh_die 1 "the sysctls ${!SYSCTLS[*]} are not all 1 after sysctl --system (overridden elsewhere?)"
fi

# --- swap ----------------------------------------------------------------------------------------
swaps=$(pbh_path /proc/swaps)
if [[ -f $swaps ]] && (($(wc -l <"$swaps") > 1)); then
  pbh_run swapoff -a
fi
fstab=$(pbh_path /etc/fstab)
if [[ -f $fstab ]]; then
  awk '!/^[[:space:]]*#/ && $3 == "swap" { print "# swap off for the kubelet (persistent-binderhub): " $0; next } { print }' \
    "$fstab" | pbh_write "$fstab" "$(stat -c %a "$fstab")"
  if ((PBH_CHANGED)); then pbh_log "swap entries in /etc/fstab commented out"; fi
fi

# --- packages: containerd, the NFS client (user volumes), what the repository setup needs ----------
missing=()
for pkg in containerd nfs-common ca-certificates curl; do
  pbh_pkg "$pkg"
  ((PKG_INSTALLED)) || missing+=("$pkg")
done
if ((${#missing[@]} > 0)); then
  apt_update_once
  pbh_apt_install "${missing[@]}"
fi

# --- the Kubernetes apt repository of this minor --------------------------------------------------
if [[ ! -s $(pbh_path "$KEYRING") ]]; then
  mkdir -p "$(pbh_path /etc/apt/keyrings)"
  key_tmp=$(mktemp "$(pbh_path /etc/apt/keyrings)/.kubernetes.XXXXXX")
  pbh_run curl -fsSL --retry 3 --proto =https -o "$key_tmp" "${REPO_URL}Release.key"
  grep -q -- '-----BEGIN PGP PUBLIC KEY BLOCK-----' "$key_tmp" \
    || { rm -f "$key_tmp"; pbh_die 1 "${REPO_URL}Release.key is not an armored OpenPGP key"; }
  chmod 644 "$key_tmp"
  mv -f "$key_tmp" "$(pbh_path "$KEYRING")"
  pbh_log "apt key for $MINOR saved in $KEYRING"
fi
echo "deb [signed-by=$KEYRING] $REPO_URL /" \
  | pbh_write "$(pbh_path /etc/apt/sources.list.d/kubernetes.list)" 644
if ((PBH_CHANGED)); then
  pbh_log "apt repository: $REPO_URL"
  APT_UPDATED=0  # the new repository needs an update before anything is installed from it
fi

# --- kubeadm, kubelet, kubectl ------------------------------------------------------------------
if ((${#install[@]} > 0)); then
  apt_update_once
  pbh_apt_install --allow-change-held-packages "${install[@]}"
fi
unheld=()
for pkg in kubeadm kubelet kubectl; do
  pbh_pkg "$pkg"
  ((PKG_HELD)) || unheld+=("$pkg")
done
if ((${#unheld[@]} > 0)); then
  pbh_run apt-mark hold "${unheld[@]}"
fi

# --- containerd: systemd cgroups, the pause image kubeadm expects ----------------------------------
config=$(pbh_path /etc/containerd/config.toml)
if [[ -f $config ]] && grep -q 'SystemdCgroup = ' "$config"; then
  current=$(cat "$config")
else
  current=$(containerd config default)  # Debian's own file is a stub without the CRI runtime section
fi
pause=$(kubeadm config images list --kubernetes-version "v$VERSION" 2>/dev/null | grep -m1 '/pause:' || true)
[[ $pause =~ ^[a-z0-9._/-]+:[A-Za-z0-9._-]+$ ]] || pause=""
desired=$(sed -E 's/SystemdCgroup = false/SystemdCgroup = true/' <<<"$current")
if [[ -n $pause ]]; then
  desired=$(sed -E "s|^([[:space:]]*sandbox_image = ).*|\\1\"$pause\"|" <<<"$desired")
fi
grep -q 'SystemdCgroup = true' <<<"$desired" \
  || pbh_die 1 "cannot set SystemdCgroup = true in /etc/containerd/config.toml: no runc options section"
printf '%s\n' "$desired" | pbh_write "$config" 644
if ((PBH_CHANGED)); then
  pbh_log "containerd: SystemdCgroup = true${pause:+, sandbox image $pause}"
  pbh_run systemctl restart containerd
fi
for unit in containerd kubelet; do
  systemctl is-enabled --quiet "$unit" || pbh_run systemctl enable "$unit"
done
systemctl is-active --quiet containerd || pbh_run systemctl start containerd

pbh_log "node prepared for Kubernetes $VERSION"
