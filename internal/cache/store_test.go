package cache_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/wasmext/wasmext/internal/cache"
)

// mod returns n bytes derived from seed and their hex sha256.
func mod(seed string, n int) (string, []byte) {
	b := bytes.Repeat([]byte(seed), n/len(seed)+1)[:n]
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), b
}

func mustPut(t testing.TB, s *cache.Store, key string, b []byte) {
	t.Helper()
	if err := s.Put(key, b); err != nil {
		t.Fatalf("Put(%s): %v", key[:8], err)
	}
}

func has(s *cache.Store, key string) bool {
	_, ok := s.Get(key)
	return ok
}

func TestStorePutGet(t *testing.T) {
	s := cache.NewStore(1000)
	k, b := mod("a", 100)
	gaugeBytes := metric(t, "wasmext_module_cache_size_bytes", "")
	gaugeModules := metric(t, "wasmext_module_cache_entries", "")
	if _, ok := s.Get(k); ok {
		t.Fatal("Get on an empty store found something")
	}
	mustPut(t, s, k, b)
	mustPut(t, s, k, b) // again: no double counting
	got, ok := s.Get(k)
	if !ok || !bytes.Equal(got, b) {
		t.Fatalf("Get = %d bytes, %v; want the module", len(got), ok)
	}
	if s.Len() != 1 || s.Bytes() != 100 {
		t.Fatalf("Len, Bytes = %d, %d; want 1, 100", s.Len(), s.Bytes())
	}
	if db, dm := metric(t, "wasmext_module_cache_size_bytes", "")-gaugeBytes, metric(t, "wasmext_module_cache_entries", "")-gaugeModules; db != 100 || dm != 1 {
		t.Fatalf("size_bytes, entries grew by %v, %v; want 100, 1", db, dm)
	}
}

func TestStorePutKeepsACopy(t *testing.T) {
	s := cache.NewStore(1000)
	k, b := mod("abc", 30)
	b = bytes.Clone(b)
	mustPut(t, s, k, b)
	b[0] ^= 0xff
	got, _ := s.Get(k)
	if sum := sha256.Sum256(got); hex.EncodeToString(sum[:]) != k {
		t.Fatal("changing the slice after Put changed the stored module")
	}
}

// TestStoreEvictsLeastRecentlyUsed fills a 1000-byte store and checks that
// room is made by dropping the least recently used modules, as many as the
// new module's bytes need, and no more.
func TestStoreEvictsLeastRecentlyUsed(t *testing.T) {
	s := cache.NewStore(1000)
	ka, a := mod("a", 400)
	kb, b := mod("b", 300)
	kc, c := mod("c", 200)
	mustPut(t, s, ka, a)
	mustPut(t, s, kb, b)
	mustPut(t, s, kc, c) // 900 bytes: a, b, c (most recent last)
	evicted := metric(t, "wasmext_module_cache_evictions_total", "")

	if !has(s, ka) { // a is now the most recently used; b the least
		t.Fatal("a missing")
	}
	kd, d := mod("d", 250) // needs 150 more bytes: evicts b only
	mustPut(t, s, kd, d)
	if has(s, kb) || !has(s, ka) || !has(s, kc) || !has(s, kd) {
		t.Fatalf("after d: a=%v b=%v c=%v d=%v; want b evicted only", has(s, ka), has(s, kb), has(s, kc), has(s, kd))
	}
	if s.Len() != 3 || s.Bytes() != 850 {
		t.Fatalf("Len, Bytes = %d, %d; want 3, 850", s.Len(), s.Bytes())
	}

	// Recency is now a, c, d (has() above touched them in that order).
	// 700 bytes need 550 free: a (400) and c (200) go, d stays.
	ke, e := mod("e", 700)
	mustPut(t, s, ke, e)
	if has(s, ka) || has(s, kc) || !has(s, kd) || !has(s, ke) {
		t.Fatalf("after e: a=%v c=%v d=%v e=%v; want a, c evicted", has(s, ka), has(s, kc), has(s, kd), has(s, ke))
	}
	if s.Len() != 2 || s.Bytes() != 950 {
		t.Fatalf("Len, Bytes = %d, %d; want 2, 950", s.Len(), s.Bytes())
	}
	if got := metric(t, "wasmext_module_cache_evictions_total", "") - evicted; got != 3 {
		t.Fatalf("evictions grew by %v, want 3", got)
	}

	// A module exactly the size of the store evicts everything else.
	kf, f := mod("f", 1000)
	mustPut(t, s, kf, f)
	if s.Len() != 1 || s.Bytes() != 1000 || !has(s, kf) {
		t.Fatalf("Len, Bytes = %d, %d; want only f", s.Len(), s.Bytes())
	}
}

func TestStorePutRefused(t *testing.T) {
	s := cache.NewStore(100)
	ka, a := mod("a", 50)
	kb, b := mod("b", 50)
	kbig, big := mod("big", 101)
	mustPut(t, s, ka, a)
	for _, tc := range []struct {
		name string
		key  string
		b    []byte
		want error
	}{
		{"other module's digest", kb, a, cache.ErrDigestMismatch},
		{"digest of nothing", ka, nil, cache.ErrDigestMismatch},
		{"uppercase key", strings.ToUpper(kb), b, cache.ErrDigestMismatch},
		{"sha256: prefix", "sha256:" + kb, b, cache.ErrDigestMismatch},
		{"short key", kb[:63], b, cache.ErrDigestMismatch},
		{"empty key", "", b, cache.ErrDigestMismatch},
		{"larger than the store", kbig, big, cache.ErrTooLarge},
		{"larger than the store, wrong digest", ka, big, cache.ErrTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := s.Put(tc.key, tc.b); !errors.Is(err, tc.want) {
				t.Fatalf("Put = %v, want %v", err, tc.want)
			}
			if s.Len() != 1 || s.Bytes() != 50 || !has(s, ka) {
				t.Fatalf("a refused Put changed the store: Len %d Bytes %d", s.Len(), s.Bytes())
			}
		})
	}
}

// TestStoreConcurrent hammers one small store, in memory and on disk, from
// many goroutines; run with -race. The bound must hold throughout and what
// Get returns must always be the module of its key.
func TestStoreConcurrent(t *testing.T) {
	t.Run("memory", func(t *testing.T) { hammer(t, cache.NewStore(10*1024)) })
	t.Run("disk", func(t *testing.T) { hammer(t, openDisk(t, t.TempDir(), 10*1024)) })
}

func hammer(t *testing.T, s *cache.Store) {
	type m struct {
		key string
		b   []byte
	}
	var mods []m
	for i := range 40 {
		k, b := mod(fmt.Sprintf("m%02d", i), 1024+i*17)
		mods = append(mods, m{k, b})
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 500 {
				x := mods[(g*7+i*13)%len(mods)]
				if i%3 == 0 {
					if err := s.Put(x.key, x.b); err != nil {
						t.Error(err)
						return
					}
				} else if got, ok := s.Get(x.key); ok && !bytes.Equal(got, x.b) {
					t.Error("Get returned another module's bytes")
					return
				}
				if n := s.Bytes(); n > 10*1024 {
					t.Errorf("Bytes = %d, over the bound", n)
					return
				}
				_ = s.Len()
			}
		})
	}
	wg.Wait()
	var total int64
	for _, x := range mods {
		if b, ok := s.Get(x.key); ok {
			total += int64(len(b))
		}
	}
	if total != s.Bytes() {
		t.Fatalf("Bytes = %d, stored modules add up to %d", s.Bytes(), total)
	}
}
