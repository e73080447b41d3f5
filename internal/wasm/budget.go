package wasm

import (
	"context"
	"fmt"
	"runtime"
	"sync"

	"golang.org/x/sync/semaphore"
)

// DefaultBudgetBytes is DefaultBudget's size, in bytes of Wasm. wazero's
// interpreter holds about 22 bytes of compiled form per byte of Wasm while
// a module is compiled (a 3.3 MB Go wasip1 module: 71 MiB live, 80 MiB
// allocated; TestCompiledSize in internal/sandbox measures it), so 4 MiB
// admits one such module at a time, about 75 MiB, or a few hundred
// modules of tens of kilobytes. Before the budget, eight concurrent
// reconciles inspecting 3.3 MB modules while the sandbox kept four
// compiled ones took the operator to 1 GiB of RSS.
const DefaultBudgetBytes = 4 << 20

// DefaultBudget bounds every compilation of the process that does not name
// its own: Inspect's, and the dry-run sandbox's (internal/sandbox), which
// holds its share for as long as it keeps the compiled module.
// Releasing a share of 1 MiB or more (a module whose compiled form is
// over 20 MiB) collects garbage first; see Budget.CollectAbove.
var DefaultBudget = func() *Budget {
	b := NewBudget(DefaultBudgetBytes)
	b.CollectAbove = 1 << 20
	return b
}()

// Budget bounds the bytes of Wasm compiled, or held compiled, at once: the
// compiled form, not the bytes, is what costs memory. A module larger than
// the whole budget is admitted alone. Waiters are served first come, first
// served. Safe for concurrent use.
type Budget struct {
	max int64
	sem *semaphore.Weighted
	// CollectAbove: releasing a share of at least this many bytes runs a
	// garbage collection before the next waiter is admitted (0: never).
	// The compiled form just closed is then freed before the next one is
	// built, instead of piling up under GOGC's heap goal, which is twice
	// the live heap at the last collection: live heap peaks while a module
	// is compiled, so the next compilation could otherwise allocate its
	// 70 MiB on top of the previous one's garbage.
	CollectAbove int64

	mu          sync.Mutex
	inUse, peak int64 // admitted bytes now, and the most ever at once
}

// NewBudget returns a Budget of maxBytes (at least 1).
func NewBudget(maxBytes int64) *Budget {
	maxBytes = max(maxBytes, 1)
	return &Budget{max: maxBytes, sem: semaphore.NewWeighted(maxBytes)}
}

// grantKey marks a context whose caller holds a share of one Budget.
type grantKey struct{ b *Budget }

// Within returns ctx marked as held by a caller with a share of b: work
// done on its behalf (re-fetching, and so inspecting, the bytes a
// compilation waits for) is admitted at once instead of waiting for the
// share its own caller holds.
func (b *Budget) Within(ctx context.Context) context.Context {
	return context.WithValue(ctx, grantKey{b}, true)
}

// Acquire waits until size bytes of Wasm fit in the budget and admits them,
// or returns the context's error. The caller must call release when the
// compiled module is closed (later calls do nothing). A context from
// Within is admitted at once, within its caller's share.
func (b *Budget) Acquire(ctx context.Context, size int) (release func(), err error) {
	if ctx.Value(grantKey{b}) != nil {
		return func() {}, nil
	}
	n := b.weight(size)
	if err := b.sem.Acquire(ctx, n); err != nil {
		return nil, fmt.Errorf("waiting for %d of the %d bytes of the compilation budget: %w", n, b.max, err)
	}
	b.mu.Lock()
	b.inUse += n
	b.peak = max(b.peak, b.inUse)
	b.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			if b.CollectAbove > 0 && n >= b.CollectAbove {
				runtime.GC()
			}
			b.mu.Lock()
			b.inUse -= n
			b.mu.Unlock()
			b.sem.Release(n)
		})
	}, nil
}

// weight is what a module of size bytes takes of the budget.
func (b *Budget) weight(size int) int64 {
	return min(max(int64(size), 1), b.max)
}

// Max returns the budget's size in bytes.
func (b *Budget) Max() int64 { return b.max }

// InUse returns the bytes admitted now and the most admitted at once.
func (b *Budget) InUse() (now, peak int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.inUse, b.peak
}
