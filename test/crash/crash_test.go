package crash

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/types"
)

const (
	// nKills is how many times the operator is killed during the rollout.
	nKills = 20
	// maxWritesPerLife: each start of the operator is killed after 1 to
	// this many of its writes (to an extension or a WasmPlugin) have been
	// seen. 20 kills take at most 320, about half of what the rollout
	// needs (3 per extension), so every kill lands mid-rollout.
	maxWritesPerLife = 16
	// changesPerKill extensions are pointed at another module while the
	// operator is down after each kill.
	changesPerKill = 3
	// lifeTimeout bounds the wait for a start's writes; the first restart
	// waits out the dead leader's Lease (15s).
	lifeTimeout = 60 * time.Second
)

// kill is one kill -9 of the operator.
type kill struct {
	writes  int           // the start's writes seen before the kill
	pending int           // extensions not Ready for their generation (or not yet gone, when deleting) at the kill
	down    time.Duration // from the kill to the next start's first write
}

// TestCrashDuringRollout is the scenario of the package doc.
func TestCrashDuringRollout(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	began := time.Now()
	seed := crashSeed(t)
	h := newHarness(ctx, t)
	f, err := h.newFleet(ctx)
	if err != nil {
		t.Fatal(err)
	}
	token, err := h.metricsToken(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.startOperator(ctx); err != nil {
		t.Fatal(err)
	}
	samples, err := h.applySamples(ctx, f)
	if err != nil {
		h.fatal(err)
	}
	tr, err := startTracker(ctx, h.c)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(seed, seed))
	r := h.rollout(ctx, rng, tr, f)
	reconciles := h.checkEnd(ctx, f, token)
	var deleted time.Duration
	if r.deleteKills, deleted, err = h.deleteAll(ctx, rng, tr, f); err != nil {
		h.fatal(err)
	}
	h.figures(seed, samples, len(f.want), r, tr, reconciles, map[string]time.Duration{
		"converge": r.converged.Sub(r.lastKill), "rollout": r.converged.Sub(r.start), "delete": deleted, "total": time.Since(began),
	})
}

// rolled is what rollout measured.
type rolled struct {
	kills, deleteKills         []kill
	start, lastKill, converged time.Time
}

// rollout applies the rollout with kubectl while crashLoop kills the
// operator, and waits until every extension is Ready for its generation.
func (h *harness) rollout(ctx context.Context, rng *rand.Rand, tr *tracker, f *fleet) rolled {
	file, err := h.writeRollout(f)
	if err != nil {
		h.t.Fatal(err)
	}
	r := rolled{start: time.Now()}
	applied := make(chan error, 1)
	go func() { _, err := h.kubectl(ctx, "apply", "--filename="+file); applied <- err }()
	r.kills, r.lastKill, err = h.crashLoop(ctx, rng, tr, nKills, func(exts map[types.NamespacedName]extState) int { return notReady(exts, f.want) },
		func(i int) error { return h.whileDown(ctx, rng, tr, f, i == 0) })
	if err := errors.Join(err, <-applied); err != nil {
		h.fatal(err)
	}
	for i, k := range r.kills {
		if k.pending == 0 {
			h.t.Errorf("kill %d landed after every extension was Ready, not mid-rollout", i+1)
		}
	}
	if err := tr.waitFor(ctx, 3*time.Minute, h.op.Exited(), "convergence (every extension Ready for its generation)",
		func(_ int, exts map[types.NamespacedName]extState) bool { return allReady(exts, f.want) }); err != nil {
		h.fatal(fmt.Errorf("%w; %d of %d not Ready", err, tr.eval(func(exts map[types.NamespacedName]extState) int { return notReady(exts, f.want) }), len(f.want)))
	}
	r.converged = time.Now()
	return r
}

// crashSeed is $WASMEXT_CRASH_SEED, else the clock.
func crashSeed(t *testing.T) uint64 {
	if s := os.Getenv("WASMEXT_CRASH_SEED"); s != "" {
		seed, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("WASMEXT_CRASH_SEED=%q: %v", s, err)
		}
		return seed
	}
	return uint64(time.Now().UnixNano())
}

// pendingFunc counts the work left in the tracker's extensions.
type pendingFunc func(exts map[types.NamespacedName]extState) int

// crashLoop n times: waits for 1..maxWritesPerLife writes of the running
// operator, notes pending (the work left), kills it, and calls down(i),
// which starts it again. Once no work is left it waits for no more writes.
// It returns the kills and the time of the last.
func (h *harness) crashLoop(ctx context.Context, rng *rand.Rand, tr *tracker, n int, pending pendingFunc, down func(i int) error) ([]kill, time.Time, error) {
	var kills []kill
	var last time.Time
	for i := range n {
		k := kill{writes: 1 + rng.IntN(maxWritesPerLife)}
		base := tr.count()
		if err := h.waitWrites(ctx, tr, base+1, pending); err != nil {
			return nil, last, err
		}
		if i > 0 {
			kills[i-1].down = time.Since(last)
		}
		if err := h.waitWrites(ctx, tr, base+k.writes, pending); err != nil {
			return nil, last, err
		}
		k.pending = tr.eval(pending)
		if err := h.kill9(); err != nil {
			return nil, last, err
		}
		last = time.Now()
		kills = append(kills, k)
		if err := down(i); err != nil {
			return nil, last, err
		}
	}
	if err := h.waitWrites(ctx, tr, tr.count()+1, pending); err != nil {
		return nil, last, err
	}
	kills[n-1].down = time.Since(last)
	return kills, last, nil
}

