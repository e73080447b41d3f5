#!/usr/bin/env bash
# End-to-end test on a kind cluster: the operator runs as a real Deployment (config/default) and
# turns a WasmExtension into a WasmPlugin, pulling the module from a registry inside the cluster.
#
#   hack/e2e-kind.sh            # or: make test-e2e;  KEEP=1 leaves the cluster running
#
# What it does:
#   1. node image: on this project's offline machines, /work/shared/kind/node-image.sh (or
#      $KIND_NODE_SCRIPT) builds wasmext.local/kind-node from Go modules and Debian packages
#      (needs root; ~15 min the first time, instant afterwards). Elsewhere $KIND_NODE_IMAGE, or
#      kind's default node image, is used.
#   2. creates the kind cluster $KIND_CLUSTER (reused if it exists).
#   3. builds the manager image with the Dockerfile. Where the Dockerfile's base images cannot be
#      pulled (no container registry reachable), it falls back to bin/manager built on the host
#      in a FROM-scratch image (E2E_IMAGE_BUILD=docker|local forces one way).
#   4. builds the CNCF distribution registry (make registry) into a FROM-scratch image; both
#      images go into the node with `kind load docker-image` (imagePullPolicy Never).
#   5. installs our CRDs and Istio's (from the istio.io/api module), deploys config/default
#      through a temporary overlay (image + imagePullPolicy Never), waits for the rollout.
#   6. runs the registry in namespace wasmext-e2e, pushes a Proxy-Wasm module to it as a CNCF
#      Wasm artifact (plain HTTP API with curl, through kubectl port-forward), applies the
#      sample extension pointed at that registry, waits for Ready and for the WasmPlugin.
#
# Honest limits: it has not been run to completion on the 2-core development VM (the node
# image build alone is ~15 min cold and needs root and a docker daemon); each step is plain
# kind/kubectl/docker usage. No istiod runs, so no Envoy loads the module: Ready here means the
# module was fetched, validated, served and the WasmPlugin was applied.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

KIND_CLUSTER=${KIND_CLUSTER:-wasmext-e2e}
KIND_NODE_SCRIPT=${KIND_NODE_SCRIPT:-$ROOT/../shared/kind/node-image.sh}
KIND_CONFIG=${KIND_CONFIG:-}
KIND_NODE_IMAGE=${KIND_NODE_IMAGE:-}
MANAGER_IMG=${MANAGER_IMG:-wasmext.local/manager:e2e}
REGISTRY_IMG=${REGISTRY_IMG:-wasmext.local/registry:e2e}
E2E_IMAGE_BUILD=${E2E_IMAGE_BUILD:-auto}
E2E_WASM=${E2E_WASM:-$ROOT/internal/wasm/wasmtest/testdata/proxy_wasm.wasm}
E2E_NS=wasmext-e2e
WORK=$ROOT/tmp/e2e
KEEP=${KEEP:-}

T0=$SECONDS
dur() { local s=$(( SECONDS - $1 )); printf '%dm%02ds' $((s / 60)) $((s % 60)); }
say() { printf '[e2e %s] %s\n' "$(dur "$T0")" "$*" >&2; }
die() { say "ERROR: $*"; exit 1; }

mkdir -p "$WORK"
export KUBECONFIG=$WORK/kubeconfig

# ---- 1. node image, tools --------------------------------------------------------------------------
if [ -z "$KIND_NODE_IMAGE" ] && [ -x "$KIND_NODE_SCRIPT" ]; then
  say "building/locating the offline kind node image with $KIND_NODE_SCRIPT"
  KIND_NODE_IMAGE=$("$KIND_NODE_SCRIPT" | tail -n 1)
  KIND_CONFIG=${KIND_CONFIG:-$(dirname "$KIND_NODE_SCRIPT")/kind-config.yaml}
  export PATH=${WASMEXT_KIND_CACHE:-/var/cache/wasmext-kind}/bin:$PATH # kind, kubectl, helm
fi
for t in docker kind kubectl curl sha256sum go; do
  command -v "$t" >/dev/null || die "$t is not on PATH"
done
docker info >/dev/null 2>&1 || die "docker daemon not reachable"

# ---- 2. cluster ------------------------------------------------------------------------------------
if kind get clusters 2>/dev/null | grep -qx "$KIND_CLUSTER"; then
  say "reusing kind cluster $KIND_CLUSTER"
  kind export kubeconfig --name "$KIND_CLUSTER" --kubeconfig "$KUBECONFIG"
else
  say "creating kind cluster $KIND_CLUSTER ${KIND_NODE_IMAGE:+(image $KIND_NODE_IMAGE)}"
  kind create cluster --name "$KIND_CLUSTER" --kubeconfig "$KUBECONFIG" --wait 120s \
    ${KIND_NODE_IMAGE:+--image "$KIND_NODE_IMAGE"} ${KIND_CONFIG:+--config "$KIND_CONFIG"}
