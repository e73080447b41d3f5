#!/usr/bin/env bash
# End-to-end test on a kind cluster: the image the Dockerfile builds, installed with the Helm chart
# (charts/wasmext, 2 replicas, leader election), turns WasmExtensions into WasmPlugins, pulling
# modules from a registry inside the cluster and serving them from its module server.
#
#   hack/e2e-kind.sh        # or: make test-e2e;  KEEP=1 leaves the cluster running
#
# Steps (each timed; the durations and the total are printed at the end):
#   1. cluster: kind create cluster (single node), node Ready. On this project's offline machines
#      $KIND_NODE_SCRIPT (../shared/kind/node-image.sh) prints the node image to use and the
#      kind-config; elsewhere $KIND_NODE_IMAGE, or kind's default image, is used.
#   2. images: `make docker-build BASE_IMAGE=scratch` (the Dockerfile: static manager + CA
#      certificates), the CNCF registry (`make registry`) and the tiny client (test/e2e/client),
#      both FROM scratch; all `kind load docker-image`ed (imagePullPolicy Never).
#   3. dns: CoreDNS Ready and kubernetes.default resolved from a pod, before any extension.
#   4. operator: Istio's CRDs (from the istio.io/api module) and `helm install` of the chart;
#      rollout, one Lease holder among the 2 replicas.
#   5. registry: the registry with htpasswd auth in namespace wasmext-e2e; modules pushed through
#      kubectl port-forward by test/e2e/push (ocitest.Push), one signed with a new cosign key.
#   6. scenarios (hack/e2e/scenarios.sh): Ready with a Cache-delivered WasmPlugin whose sha256 is
#      the module's; a pull Secret and a signed module Ready, no credentials Unauthorized; the
#      module server fetched from another pod through its Service; a tag moved to a module that
#      is not Proxy-Wasm keeps the last-known-good WasmPlugin (Stalled NotProxyWasm); `helm
#      upgrade` keeps every rendered object (same UID, never deleted); `helm uninstall` leaves
#      only the CRDs.
#
# No istiod runs, so no Envoy loads the modules: the client Job plays the proxy's fetch.
# Needs docker, kind, kubectl, helm (else `make helm`), go; root on the offline machines.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

KIND_CLUSTER=${KIND_CLUSTER:-wasmext-e2e}
KIND_NODE_SCRIPT=${KIND_NODE_SCRIPT:-$ROOT/../shared/kind/node-image.sh}
KIND_NODE_IMAGE=${KIND_NODE_IMAGE:-}
KIND_CONFIG=${KIND_CONFIG:-}
MANAGER_IMG=${MANAGER_IMG:-wasmext.local/wasmext:e2e}
REGISTRY_IMG=${REGISTRY_IMG:-wasmext.local/registry:e2e}
CLIENT_IMG=${CLIENT_IMG:-wasmext.local/e2e-client:e2e}
KEEP=${KEEP:-}
E2E_NS=wasmext-e2e
OP_NS=wasmext-system
RELEASE=wasmext
REGISTRY=registry.$E2E_NS.svc.cluster.local:5000
REG_USER=e2e
REG_PASSWORD=wasmext-e2e-pull # test/e2e/testdata/htpasswd holds its bcrypt hash
MODULE_SERVER_URL=http://$RELEASE-modules.$OP_NS.svc:8082 # the chart's default moduleServer.url
MANIFESTS=$ROOT/test/e2e/manifests
WORK=$ROOT/tmp/e2e

# shellcheck source=e2e/lib.sh
. "$ROOT/hack/e2e/lib.sh"
# shellcheck source=e2e/scenarios.sh
. "$ROOT/hack/e2e/scenarios.sh"

rm -rf "$WORK" && mkdir -p "$WORK"
export KUBECONFIG=$WORK/kubeconfig

# ---- 0. tools ----------------------------------------------------------------------------------
tools() {
  if [ -z "$KIND_NODE_IMAGE" ] && [ -x "$KIND_NODE_SCRIPT" ]; then
    say "offline node image: $KIND_NODE_SCRIPT"
    KIND_NODE_IMAGE=$("$KIND_NODE_SCRIPT" | tail -n 1)
    KIND_CONFIG=${KIND_CONFIG:-$(dirname "$KIND_NODE_SCRIPT")/kind-config.yaml}
    export PATH=${WASMEXT_KIND_CACHE:-/var/cache/wasmext-kind}/bin:$PATH # kind, kubectl, helm
    say "node image $KIND_NODE_IMAGE, config $KIND_CONFIG"
  fi
  if ! command -v helm >/dev/null; then
    make -s helm >&2
    export PATH=$ROOT/bin:$PATH
  fi
  local t
  for t in docker kind kubectl helm go; do command -v "$t" >/dev/null || die "$t is not on PATH"; done
  docker info >/dev/null 2>&1 || die "docker daemon not reachable"
}

