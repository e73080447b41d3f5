# Scenarios of hack/e2e-kind.sh (sourced, not run), against the operator installed by the chart.
# Each dies at the first broken expectation, naming it. Uses the script's E2E_NS, OP_NS, RELEASE,
# MODULE_SERVER_URL, MODULE_SHA, SIGNED_SHA, PUSH and the helpers of hack/e2e/lib.sh.

WP=wasmplugins.extensions.istio.io
LEASE=lease/wasmext.wasmext.io # main.go's LeaderElectionID

# operator_pods: the names of the operator's pods that are not being deleted.
operator_pods() {
  kubectl -n "$OP_NS" get pods -l "app.kubernetes.io/instance=$RELEASE" -o go-template \
    --template='{{range .items}}{{if not .metadata.deletionTimestamp}}{{.metadata.name}}{{"\n"}}{{end}}{{end}}'
}

# leader_is_one_of POD...: the Lease is held by one of PODs (holderIdentity is <pod>_<uuid>).
leader_is_one_of() {
  local holder p
  holder=$(jp "$LEASE" '{.spec.holderIdentity}' "$OP_NS") || return 1
  for p in "$@"; do [ "${holder%%_*}" = "$p" ] && return 0; done
  return 1
}

# check_leader: 2 replicas run, one of them holds the Lease, and only that one logged acquiring it.
check_leader() {
  local pods p acquired=()
  mapfile -t pods < <(operator_pods)
  [ ${#pods[@]} -eq 2 ] || die "want 2 operator pods, have ${#pods[@]}: ${pods[*]}"
  wait_until 90 "a Lease holder among ${pods[*]}" leader_is_one_of "${pods[@]}"
  for p in "${pods[@]}"; do
    # grep -c reads all (grep -q would end the pipe early, a failure under pipefail).
    if [ "$(kubectl -n "$OP_NS" logs "$p" | grep -ci 'successfully acquired lease')" -gt 0 ]; then acquired+=("$p"); fi
  done
  [ ${#acquired[@]} -eq 1 ] || die "want exactly one pod that acquired the Lease, have: ${acquired[*]:-none}"
  say "leader: ${acquired[0]} holds $LEASE; $(printf '%s\n' "${pods[@]}" | grep -vx "${acquired[0]}") waits"
}

# pods_gone POD...: none of the operator pods PODs exists any more.
pods_gone() { [ -z "$(kubectl -n "$OP_NS" get pod "$@" -o name --ignore-not-found)" ]; }

# lines_at_least N REGEX FILE: FILE has at least N lines matching REGEX.
lines_at_least() { [ "$(grep -c "$2" "$3")" -ge "$1" ]; }

# plugin_of EXT: the name of the WasmPlugin EXT rendered.
plugin_of() { jp "wasmextension/$1" '{.status.rendered[?(@.kind=="WasmPlugin")].name}'; }

# check_rendered EXT SHA256: EXT is delivered by the module server (Cache), its WasmPlugin's URL
# is the module server's and its sha256 is SHA256, the pushed module's.
check_rendered() {
  local ext=$1 sha=$2 wp url
  wp=$(plugin_of "$ext")
  [ -n "$wp" ] || die "$ext is Ready but names no rendered WasmPlugin"
  url=$(jp "$WP/$wp" '{.spec.url}')
  case $url in "$MODULE_SERVER_URL"/*) ;; *) die "$WP/$wp: url $url is not the module server's ($MODULE_SERVER_URL)" ;; esac
  [ "$(jp "$WP/$wp" '{.spec.sha256}')" = "$sha" ] || die "$WP/$wp: sha256 is not the pushed module's $sha"
  [ "$(jp "wasmextension/$ext" '{.status.module.delivery}')" = Cache ] || die "$ext: status.module.delivery is not Cache"
  [ "$(jp "wasmextension/$ext" '{.status.module.sha256}')" = "$sha" ] || die "$ext: status.module.sha256 is not $sha"
  say "$ext: $WP/$wp url $url sha256 $sha"
}

# wait_reason EXT TYPE REASON: waits until EXT's condition TYPE has reason REASON.
wait_reason() {
  kubectl -n "$E2E_NS" wait "wasmextension/$1" --timeout=120s \
    --for=jsonpath="{.status.conditions[?(@.type==\"$2\")].reason}=$3" >&2
}

scenario_ready() {
  apply "$MANIFESTS/extensions.yaml" NS="$E2E_NS" REGISTRY="$REGISTRY"
  kubectl -n "$E2E_NS" wait --for=condition=Ready --timeout=180s \
    wasmextension/add-header wasmextension/signed >&2
  check_rendered add-header "$MODULE_SHA"
  check_rendered signed "$SIGNED_SHA"
  local by
  by=$(jp wasmextension/signed '{.status.module.verifiedBy}')
  [ -n "$by" ] || die "signed is Ready without status.module.verifiedBy"
  say "signed: verified by $by"
  wait_reason no-credentials Stalled Unauthorized
  [ -z "$(plugin_of no-credentials)" ] || die "no-credentials rendered a WasmPlugin without credentials"
  kubectl -n "$E2E_NS" get wasmextensions -o wide >&2
}

# plugin_pairs: "URL SHA256" of every WasmPlugin in $E2E_NS, as the client's fetch arguments.
plugin_pairs() { kubectl -n "$E2E_NS" get "$WP" -o jsonpath='{range .items[*]}{.spec.url} {.spec.sha256} {end}'; }

# fetch_all NAME: a client Job GETs every rendered URL through the module server's Service.
fetch_all() {
  local pairs
  read -ra pairs <<<"$(plugin_pairs)"
  [ ${#pairs[@]} -eq 4 ] || die "want 2 WasmPlugins, have: ${pairs[*]}"
  client_job "$1" fetch "${pairs[@]}" || die "Job $1: the module server did not serve the rendered modules"
}

scenario_module_server() {
  fetch_all fetch
  # The same check must fail when the bytes are not the ones pinned: add-header's URL, signed's sha256.
  local url
  url=$(jp "$WP/$(plugin_of add-header)" '{.spec.url}')
  ! client_job fetch-wrong-sha fetch "$url" "$SIGNED_SHA" \
    || die "the client accepted a module whose sha256 is not the pinned one"
  say "the client refuses a module whose sha256 differs (expected failure above)"
}

# plugin_state: what must not change while the tag points to a broken module.
plugin_state() {
  jp "$WP/$(plugin_of add-header)" '{.metadata.uid} {.metadata.resourceVersion} {.spec.url} {.spec.sha256}'
}

scenario_broken_tag() {
  local before after at
  before=$(plugin_state)
  "${PUSH[@]}" -ref wasmext/add-header:1.0.0 -module not-proxy-wasm >/dev/null
  at=$(date +%s)
  kubectl -n "$E2E_NS" annotate --overwrite wasmextension/add-header "reconcile.wasmext.io/requestedAt=$at" >&2
  kubectl -n "$E2E_NS" wait wasmextension/add-header --timeout=120s \
    --for=jsonpath="{.status.lastHandledReconcileAt}=$at" >&2
  wait_reason add-header Stalled NotProxyWasm
  after=$(plugin_state)
  [ "$before" = "$after" ] || die "the WasmPlugin changed after the tag moved to a broken module: $before -> $after"
  [ "$(jp wasmextension/add-header '{.status.module.sha256}')" = "$MODULE_SHA" ] \
    || die "add-header's status.module is no longer the last-known-good module"
  say "add-header: Stalled NotProxyWasm, WasmPlugin unchanged ($after)"
}

# plugin_uids: "name=uid" of every WasmPlugin in $E2E_NS.
plugin_uids() { kubectl -n "$E2E_NS" get "$WP" -o jsonpath='{range .items[*]}{.metadata.name}={.metadata.uid} {end}'; }

scenario_upgrade() {
  local before after key log watch old
  before=$(plugin_uids)
  key=$(jp "secret/$RELEASE-module-server" '{.data.key}' "$OP_NS")
  old=$(operator_pods | tr '\n' ' ')
  # A watch sees every change, so a WasmPlugin deleted and recreated during the upgrade shows.
  log=$WORK/upgrade-watch.log
  kubectl -n "$E2E_NS" get "$WP" --watch --output-watch-events \
    -o jsonpath='{.type} {.object.metadata.name} {.object.metadata.uid}{"\n"}' >"$log" 2>&1 &
  watch=$!; PF_PIDS+=("$watch")
  wait_until 30 "the WasmPlugin watch to list 2 objects" lines_at_least 2 '^ADDED ' "$log"
  say "helm upgrade --set controller.concurrent=4 (pods: $old)"
  logged helm-upgrade helm upgrade "$RELEASE" charts/wasmext -n "$OP_NS" -f "$WORK/values.yaml" \
    --set controller.concurrent=4 --wait --timeout 4m
  kubectl -n "$OP_NS" rollout status "deploy/$RELEASE" --timeout=180s >&2
  case $(jp "deploy/$RELEASE" '{.spec.template.spec.containers[0].args}' "$OP_NS") in *'"--concurrent=4"'*) ;; *) false ;; esac \
    || die "the upgraded Deployment does not pass --concurrent=4"
  # shellcheck disable=SC2086 # $old is a list of pod names
  wait_until 120 "the old operator pods ($old) to go" pods_gone $old
  check_leader
  [ "$(jp "secret/$RELEASE-module-server" '{.data.key}' "$OP_NS")" = "$key" ] \
    || die "helm upgrade changed the module server key: rendered URLs would break"
  kubectl -n "$E2E_NS" wait --for=condition=Ready --timeout=120s wasmextension/signed >&2
  fetch_all fetch-after-upgrade # new pods serve the same URLs (same key, refilled from the registry)
  kill "$watch"
  ! grep -v '^ADDED \|^MODIFIED ' "$log" || die "the WasmPlugin watch saw the lines above during the upgrade"
  after=$(plugin_uids)
  [ "$before" = "$after" ] || die "rendered objects changed identity during the upgrade: $before -> $after"
  say "every WasmPlugin kept its UID through the upgrade ($after); $(grep -c '^MODIFIED ' "$log") updates, no deletion"
}

# check_operator_logs: saves the operator pods' logs to $WORK and fails on an RBAC denial in them
# (the chart's least-privilege roles must cover everything the scenarios made it do).
check_operator_logs() {
  local p denied=
  for p in $(operator_pods); do
    kubectl -n "$OP_NS" logs "$p" >"$WORK/operator-$p.log"
    if [ "$(grep -ci forbidden "$WORK/operator-$p.log")" -gt 0 ]; then
      grep -i forbidden "$WORK/operator-$p.log" | head -n 5 >&2
      denied+=" $p"
    fi
  done
  [ -z "$denied" ] || die "RBAC denials in the logs of:$denied"
}

scenario_uninstall() {
  check_operator_logs
  logged helm-uninstall helm uninstall "$RELEASE" -n "$OP_NS" --wait --timeout 3m
  kubectl -n "$OP_NS" wait --for=delete pod -l "app.kubernetes.io/instance=$RELEASE" --timeout=120s >&2 || true
  local left
  left=$({
    kubectl -n "$OP_NS" get deploy,rs,pod,svc,sa,secret,cm,role,rolebinding,pdb -o name \
      | grep -v -e '^serviceaccount/default$' -e '^configmap/kube-root-ca.crt$' || true
    kubectl -n "$E2E_NS" get role,rolebinding -o name | grep "$RELEASE" || true
    kubectl get clusterrole,clusterrolebinding -o name | grep "$RELEASE" || true
  })
  [ -z "$left" ] || die "helm uninstall left: $(echo "$left" | xargs)"
  kubectl get crd wasmextensions.wasmext.io >/dev/null || die "helm uninstall removed the WasmExtension CRD"
  [ "$(kubectl -n "$E2E_NS" get wasmextensions -o name | wc -l)" -eq 3 ] \
    || die "the WasmExtensions did not survive helm uninstall"
  say "uninstalled: no Deployment, Service, ServiceAccount, Secret or RBAC left; the CRD and the extensions remain" \
    "(also left, not the chart's: $(kubectl -n "$OP_NS" get lease -o name | xargs))"
  # No operator runs now, and extensions carry no finalizer: deleting one still deletes what it
  # rendered, by the garbage collector following the owner reference.
  local name plugin
  name=$(kubectl -n "$E2E_NS" get wasmextensions -o jsonpath='{.items[0].metadata.name}')
  plugin=$(plugin_of "$name")
  [ -n "$plugin" ] || die "wasmextension/$name names no rendered WasmPlugin"
  kubectl -n "$E2E_NS" delete wasmextension "$name" --cascade=foreground --timeout=90s >&2 \
    || die "wasmextension/$name was not deleted without the operator"
  kubectl -n "$E2E_NS" wait --for=delete "$WP/$plugin" --timeout=90s >&2 \
    || die "WasmPlugin $plugin outlived its extension $name"
  say "with the operator uninstalled, deleting wasmextension/$name deleted WasmPlugin $plugin (owner reference)"
}
