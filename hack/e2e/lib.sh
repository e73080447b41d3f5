# Helpers of hack/e2e-kind.sh (sourced, not run): logging and step timing, templates, waiting,
# the tiny client as a Job, port-forwards and diagnostics. Expects E2E_NS, OP_NS, WORK, MANIFESTS,
# CLIENT_IMG and KUBECONFIG from the script.

T0=$SECONDS
STEP_TIMES=()
STEP=

dur() { local s=$(( SECONDS - $1 )); printf '%dm%02ds' $((s / 60)) $((s % 60)); }
say() { printf '[e2e %s] %s\n' "$(dur "$T0")" "$*" >&2; }
die() { say "ERROR: $*"; exit 1; }

# step NAME FUNCTION [ARG...]: runs FUNCTION as one timed step of the run.
step() {
  local name=$1 t=$SECONDS; shift
  STEP=$name
  say "==> $name"
  "$@"
  STEP_TIMES+=("$(printf '  %-38s %s' "$name" "$(dur "$t")")")
  say "<== $name: $(dur "$t")"
  STEP=
}

# durations prints the time of every finished step and the total.
durations() {
  local line
  printf 'e2e durations:\n' >&2
  for line in "${STEP_TIMES[@]}"; do printf '%s\n' "$line" >&2; done
  printf '  %-38s %s\n' total "$(dur "$T0")" >&2
}

# logged NAME CMD...: runs CMD with its output in $WORK/NAME.log, shown (the end) only on failure.
logged() {
  local log=$WORK/$1.log rc=0; shift
  "$@" >"$log" 2>&1 || rc=$?
  [ $rc -eq 0 ] || { tail -n 30 "$log" >&2; say "failed (exit $rc): $*"; }
  return $rc
}

# render FILE KEY=VALUE...: FILE with every @KEY@ replaced by VALUE.
render() {
  local file=$1 kv v expr=(); shift
  for kv in "$@"; do
    v=${kv#*=}; v=${v//\\/\\\\}; v=${v//&/\\&}; v=${v//|/\\|}
    expr+=(-e "s|@${kv%%=*}@|$v|g")
  done
  sed "${expr[@]}" "$file"
}

# apply FILE KEY=VALUE...: kubectl apply the rendered FILE.
apply() { render "$@" | kubectl apply -f - >&2; }

# wait_until SECONDS DESCRIPTION CMD...: polls CMD (every 0.5 s) until it succeeds; dies on timeout.
wait_until() {
  local timeout=$1 what=$2 deadline=$(( SECONDS + $1 )); shift 2
  until "$@" >/dev/null 2>&1; do
    [ $SECONDS -lt $deadline ] || die "timed out after ${timeout}s waiting for $what"
    sleep 0.5
  done
}

# jp KIND/NAME JSONPATH [NAMESPACE]: one field of an object.
jp() { kubectl -n "${3:-$E2E_NS}" get "$1" -o jsonpath="$2"; }

# client_job NAME ARG...: runs the tiny client (test/e2e/client) with ARGs as a Job in $E2E_NS;
# returns 0 when the Job completed, 1 when it failed. Its output goes to stderr.
client_job() {
  local name=$1 args ok failed; shift
  args=$(printf '"%s",' "$@"); args="[${args%,}]"
  kubectl -n "$E2E_NS" delete job "$name" --ignore-not-found --wait >/dev/null
  apply "$MANIFESTS/client-job.yaml" NAME="$name" NS="$E2E_NS" CLIENT_IMG="$CLIENT_IMG" ARGS="$args"
  kubectl -n "$E2E_NS" wait --for=condition=Complete "job/$name" --timeout=200s >/dev/null 2>&1 & ok=$!
  kubectl -n "$E2E_NS" wait --for=condition=Failed "job/$name" --timeout=200s >/dev/null 2>&1 & failed=$!
  wait -n "$ok" "$failed" || true
  kill "$ok" "$failed" 2>/dev/null || true
  wait "$ok" "$failed" 2>/dev/null || true
  kubectl -n "$E2E_NS" logs "job/$name" 2>&1 | sed "s/^/  [$name] /" >&2 || true
  [ "$(jp "job/$name" '{.status.succeeded}')" = 1 ] || { say "Job $name (client $*) failed"; return 1; }
}

# port_forward SERVICE PORT: forwards a free local port to SERVICE:PORT in $E2E_NS in the
# background; sets PF_PORT (and PF_PIDS, for the exit trap).
PF_PIDS=()
port_forward() {
  local log=$WORK/port-forward-$1.log
  kubectl -n "$E2E_NS" port-forward --address 127.0.0.1 "svc/$1" ":$2" >"$log" 2>&1 &
  PF_PIDS+=($!)
  wait_until 30 "kubectl port-forward svc/$1" grep -q '^Forwarding from 127.0.0.1:' "$log"
  PF_PORT=$(sed -n 's/^Forwarding from 127.0.0.1:\([0-9]*\) .*/\1/p' "$log" | head -n 1)
}

# diagnostics: what a failed run needs to be understood.
diagnostics() {
  say "FAILED in step '${STEP:-?}'; diagnostics:"
  {
    kubectl get pods -A -o wide
    kubectl -n "$OP_NS" get deploy,rs,lease -o wide
    local p
    for p in $(kubectl -n "$OP_NS" get pods -o name 2>/dev/null); do
      echo "---- $p"; kubectl -n "$OP_NS" logs "$p" --tail=60
    done
    kubectl -n "$E2E_NS" get wasmextensions,wasmplugins -o yaml
    kubectl -n "$E2E_NS" logs deploy/registry --tail=30
    kubectl get events -A --sort-by=.lastTimestamp | tail -n 30
  } >&2 2>&1 || true
}
