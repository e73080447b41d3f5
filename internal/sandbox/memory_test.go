package sandbox

import (
	"context"
	"runtime"
	"testing"

	"github.com/wasmext/wasmext/internal/wasm/wasmtest"
)

// liveHeap is the heap in use after two collections.
func liveHeap() int64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapInuse)
}

// TestCompiledSize measures what wasm.DefaultBudgetBytes is derived from:
// the interpreter's compiled form of the 3.3 MB Go wasip1 fixture is about
// 22 bytes per byte of Wasm (71 MiB), and closing it gives all of it back.
// It fails if wazero's compiled form grows past 40 bytes per byte, so the
// budget would need to shrink, or if Close stops freeing it.
func TestCompiledSize(t *testing.T) {
	if testing.Short() {
		t.Skip("compiles 3.3 MB")
	}
	s := newSandbox(t, Config{})
	w := wasmtest.GoWASIP1
	base := liveHeap()
	cm, err := compile(context.Background(), s.rt, w)
	if err != nil {
		t.Fatal(err)
	}
	held := liveHeap() - base
	perByte := float64(held) / float64(len(w))
	t.Logf("compiled form of %d bytes of Wasm: %.1f MiB live, %.1f bytes per byte", len(w), float64(held)/(1<<20), perByte)
	if perByte < 5 || perByte > 40 {
		t.Errorf("%.1f bytes of compiled form per byte of Wasm; wasm.DefaultBudgetBytes assumes about 22", perByte)
	}
	if err := cm.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if left := liveHeap() - base; left > 4<<20 {
		t.Errorf("%.1f MiB still live after Close", float64(left)/(1<<20))
	}
}
