#!/usr/bin/env bash
# Print (as the last line of stdout) a directory usable as KUBEBUILDER_ASSETS: it holds
# kube-apiserver and etcd (and kubectl, symlinked from PATH when there is one).
#
#   export KUBEBUILDER_ASSETS=$(hack/envtest-bins.sh)
#
# Order:
#   1. bin/k8s/<k8s>-<os>-<arch>/ already complete        -> print it (instant; the usual case).
#   2. setup-envtest (built from its Go module into bin/) -> download release binaries. Short
#      timeout: where no download site is reachable it fails fast and we go on.
#   3. Build kube-apiserver and etcd from their Go modules through the tools modules
#      hack/tools/kube-apiserver and hack/tools/etcd into bin/k8s/<name>-v<version>/ (skipped
#      when the binary exists), then assemble bin/k8s/<k8s>-<os>-<arch>/ with symlinks.
#      Cold, on 2 cores: kube-apiserver ~9 min, etcd ~1 min (plus module downloads).
#
# bin/k8s has setup-envtest's store layout (<bin-dir>/k8s/<version>-<os>-<arch>), so
# `setup-envtest use -i --bin-dir bin` finds binaries built here and vice versa.
#
# Versions come from the tools modules' go.mod (single source of truth). Environment:
#   ENVTEST_K8S_VERSION      override the Kubernetes version (default: from hack/tools/kube-apiserver)
#   ENVTEST_NO_DOWNLOAD=1    skip the setup-envtest attempt (go straight to building)
#   SETUP_ENVTEST_VERSION    setup-envtest module version (default below)
#   SETUP_ENVTEST_TIMEOUT    seconds allowed for the download attempt (default 30)
# Progress goes to stderr. Safe to run concurrently (flock) and repeatedly.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
LOCALBIN=${LOCALBIN:-$ROOT/bin}
STORE=$LOCALBIN/k8s
SETUP_ENVTEST_VERSION=${SETUP_ENVTEST_VERSION:-v0.25.1}
SETUP_ENVTEST_TIMEOUT=${SETUP_ENVTEST_TIMEOUT:-30}