# ---- 1. cluster ---------------------------------------------------------------------------------
create_cluster() {
  if [ "$(kind get clusters 2>/dev/null | grep -cx "$KIND_CLUSTER")" -gt 0 ]; then
    say "deleting the existing kind cluster $KIND_CLUSTER"
    logged kind-delete kind delete cluster --name "$KIND_CLUSTER"
  fi
  say "kind create cluster $KIND_CLUSTER ${KIND_NODE_IMAGE:+(image $KIND_NODE_IMAGE)}"
  logged kind-create kind create cluster --name "$KIND_CLUSTER" --kubeconfig "$KUBECONFIG" --wait 120s \
    ${KIND_NODE_IMAGE:+--image "$KIND_NODE_IMAGE"} ${KIND_CONFIG:+--config "$KIND_CONFIG"}
  kubectl wait --for=condition=Ready node --all --timeout=120s >&2
}

cleanup() {
  local rc=$? pid
  for pid in "${PF_PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  [ $rc -eq 0 ] || diagnostics
  durations
  if [ -n "$KEEP" ]; then
    say "KEEP=1: cluster left running: export KUBECONFIG=$KUBECONFIG; kind delete cluster --name $KIND_CLUSTER"
  else
    kind delete cluster --name "$KIND_CLUSTER" >/dev/null 2>&1 || true
  fi
  [ $rc -eq 0 ] && say "PASS" || say "FAIL (exit $rc)"
  exit $rc
}

# ---- 2. images ----------------------------------------------------------------------------------
# scratch_image TAG DOCKERFILE FILE...: docker build of DOCKERFILE with the FILEs as its context.
scratch_image() {
  local tag=$1 dockerfile=$2 ctx; shift 2
  ctx=$(mktemp -d "$WORK/image.XXXX")
  cp -L "$@" "$ctx/"
  docker build -t "$tag" -f "$dockerfile" "$ctx" >"$ctx.log" 2>&1 \
    || { tail -n 20 "$ctx.log" >&2; die "docker build -f $dockerfile failed"; }
  rm -rf "$ctx"
}

# check_image_files IMAGE PATH...: IMAGE holds exactly the files PATH... (and their directories).
check_image_files() {
  local img=$1 id files; shift
  id=$(docker create "$img")
  files=$(docker export "$id" | tar -t | grep -v '/$' | grep -vxE '\.dockerenv|(dev|proc|sys)/.*|etc/(hosts|hostname|resolv\.conf|mtab)' || true)
  docker rm "$id" >/dev/null
  [ "$(echo "$files" | sort)" = "$(printf '%s\n' "$@" | sort)" ] || die "$img holds $(echo "$files" | xargs), want $*"
}

build_images() {
  say "operator: make docker-build IMG=$MANAGER_IMG BASE_IMAGE=scratch (the Dockerfile)"
  logged docker-build make -s docker-build IMG="$MANAGER_IMG" BASE_IMAGE=scratch
  check_image_files "$MANAGER_IMG" manager etc/ssl/certs/ca-certificates.crt
  say "registry: make registry, image $REGISTRY_IMG"
  make -s registry >&2
  scratch_image "$REGISTRY_IMG" test/e2e/images/registry.Dockerfile bin/registry "$MANIFESTS/registry-config.yml"
  say "client: test/e2e/client, image $CLIENT_IMG; pusher test/e2e/push on the host"
  CGO_ENABLED=0 go build -trimpath -ldflags=-s -o "$WORK/client" ./test/e2e/client
  scratch_image "$CLIENT_IMG" test/e2e/images/client.Dockerfile "$WORK/client"
  go build -o "$WORK/push" ./test/e2e/push
}

load_images() {
  logged kind-load kind load docker-image --name "$KIND_CLUSTER" "$MANAGER_IMG" "$REGISTRY_IMG" "$CLIENT_IMG"
}

# ---- 3. cluster DNS -----------------------------------------------------------------------------
wait_dns() {
  kubectl -n kube-system rollout status deploy/coredns --timeout=180s >/dev/null
  kubectl -n kube-system wait --for=condition=Ready pod -l k8s-app=kube-dns --timeout=180s >&2
  apply "$MANIFESTS/namespace.yaml" NS="$E2E_NS"
  # CoreDNS answers for kubernetes.default only once it has synced with the apiserver.
  client_job dns lookup -timeout 150s kubernetes.default.svc.cluster.local || die "cluster DNS does not answer"
}