fi
cleanup() {
  local rc=$?
  [ -z "${PF_PID:-}" ] || kill "$PF_PID" 2>/dev/null || true
  if [ $rc -ne 0 ]; then
    say "FAILED; diagnostics:"
    kubectl -n wasmext-system get pods -o wide >&2 || true
    kubectl -n wasmext-system logs deploy/wasmext-controller-manager --tail=80 >&2 || true
    kubectl -n "$E2E_NS" get wasmextensions,wasmplugins -o yaml >&2 || true
  fi
  if [ -n "$KEEP" ]; then
    say "KEEP=1: cluster left running; export KUBECONFIG=$KUBECONFIG; kind delete cluster --name $KIND_CLUSTER"
  else
    kind delete cluster --name "$KIND_CLUSTER" >/dev/null 2>&1 || true
  fi
  exit $rc
}
trap cleanup EXIT

# ---- 3. manager image ------------------------------------------------------------------------------
# Scratch image around a static binary built on the host: needs no base image from a registry.
scratch_image() { # TAG BINARY DEST ENTRYPOINT-EXTRA-ARGS-JSON [EXTRA-FILE EXTRA-DEST]
  local tag=$1 bin=$2 dest=$3 args=$4 ctx
  ctx=$(mktemp -d "$WORK/img.XXXX")
  cp "$bin" "$ctx/app"
  mkdir -p "$ctx/tmp" && chmod 1777 "$ctx/tmp"
  { echo "FROM scratch"; echo "COPY app $dest"; echo "COPY tmp /tmp"
    if [ $# -ge 6 ]; then cp "$5" "$ctx/extra"; echo "COPY extra $6"; fi
    echo "USER 65532:65532"; echo "ENTRYPOINT [\"$dest\"${args:+, $args}]"; } >"$ctx/Dockerfile"
  DOCKER_BUILDKIT=0 docker build -q -t "$tag" "$ctx" >/dev/null
  rm -rf "$ctx"
}
build_manager_local() {
  say "building bin/manager on the host into a FROM-scratch image $MANAGER_IMG"
  CGO_ENABLED=0 go build -o bin/manager .
  scratch_image "$MANAGER_IMG" bin/manager /manager ""
}
case $E2E_IMAGE_BUILD in
  docker) say "docker build -t $MANAGER_IMG ."; docker build -t "$MANAGER_IMG" . ;;
  local) build_manager_local ;;
  auto)
    say "docker build -t $MANAGER_IMG ."
    if ! docker build -t "$MANAGER_IMG" . >"$WORK/docker-build.log" 2>&1; then
      tail -n 5 "$WORK/docker-build.log" >&2
      say "docker build failed (base images not pullable offline?); falling back to a host build"
      build_manager_local
    fi ;;
  *) die "E2E_IMAGE_BUILD must be auto, docker or local" ;;
esac

# ---- 4. registry image, load ------------------------------------------------------------------------
say "building the distribution registry (make registry)"
make -s registry >&2
cat >"$WORK/registry-config.yml" <<'EOF'
version: 0.1
storage:
  filesystem:
    rootdirectory: /tmp/registry
  delete:
    enabled: true
http:
  addr: :5000
EOF
scratch_image "$REGISTRY_IMG" "$(readlink -f bin/registry)" /registry '"serve", "/etc/registry.yml"' \
  "$WORK/registry-config.yml" /etc/registry.yml
say "loading images into the node"
kind load docker-image --name "$KIND_CLUSTER" "$MANAGER_IMG" "$REGISTRY_IMG" >&2

# ---- 5. CRDs and operator ---------------------------------------------------------------------------
say "installing CRDs (ours and Istio's)"
kubectl apply --server-side -f config/crd/bases >&2
ISTIO_API_DIR=$(go list -m -f '{{.Dir}}' istio.io/api)
[ -n "$ISTIO_API_DIR" ] || { go mod download istio.io/api; ISTIO_API_DIR=$(go list -m -f '{{.Dir}}' istio.io/api); }
kubectl apply --server-side -f "$ISTIO_API_DIR/kubernetes/customresourcedefinitions.gen.yaml" >/dev/null
kubectl wait --for=condition=Established --timeout=60s \
  crd/wasmextensions.wasmext.io crd/wasmplugins.extensions.istio.io >&2

