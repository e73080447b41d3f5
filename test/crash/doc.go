// Package crash holds a process-level end-to-end test of the operator's
// crash safety (`go test ./test/crash/`, part of `make test`): the real
// manager binary, started with the flags a production install sets (leader
// election, probes, metrics, the module server with a shared key and an
// on-disk module cache), against a real kube-apiserver and etcd (envtest,
// with the wasmext and Istio CRDs) and the CNCF distribution registry
// process. It applies the samples with kubectl, then 200 extensions, and
// kills the operator with SIGKILL 20 times at random moments of the
// rollout, restarting it each time; at the end every extension must be
// Ready with exactly one rendered object serving its module, nothing may be
// orphaned, and deleting the extensions (half of them created with the
// finalizer of earlier versions, with 3 more kills while the operator
// finalizes those) must leave no rendered object but the ones the garbage
// collector deletes by their owner reference.
//
// The seed of the kill schedule is printed; WASMEXT_CRASH_SEED=<seed>
// replays its draws (how many operator writes each start lives, which
// extensions change), though what exists at a kill depends on timing.
// WASMEXT_CRASH_KEEP=1 keeps the work dir (operator logs, one per start)
// after a passing run too.
//
// It owns that scenario and its figures. Building and starting the operator
// is test/demo/operator's, child processes internal/testenv/proc's, the
// registry internal/testenv/proc/distribution's, the control plane
// internal/testenv's.
package crash
