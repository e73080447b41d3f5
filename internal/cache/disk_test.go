package cache_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wasmext/wasmext/internal/cache"
)

func openDisk(t testing.TB, dir string, maxBytes int64) *cache.Store {
	t.Helper()
	s, err := cache.OpenDiskStore(dir, maxBytes)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// files lists the names in dir.
func files(t *testing.T, dir string) []string {
	t.Helper()
	des, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, de := range des {
		names = append(names, de.Name())
	}
	return names
}

// TestDiskStoreRestart: what a disk Store holds survives a restart, and is
// served with the same headers as from memory.
func TestDiskStoreRestart(t *testing.T) {
	dir := t.TempDir()
	ka, a := mod("\x00asm module a", 4000)
	kb, b := mod("\x00asm module b", 3000)
	s := openDisk(t, dir, 1<<20)
	mustPut(t, s, ka, a)
	mustPut(t, s, kb, b)
	if got, want := files(t, dir), []string{ka + ".wasm", kb + ".wasm"}; !sameSet(got, want) {
		t.Fatalf("dir holds %v, want %v (no temporary files)", got, want)
	}

	s = openDisk(t, dir, 1<<20) // the restart
	if s.Len() != 2 || s.Bytes() != 7000 {
		t.Fatalf("after restart: Len, Bytes = %d, %d; want 2, 7000", s.Len(), s.Bytes())
	}
	ts := newServer(t, &cache.Server{Store: s, Key: key})
	assertServes(t, ts, path(ka), ka, a)
	assertServes(t, ts, path(kb), kb, b)
	if got, ok := s.Get(kb); !ok || !bytes.Equal(got, b) {
		t.Fatal("Get after restart does not return the module")
	}
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// TestDiskStoreCorruptRefilled: after a restart a file is checked before
// it is served; one that does not hash to its name (same size or not) is
// refused, deleted and refilled, and the good bytes are written back.
func TestDiskStoreCorruptRefilled(t *testing.T) {
	for _, tc := range []struct {
		name    string
		corrupt func([]byte) []byte
	}{
		{"one bit", func(b []byte) []byte { b = bytes.Clone(b); b[len(b)/2] ^= 1; return b }},
		{"truncated", func(b []byte) []byte { return b[:len(b)-1] }},
		{"zeroed", func(b []byte) []byte { return make([]byte, len(b)) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			k, b := mod("\x00asm good module", 5000)
			mustPut(t, openDisk(t, dir, 1<<20), k, b)
			file := filepath.Join(dir, k+".wasm")
			if err := os.WriteFile(file, tc.corrupt(b), 0o600); err != nil {
				t.Fatal(err)
			}
			s := openDisk(t, dir, 1<<20)
			var refills atomic.Int32
			refill := func(context.Context, string) ([]byte, error) { refills.Add(1); return b, nil }
			ts := newServer(t, &cache.Server{Store: s, Key: key, Refill: refill})
			corrupt := metric(t, "wasmext_module_cache_corrupt_files_total", "")

			assertServes(t, ts, path(k), k, b)
			if n := refills.Load(); n != 1 {
				t.Fatalf("Refill called %d times, want 1", n)
			}
			if got := metric(t, "wasmext_module_cache_corrupt_files_total", "") - corrupt; got != 1 {
				t.Errorf("corrupt files grew by %v, want 1", got)
			}
			got, err := os.ReadFile(file)
			if sum := sha256.Sum256(got); err != nil || hex.EncodeToString(sum[:]) != k {
				t.Fatalf("file not rewritten with the refilled bytes: %v", err)
			}
			if s.Len() != 1 || s.Bytes() != int64(len(b)) {
				t.Fatalf("Len, Bytes = %d, %d; want 1, %d", s.Len(), s.Bytes(), len(b))
			}
		})
	}
}

// TestDiskStoreEvictsBySize: the bound is on the bytes of the files; the
// least recently used go first, and their files with them. At start the
// oldest files are the least recently used, and what exceeds a smaller
// bound is evicted.
func TestDiskStoreEvictsBySize(t *testing.T) {
	dir := t.TempDir()
	s := openDisk(t, dir, 1000)
	ka, a := mod("a", 400)
	kb, b := mod("b", 300)
	kc, c := mod("c", 200)
	mustPut(t, s, ka, a)
	mustPut(t, s, kb, b)
	mustPut(t, s, kc, c)
	evicted := metric(t, "wasmext_module_cache_evictions_total", "")
	if !has(s, ka) { // a most recently used; b least
		t.Fatal("a missing")
	}
	kd, d := mod("d", 250)
	mustPut(t, s, kd, d)
	if got, want := files(t, dir), []string{ka + ".wasm", kc + ".wasm", kd + ".wasm"}; !sameSet(got, want) || s.Bytes() != 850 {
		t.Fatalf("after d: files %v, Bytes %d; want b evicted, 850", got, s.Bytes())
	}
	if got := metric(t, "wasmext_module_cache_evictions_total", "") - evicted; got != 1 {
		t.Fatalf("evictions grew by %v, want 1", got)
	}

	// Restart with room for 300 bytes: by modification time a, c, d are
	// oldest to newest, so a and c go (d alone fits).
	base := time.Now().Add(-time.Hour)
	for i, k := range []string{ka, kc, kd} {
		mt := base.Add(time.Duration(i) * time.Minute)
		if err := os.Chtimes(filepath.Join(dir, k+".wasm"), mt, mt); err != nil {
			t.Fatal(err)
		}
	}
	s = openDisk(t, dir, 300)
	if got := files(t, dir); !sameSet(got, []string{kd + ".wasm"}) || s.Len() != 1 || s.Bytes() != 250 {
		t.Fatalf("after restart with 300 bytes: files %v, Len %d, Bytes %d; want only d", got, s.Len(), s.Bytes())
	}
}

// TestDiskStoreDirectory: a restart deletes the temporary files a crash
// left and leaves files that are not modules alone; a Store cannot be
// opened on a file or without a directory.
func TestDiskStoreDirectory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "new", "cache")
	k, b := mod("m", 100)
	mustPut(t, openDisk(t, dir, 1000), k, b) // creates dir
	for name, data := range map[string]string{
		".tmp-123456": "half a module",
		"README":      "not ours",
		"0123.wasm":   "not a sha256 name",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	s := openDisk(t, dir, 1000)
	if got, want := files(t, dir), []string{k + ".wasm", "README", "0123.wasm"}; !sameSet(got, want) {
		t.Fatalf("dir holds %v, want %v", got, want)
	}
	if s.Len() != 1 || s.Bytes() != 100 {
		t.Fatalf("Len, Bytes = %d, %d; want the one module", s.Len(), s.Bytes())
	}
	if _, err := cache.OpenDiskStore(filepath.Join(dir, "README"), 1000); err == nil {
		t.Fatal("OpenDiskStore on a file succeeded")
	}
	if _, err := cache.OpenDiskStore("", 1000); err == nil {
		t.Fatal("OpenDiskStore without a directory succeeded")
	}
}

// TestDiskStoreHoldsNoModuleBytes: a disk Store keeps its modules out of
// the Go heap; a memory Store holds them all.
func TestDiskStoreHoldsNoModuleBytes(t *testing.T) {
	const total = 32 << 20
	disk, _ := held(t, "disk", total, 1<<20)
	memory, _ := held(t, "memory", total, 1<<20)
	t.Logf("heap held for %d MiB of modules: disk %d KiB, memory %d KiB", total>>20, disk>>10, memory>>10)
	if disk > 4<<20 || memory < total {
		t.Fatalf("heap held: disk %d bytes, memory %d; want under 4 MiB and at least %d", disk, memory, total)
	}
}