// whileDown changes extensions while the operator is dead, waits until the
// tracker has seen the changes (so that every later write is the
// operator's), frees the Lease unless keepLease, and starts the operator.
func (h *harness) whileDown(ctx context.Context, rng *rand.Rand, tr *tracker, f *fleet, keepLease bool) error {
	rvs, err := h.change(ctx, rng, f, tr.seen(f.rollout), changesPerKill)
	if err != nil {
		return err
	}
	if err := tr.waitFor(ctx, lifeTimeout, nil, "watch events of the test's changes", func(_ int, exts map[types.NamespacedName]extState) bool {
		for k, rv := range rvs {
			if exts[k].rv != rv {
				return false
			}
		}
		return true
	}); err != nil {
		return err
	}
	if !keepLease {
		if err := h.expireLease(ctx); err != nil {
			return err
		}
	}
	return h.startOperator(ctx)
}

// waitWrites waits until n writes have been seen, or no work is pending.
func (h *harness) waitWrites(ctx context.Context, tr *tracker, n int, pending pendingFunc) error {
	err := tr.waitFor(ctx, lifeTimeout, h.op.Exited(), fmt.Sprintf("write %d", n), func(writes int, exts map[types.NamespacedName]extState) bool {
		return writes >= n || pending(exts) == 0
	})
	if err != nil {
		return fmt.Errorf("operator start %d: %w", h.starts, err)
	}
	return nil
}

func allReady(exts map[types.NamespacedName]extState, want map[types.NamespacedName]module) bool {
	return notReady(exts, want) == 0
}

// notReady counts the extensions of want not Ready for their generation.
func notReady(exts map[types.NamespacedName]extState, want map[types.NamespacedName]module) int {
	n := 0
	for k := range want {
		if !exts[k].ready {
			n++
		}
	}
	return n
}

// fatal ends the test with err and the end of the operator's log.
func (h *harness) fatal(err error) {
	h.t.Helper()
	if h.op != nil {
		h.t.Fatalf("%v\n%s", err, h.op.Tail(30))
	}
	h.t.Fatal(err)
}

// figures reports what the run measured, through t.Logf and, with -v, on
// stdout.
func (h *harness) figures(seed uint64, samples, exts int, r rolled, tr *tracker, reconciles map[string]float64, d map[string]time.Duration) {
	out := func(format string, args ...any) {
		h.t.Logf(format, args...)
		if testing.Verbose() {
			fmt.Printf("crash: "+format+"\n", args...)
		}
	}
	var lives, notReady []int
	var downs []time.Duration
	for _, k := range r.kills {
		lives, notReady, downs = append(lives, k.writes), append(notReady, k.pending), append(downs, k.down)
	}
	slices.Sort(lives)
	slices.Sort(notReady)
	ms := func(d time.Duration) time.Duration { return d.Round(time.Millisecond) }
	out("seed %d (WASMEXT_CRASH_SEED=%d replays the schedule)", seed, seed)
	out("%d extensions over %d modules in %d namespaces, plus %d sample(s); %d kill -9 of the operator during the rollout, %d starts in all, %d spec changes while it was down",
		nExtensions, nModules, nNamespaces, samples, len(r.kills), h.starts, len(r.kills)*changesPerKill)
	out("writes seen per start before its kill: min %d, median %d, max %d; writes seen in all (but creations of extensions): %d %v",
		lives[0], lives[len(lives)/2], lives[len(lives)-1], tr.count(), tr.kinds())
	out("extensions not Ready at the kills: min %d, max %d (of %d)", notReady[0], notReady[len(notReady)-1], exts)
	out("kill -> next start's first write: after the first kill (Lease waited out) %s; later (Lease freed) median %s, max %s",
		ms(downs[0]), ms(median(downs[1:])), ms(slices.Max(downs[1:])))
	out("converged %s after the last kill; rollout (kubectl apply -> all Ready) %s", ms(d["converge"]), ms(d["rollout"]))
	out("deleted every extension -> none left and no rendered object %s, with %d more kill -9 while finalizing (extensions left at them: %v); total %s",
		ms(d["delete"]), len(r.deleteKills), pendings(r.deleteKills), ms(d["total"]))
	out("reconciles of the last start by result (its /metrics, over HTTPS with a token): %v", reconciles)
	errs, err := logErrors(h.work)
	if err != nil {
		h.t.Errorf("reading the operator's logs: %v", err)
	}
	n := 0
	for _, c := range errs {
		n += c
	}
	out("errors the %d starts logged: %d%s", h.starts, n, strings.Join(append([]string{""}, topCounts(errs, 8)...), "\n    "))
}

func pendings(kills []kill) []int {
	out := make([]int, 0, len(kills))
	for _, k := range kills {
		out = append(out, k.pending)
	}
	return out
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}