log() { printf '[envtest-bins] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# mod_version DIR MODULE: the version DIR/go.mod requires for MODULE (no network).
mod_version() {
  awk -v m="$2" '($1 == m || ($1 == "require" && $2 == m)) { v = ($1 == "require") ? $3 : $2; print v; exit }' "$1/go.mod"
}

KAS_MOD_DIR=$ROOT/hack/tools/kube-apiserver
ETCD_MOD_DIR=$ROOT/hack/tools/etcd
KUBE_VERSION=$(mod_version "$KAS_MOD_DIR" k8s.io/kubernetes)          # v1.37.2
ETCD_VERSION=$(mod_version "$ETCD_MOD_DIR" go.etcd.io/etcd/server/v3) # v3.6.8
[ -n "$KUBE_VERSION" ] || die "cannot read the k8s.io/kubernetes version from $KAS_MOD_DIR/go.mod"
[ -n "$ETCD_VERSION" ] || die "cannot read the etcd version from $ETCD_MOD_DIR/go.mod"
K8S=${ENVTEST_K8S_VERSION:-${KUBE_VERSION#v}}
GOOS=$(go env GOOS) GOARCH=$(go env GOARCH)
ASSETS=$STORE/$K8S-$GOOS-$GOARCH

complete() { [ -x "$1/kube-apiserver" ] && [ -x "$1/etcd" ]; }

link_kubectl() { # best effort: envtest does not need kubectl, humans debugging a test do
  local k
  if [ ! -e "$1/kubectl" ] && k=$(command -v kubectl 2>/dev/null); then ln -sfn "$k" "$1/kubectl"; fi
}

mkdir -p "$STORE"
if complete "$ASSETS"; then link_kubectl "$ASSETS"; echo "$ASSETS"; exit 0; fi

# One builder at a time: `go test ./...` may start several packages that all need the binaries.
exec 9>"$STORE/.lock"
if ! flock -n 9; then
  log "another envtest-bins.sh holds $STORE/.lock; waiting"
  flock 9
fi
if complete "$ASSETS"; then link_kubectl "$ASSETS"; echo "$ASSETS"; exit 0; fi

# ---- 2. setup-envtest ------------------------------------------------------------------------------
if [ "${ENVTEST_NO_DOWNLOAD:-}" != 1 ]; then
  SETUP_ENVTEST=$LOCALBIN/setup-envtest-$SETUP_ENVTEST_VERSION
  if [ ! -x "$SETUP_ENVTEST" ]; then
    log "building setup-envtest $SETUP_ENVTEST_VERSION"
    tmp=$(mktemp -d)
    if GOBIN=$tmp timeout 300 go install "sigs.k8s.io/controller-runtime/tools/setup-envtest@$SETUP_ENVTEST_VERSION" >&2; then
      mv "$tmp/setup-envtest" "$SETUP_ENVTEST"
    else
      log "could not build setup-envtest; building the binaries from source instead"
    fi
    rm -rf "$tmp"
  fi
  if [ -x "$SETUP_ENVTEST" ]; then
    log "trying setup-envtest use $K8S (timeout ${SETUP_ENVTEST_TIMEOUT}s)"
    if dir=$(timeout "$SETUP_ENVTEST_TIMEOUT" "$SETUP_ENVTEST" use "$K8S" --bin-dir "$LOCALBIN" -p path 2>/dev/null) \
      && [ -n "$dir" ] && complete "$dir"; then
      link_kubectl "$dir"
      log "using $dir (setup-envtest)"
      echo "$dir"
      exit 0
    fi
    log "setup-envtest could not provide $K8S (offline?); building from Go modules"
  fi
fi

# ---- 3. build from Go modules ----------------------------------------------------------------------
# build NAME VERSION MODDIR PKG WANT [LDFLAGS]: CGO_ENABLED=0 go build PKG inside the tools module
# MODDIR into bin/k8s/NAME-VERSION/NAME, unless a binary whose `--version` prints WANT is already
# there. Builds into a temp file first so an interrupted build never leaves a truncated binary.
build() {
  local name=$1 version=$2 moddir=$3 pkg=$4 want=$5 ldflags=${6:-} out t0=$SECONDS
  out=$STORE/$name-$version/$name
  if [ -x "$out" ] && "$out" --version 2>/dev/null | grep -qF "$want"; then
    log "$name $version: cached ($out)"; return
  fi
  mkdir -p "$(dirname "$out")"
  log "$name $version: building $pkg (kube-apiserver takes ~9 min cold on 2 cores)"
  (cd "$moddir" && CGO_ENABLED=0 go build -ldflags "$ldflags" -o "$out.tmp" "$pkg") >&2 || die "building $name failed"
  "$out.tmp" --version 2>/dev/null | grep -qF "$want" || die "$out.tmp --version does not print '$want'"
  mv "$out.tmp" "$out"
  log "$name $version: built in $((SECONDS - t0))s"
}

# What the Kubernetes release build stamps, so /version reports v1.37.2, not v0.0.0-master.
kube_ldflags() {
  local v=$1 minor pkg=k8s.io/component-base/version
  minor=${v#v*.}; minor=${minor%%.*}
  printf -- '-X %s.gitVersion=%s -X %s.gitMajor=%s -X %s.gitMinor=%s -X %s.gitTreeState=clean -X %s.buildDate=%s' \
    "$pkg" "$v" "$pkg" "$(v=${v#v}; echo "${v%%.*}")" "$pkg" "$minor" "$pkg" "$pkg" "1970-01-01T00:00:00Z"
}

[ "v$K8S" = "$KUBE_VERSION" ] \
  || die "ENVTEST_K8S_VERSION=$K8S cannot be built: hack/tools/kube-apiserver pins $KUBE_VERSION"
build etcd "$ETCD_VERSION" "$ETCD_MOD_DIR" go.etcd.io/etcd/server/v3 "etcd Version: ${ETCD_VERSION#v}"
build kube-apiserver "$KUBE_VERSION" "$KAS_MOD_DIR" k8s.io/kubernetes/cmd/kube-apiserver \
  "Kubernetes $KUBE_VERSION" "$(kube_ldflags "$KUBE_VERSION")"

mkdir -p "$ASSETS"
ln -sfn "../etcd-$ETCD_VERSION/etcd" "$ASSETS/etcd"
ln -sfn "../kube-apiserver-$KUBE_VERSION/kube-apiserver" "$ASSETS/kube-apiserver"
link_kubectl "$ASSETS"
complete "$ASSETS" || die "assembled $ASSETS is incomplete"
log "assembled $ASSETS"
echo "$ASSETS"
