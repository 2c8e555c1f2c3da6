#!/usr/bin/env bash
# The laptop cluster of the local stack: kind with a registry beside it.
#
#   tools/local-cluster.sh ensure   # a usable kubectl context is used as it is; without one, create
#                                   # the kind cluster (tools/kind-cluster.yaml) and its registry
#   tools/local-cluster.sh ready    # wait until the hub answers through the ingress, then say where
#   tools/local-cluster.sh delete   # delete the kind cluster and its registry (every local user's files)
#   tools/local-cluster.sh evidence DIR   # what went wrong, into DIR: events, resources, every pod's logs
#
# The registry is kind's local-registry setup: a registry:2 container named kind-registry on kind's
# Docker network (builds push to kind-registry:5000, the nodes' containerd pulls from it over plain
# HTTP), published on the host at 127.0.0.1:5001, and announced in the local-registry-hosting
# ConfigMap. Every step is skipped when it is done already.
set -euo pipefail
cd "$(dirname "$0")/.."

CLUSTER=persistent-binderhub
REGISTRY=kind-registry
REGISTRY_PORT=5000
HOST_PORT=5001
READY_TIMEOUT=${READY_TIMEOUT:-600}

say() { printf '%s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

usable_context() {
  kubectl config current-context >/dev/null 2>&1 && kubectl cluster-info --request-timeout=5s >/dev/null 2>&1
}

ensure() {
  if usable_context; then
    say "Using kubectl's current context, $(kubectl config current-context)."
    return 0
  fi
  if ! { command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; }; then
    die "kubectl has no cluster to use, and Docker is not running to make one: start Docker" \
      "(make up then creates a kind cluster), or point kubectl at a cluster"
  fi
  command -v kind >/dev/null 2>&1 || die "kind is not installed: https://kind.sigs.k8s.io/docs/user/quick-start/#installation"
  if ! docker inspect "$REGISTRY" >/dev/null 2>&1; then
    say "Starting the registry $REGISTRY (on the host at 127.0.0.1:$HOST_PORT)."
    docker run -d --restart=always -p "127.0.0.1:$HOST_PORT:$REGISTRY_PORT" --network bridge \
      --name "$REGISTRY" registry:2 >/dev/null
  fi
  if ! kind get clusters 2>/dev/null | grep -qx "$CLUSTER"; then
    say "Creating the kind cluster $CLUSTER."
    kind create cluster --config tools/kind-cluster.yaml
  fi
  local node hosts="[host.\"http://$REGISTRY:$REGISTRY_PORT\"]"
  for node in $(kind get nodes --name "$CLUSTER"); do
    docker exec "$node" mkdir -p "/etc/containerd/certs.d/$REGISTRY:$REGISTRY_PORT"
    printf '%s\n' "$hosts" \
      | docker exec -i "$node" cp /dev/stdin "/etc/containerd/certs.d/$REGISTRY:$REGISTRY_PORT/hosts.toml"
  done
  if [[ $(docker inspect -f '{{json .NetworkSettings.Networks.kind}}' "$REGISTRY") == null ]]; then
    docker network connect kind "$REGISTRY"
  fi
  kubectl --context "kind-$CLUSTER" apply -f - >/dev/null <<YAML
apiVersion: v1
kind: ConfigMap
metadata:
  name: local-registry-hosting
  namespace: kube-public
data:
  localRegistryHosting.v1: |
    host: "localhost:$HOST_PORT"
    help: "https://kind.sigs.k8s.io/docs/user/local-registry/"
YAML
  kubectl config use-context "kind-$CLUSTER" >/dev/null
  say "The kind cluster $CLUSTER is ready, with its registry $REGISTRY:$REGISTRY_PORT."
}

ready() {
  local host deadline
  host=$(sed -n -E 's/^[[:space:]]+hub:[[:space:]]*([^[:space:]#]+).*/\1/p' stacks/Pulumi.local.yaml | head -n 1)
  [[ -n $host ]] || die "stacks/Pulumi.local.yaml names no hub domain (persistent-binderhub:domains: hub:)"
  deadline=$((SECONDS + READY_TIMEOUT))
  say "Waiting for the hub at http://$host/ ..."
  until curl -fsS -o /dev/null --max-time 5 -H "Host: $host" "http://127.0.0.1/hub/health"; do
    ((SECONDS < deadline)) \
      || die "the hub did not answer at http://$host/ within ${READY_TIMEOUT}s: see kubectl -n binderhub get pods"
    sleep 5
  done
  say "The persistent BinderHub is up: http://$host/ (sign in with any name: the local stack's dummy authenticator)."
}

delete() {
  if command -v kind >/dev/null 2>&1 && kind get clusters 2>/dev/null | grep -qx "$CLUSTER"; then
    kind delete cluster --name "$CLUSTER"
  fi
  if command -v docker >/dev/null 2>&1 && docker inspect "$REGISTRY" >/dev/null 2>&1; then
    docker rm -f "$REGISTRY" >/dev/null
  fi
  say "The kind cluster $CLUSTER and its registry are gone."
}

# Everything is collected that can be: one missing piece (a pod gone meanwhile) never stops the rest.
evidence() {
  local dir=$1 namespace pod
  mkdir -p "$dir/logs"
  kubectl get events --all-namespaces --sort-by=.lastTimestamp >"$dir/events.txt" 2>&1 || true
  kubectl get nodes,pods,pvc,services,ingresses --all-namespaces -o wide >"$dir/resources.txt" 2>&1 || true
  kubectl describe pods --all-namespaces >"$dir/pods-described.txt" 2>&1 || true
  kubectl get pods --all-namespaces --no-headers -o custom-columns=NAMESPACE:.metadata.namespace,NAME:.metadata.name \
    2>/dev/null | while read -r namespace pod; do
    # init containers included: the project's volume preparation runs there
    kubectl logs --namespace "$namespace" "$pod" --all-containers --prefix --tail=5000 \
      >"$dir/logs/$namespace.$pod.log" 2>&1 || true
  done
  say "The local cluster's events, resources and pod logs are in $dir."
}

case ${1:-} in
  ensure) ensure ;;
  ready) ready ;;
  delete) delete ;;
  evidence) [[ -n ${2:-} ]] || { say "usage: tools/local-cluster.sh evidence DIR"; exit 2; }; evidence "$2" ;;
  *) say "usage: tools/local-cluster.sh ensure|ready|delete|evidence DIR"; exit 2 ;;
esac