say "deploying config/default with $MANAGER_IMG"
OVERLAY=$WORK/overlay
rm -rf "$OVERLAY" && mkdir -p "$OVERLAY"
cat >"$OVERLAY/kustomization.yaml" <<EOF
resources:
- ../../../config/default
images:
- name: controller
  newName: ${MANAGER_IMG%:*}
  newTag: ${MANAGER_IMG##*:}
patches:
- target: {kind: Deployment, name: wasmext-controller-manager}
  patch: |-
    - op: add
      path: /spec/template/spec/containers/0/imagePullPolicy
      value: Never
EOF
kubectl kustomize "$OVERLAY" | kubectl apply --server-side -f - >&2
kubectl -n wasmext-system rollout status deploy/wasmext-controller-manager --timeout=180s >&2

# ---- 6. registry, module, sample --------------------------------------------------------------------
say "starting the registry in namespace $E2E_NS"
kubectl apply --server-side -f - >&2 <<EOF
apiVersion: v1
kind: Namespace
metadata: {name: $E2E_NS}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: registry, namespace: $E2E_NS}
spec:
  selector: {matchLabels: {app: registry}}
  template:
    metadata: {labels: {app: registry}}
    spec:
      containers:
      - name: registry
        image: $REGISTRY_IMG
        imagePullPolicy: Never
        ports: [{containerPort: 5000}]
        readinessProbe: {httpGet: {path: /v2/, port: 5000}}
        volumeMounts: [{name: data, mountPath: /tmp}]
      volumes: [{name: data, emptyDir: {}}]
---
apiVersion: v1
kind: Service
metadata: {name: registry, namespace: $E2E_NS}
spec:
  selector: {app: registry}
  ports: [{port: 5000, targetPort: 5000}]
EOF
kubectl -n "$E2E_NS" rollout status deploy/registry --timeout=120s >&2

PF_PORT=${E2E_PF_PORT:-15000}
kubectl -n "$E2E_NS" port-forward svc/registry "$PF_PORT:5000" >"$WORK/port-forward.log" 2>&1 &
PF_PID=$!
for _ in $(seq 50); do curl -fsS "http://127.0.0.1:$PF_PORT/v2/" >/dev/null 2>&1 && break; sleep 0.2; done

# push_blob REPO FILE: monolithic blob upload; prints the digest.
push_blob() {
  local repo=$1 file=$2 base=http://127.0.0.1:$PF_PORT digest loc
  digest=sha256:$(sha256sum "$file" | cut -d' ' -f1)
  loc=$(curl -fsS -X POST -D - -o /dev/null "$base/v2/$repo/blobs/uploads/" | tr -d '\r' | awk -F': ' 'tolower($1)=="location" {print $2}')
  [ -n "$loc" ] || die "registry gave no upload location"
  case $loc in /*) loc=$base$loc ;; esac
  case $loc in *\?*) loc="$loc&digest=$digest" ;; *) loc="$loc?digest=$digest" ;; esac
  curl -fsS -X PUT -H 'Content-Type: application/octet-stream' --data-binary "@$file" "$loc" >/dev/null
  echo "$digest"
}
[ -f "$E2E_WASM" ] || die "no Wasm module at $E2E_WASM (set E2E_WASM)"
REPO=wasmext/add-header TAG=1.0.0
say "pushing $E2E_WASM as $REPO:$TAG (CNCF Wasm artifact)"
layer=$(push_blob "$REPO" "$E2E_WASM")
printf '{"architecture":"wasm","os":"wasip1","layerDigests":["%s"]}' "$layer" >"$WORK/config.json"
config=$(push_blob "$REPO" "$WORK/config.json")
cat >"$WORK/manifest.json" <<EOF
{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",
 "config":{"mediaType":"application/vnd.wasm.config.v0+json","digest":"$config","size":$(stat -c %s "$WORK/config.json")},
 "layers":[{"mediaType":"application/wasm","digest":"$layer","size":$(stat -c %s "$E2E_WASM")}]}
EOF
curl -fsS -X PUT -H 'Content-Type: application/vnd.oci.image.manifest.v1+json' \
  --data-binary "@$WORK/manifest.json" "http://127.0.0.1:$PF_PORT/v2/$REPO/manifests/$TAG" >/dev/null

say "applying the sample, pointed at the in-cluster registry"
sed "s|localhost:5000/|registry.$E2E_NS.svc.cluster.local:5000/|" config/samples/wasmext_v1alpha1_wasmextension.yaml \
  | kubectl -n "$E2E_NS" apply --server-side -f - >&2
kubectl -n "$E2E_NS" wait --for=condition=Ready --timeout=180s wasmextension/add-header >&2
kubectl -n "$E2E_NS" get wasmplugins.extensions.istio.io -o name | grep -q . \
  || die "the extension is Ready but no WasmPlugin exists in $E2E_NS"
kubectl -n "$E2E_NS" get wasmextension/add-header -o wide >&2
say "PASS"