# ---- 4. operator --------------------------------------------------------------------------------
install_istio_crds() {
  local dir
  dir=$(go list -m -f '{{.Dir}}' istio.io/api)
  [ -n "$dir" ] || { go mod download istio.io/api; dir=$(go list -m -f '{{.Dir}}' istio.io/api); }
  kubectl apply --server-side -f "$dir/kubernetes/customresourcedefinitions.gen.yaml" >/dev/null
  kubectl wait --for=condition=Established --timeout=60s crd/wasmplugins.extensions.istio.io >&2
}

# helm_values: the chart values of the e2e (the image under test, no pulls, this registry only).
helm_values() {
  cat <<EOF
image: {repository: ${MANAGER_IMG%:*}, tag: ${MANAGER_IMG##*:}, pullPolicy: Never}
replicaCount: 2
policy:
  allowedRegistries: [$REGISTRY]
  insecureRegistries: [$REGISTRY]
  sigstoreTUF: false   # no egress here; keys come from Secrets
secretNamespaces: [$E2E_NS]
clusterWideSecrets: false
log: {level: debug}
EOF
}

install_operator() {
  install_istio_crds
  helm_values >"$WORK/values.yaml"
  local kv
  kv=$(kubectl get --raw /version | sed -n 's/.*"gitVersion": *"\([^"]*\)".*/\1/p')
  helm template "$RELEASE" charts/wasmext -n "$OP_NS" -f "$WORK/values.yaml" --kube-version "$kv" >"$WORK/rendered.yaml"
  say "helm install $RELEASE charts/wasmext -n $OP_NS ($(grep -c '^kind:' "$WORK/rendered.yaml") objects)"
  logged helm-install helm install "$RELEASE" charts/wasmext -n "$OP_NS" --create-namespace \
    -f "$WORK/values.yaml" --wait --timeout 4m
  sed -n '/^NOTES:/{n;p}' "$WORK/helm-install.log" >&2
  kubectl -n "$OP_NS" rollout status "deploy/$RELEASE" --timeout=180s >&2
  kubectl wait --for=condition=Established --timeout=60s crd/wasmextensions.wasmext.io >&2
  check_leader
}

# ---- 5. registry and modules --------------------------------------------------------------------
start_registry() {
  kubectl -n "$E2E_NS" create secret generic registry-htpasswd \
    --from-file=htpasswd=test/e2e/testdata/htpasswd >&2
  apply "$MANIFESTS/registry.yaml" NS="$E2E_NS" REGISTRY_IMG="$REGISTRY_IMG"
  kubectl -n "$E2E_NS" rollout status deploy/registry --timeout=120s >/dev/null
  port_forward registry 5000
  PUSH=("$WORK/push" -registry "127.0.0.1:$PF_PORT" -user "$REG_USER" -password "$REG_PASSWORD")
  read -r _ MODULE_SHA < <("${PUSH[@]}" -ref wasmext/add-header:1.0.0 -module proxy-wasm)
  read -r SIGNED_DIGEST SIGNED_SHA < <("${PUSH[@]}" -ref wasmext/signed:1.0.0 -module proxy-wasm-v2 \
    -sign-public-key "$WORK/cosign.pub")
  [ -n "$MODULE_SHA" ] && [ -n "$SIGNED_SHA" ] || die "the pusher printed no digests"
  say "pushed add-header:1.0.0 (sha256 $MODULE_SHA), signed:1.0.0 ($SIGNED_DIGEST, signed)"
  kubectl -n "$E2E_NS" create secret docker-registry regcred --docker-server="$REGISTRY" \
    --docker-username="$REG_USER" --docker-password="$REG_PASSWORD" >&2
  kubectl -n "$E2E_NS" create secret generic cosign-key --from-file=cosign.pub="$WORK/cosign.pub" >&2
}

main() {
  trap cleanup EXIT
  trap 'exit 130' INT TERM # through cleanup
  step "tools, node image" tools
  step "1. cluster" create_cluster
  step "2. images (build)" build_images
  step "2. images (kind load)" load_images
  step "3. cluster DNS" wait_dns
  step "4. Istio CRDs, helm install" install_operator
  step "5. registry, push, sign" start_registry
  step "6a. Ready, Cache, pull Secret, signed" scenario_ready
  step "6b. module server from a pod" scenario_module_server
  step "6c. tag moved to a broken module" scenario_broken_tag
  step "6d. helm upgrade" scenario_upgrade
  step "6e. helm uninstall" scenario_uninstall
}

main "$@"
