package cache_test

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wasmext/wasmext/internal/cache"
)

// discard is a ResponseWriter that keeps headers and drops the body, so
// that the handler sub-benchmark measures the Server alone.
type discard struct{ h http.Header }

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) Write(b []byte) (int, error) { return len(b), nil }
func (d *discard) WriteHeader(int)             {}

func inUse(context.Context, string) (bool, error) { return true, nil }

// BenchmarkServeHit serves a 1 MiB module from the store: "handler" calls
// ServeHTTP directly, "http" adds a loopback HTTP/1.1 round trip.
func BenchmarkServeHit(b *testing.B) {
	store := cache.NewStore(8 << 20)
	k, m := mod("\x00asm\x01\x00\x00\x00", 1<<20)
	mustPut(b, store, k, m)
	srv := &cache.Server{Store: store, Key: key, InUse: inUse}

	b.Run("handler", func(b *testing.B) {
		req := httptest.NewRequest("GET", path(k), nil)
		w := &discard{h: make(http.Header)}
		b.SetBytes(int64(len(m)))
		b.ReportAllocs()
		for b.Loop() {
			clear(w.h)
			srv.ServeHTTP(w, req)
		}
	})

	b.Run("http", func(b *testing.B) {
		ts := httptest.NewServer(srv)
		defer ts.Close()
		client := ts.Client()
		url := srv.URL(ts.URL, k)
		b.SetBytes(int64(len(m)))
		b.ReportAllocs()
		for b.Loop() {
			if err := get(client, url, len(m)); err != nil {
				b.Fatal(err)
			}
		}
	})
}

const (
	benchModuleSize = 5 << 20 // the "5 MB module"
	benchClients    = 100
)

// BenchmarkThroughput serves one 5 MiB module to 100 concurrent
// clients from the Server (memory Store, then disk Store) and from Go's
// http.FileServer serving the very file the disk Store holds. Each
// iteration is one round of 100 GETs to each, alternating, so that both
// see the same load on a shared machine. It reports the throughput of each
// (server-MB/s, fileserver-MB/s, MB = 10^6 bytes) and server/fileserver
// (ratio; the goal is >= 0.9).
func BenchmarkThroughput(b *testing.B) {
	dir := b.TempDir()
	k, m := randomModule(b, 0, benchModuleSize)
	if err := os.WriteFile(filepath.Join(dir, k+".wasm"), m, 0o600); err != nil {
		b.Fatal(err)
	}
	fs := httptest.NewServer(http.FileServer(http.Dir(dir)))
	defer fs.Close()
	for _, kind := range []string{"memory", "disk"} {
		b.Run(kind, func(b *testing.B) {
			store := cache.NewStore(1 << 30)
			if kind == "disk" {
				var err error
				if store, err = cache.OpenDiskStore(dir, 1<<30); err != nil {
					b.Fatal(err)
				}
			} else {
				mustPut(b, store, k, m)
			}
			srv := &cache.Server{Store: store, Key: key, InUse: inUse}
			ours := httptest.NewServer(srv)
			defer ours.Close()
			compare(b, srv.URL(ours.URL, k), fs.URL+"/"+k+".wasm", len(m))
		})
	}
}

// compare runs rounds against ours and theirs and reports both rates.
func compare(b *testing.B, ours, theirs string, size int) {
	co, ct := benchClient(), benchClient()
	for _, c := range []struct {
		cl  *http.Client
		url string
	}{{co, ours}, {ct, theirs}} { // warm up: connections, page cache, the disk Store's check
		if _, err := round(c.cl, c.url, size); err != nil {
			b.Fatal(err)
		}
	}
	var dOurs, dTheirs time.Duration
	rounds := 0
	for b.Loop() {
		d, err := round(co, ours, size)
		if err != nil {
			b.Fatal(err)
		}
		dOurs += d
		if d, err = round(ct, theirs, size); err != nil {
			b.Fatal(err)
		}
		dTheirs += d
		rounds++
	}
	mb := float64(rounds*benchClients*size) / 1e6
	o, t := mb/dOurs.Seconds(), mb/dTheirs.Seconds()
	b.ReportMetric(o, "server-MB/s")
	b.ReportMetric(t, "fileserver-MB/s")
	b.ReportMetric(o/t, "ratio")
}

func benchClient() *http.Client {
	return &http.Client{Transport: &http.Transport{
		MaxIdleConnsPerHost: benchClients,
		DisableCompression:  true,
	}}
}

// round sends benchClients GETs of url at once and returns how long the
// last one took to finish.
func round(c *http.Client, url string, size int) (time.Duration, error) {
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, benchClients)
	for range benchClients {
		wg.Go(func() {
			if err := get(c, url, size); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	d := time.Since(start)
	close(errs)
	return d, <-errs
}

func get(c *http.Client, url string, size int) error {
	resp, err := c.Get(url)
	if err != nil {
		return err
	}
	defer func() { _ = resp.Body.Close() }()
	n, err := io.Copy(io.Discard, resp.Body)
	if err != nil || resp.StatusCode != 200 || n != int64(size) {
		return fmt.Errorf("GET %s = %d with %d bytes: %v", url, resp.StatusCode, n, err)
	}
	return nil
}

// randomModule returns size pseudo-random bytes numbered i (distinct for
// distinct i) and their hex sha256.
func randomModule(tb testing.TB, i uint64, size int) (string, []byte) {
	tb.Helper()
	b := make([]byte, size)
	fillModule(b, i)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), b
}

// fillModule overwrites b with bytes numbered i (xorshift, cheap).
func fillModule(b []byte, i uint64) {
	x := i*0x9e3779b97f4a7c15 + 1
	for off := 0; off+8 <= len(b); off += 8 {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		binary.LittleEndian.PutUint64(b[off:], x)
	}
}

// BenchmarkHeld1GiB puts 1 GiB of distinct 5 MiB modules into a
// memory Store and into a disk Store and reports what the process holds
// for them afterwards, after a garbage collection: Go heap (heap-bytes)
// and resident set growth (rss-bytes). It is the operator-side cost of
// serving 1 GiB of modules from memory or from --module-cache-dir.
func BenchmarkHeld1GiB(b *testing.B) {
	for _, kind := range []string{"memory", "disk"} {
		b.Run(kind, func(b *testing.B) {
			var heap, rss int64
			for b.Loop() {
				heap, rss = held(b, kind, 1<<30, benchModuleSize)
			}
			b.ReportMetric(float64(heap), "heap-bytes")
			b.ReportMetric(float64(rss), "rss-bytes")
		})
	}
}

// held fills a Store of kind with total bytes of modules of size bytes
// each and returns the growth of the Go heap and of the resident set.
func held(tb testing.TB, kind string, total, size int) (heap, rss int64) {
	tb.Helper()
	buf := make([]byte, size) // reused: not part of what the Store holds
	heap0, rss0 := usage()
	store := cache.NewStore(int64(2 * total))
	if kind == "disk" {
		var err error
		if store, err = cache.OpenDiskStore(tb.TempDir(), int64(2*total)); err != nil {
			tb.Fatal(err)
		}
	}
	for i := 0; i*size < total; i++ {
		fillModule(buf, uint64(i))
		sum := sha256.Sum256(buf)
		mustPut(tb, store, hex.EncodeToString(sum[:]), buf)
	}
	if store.Bytes() < int64(total) {
		tb.Fatalf("store holds %d bytes, want %d", store.Bytes(), total)
	}
	heap1, rss1 := usage()
	runtime.KeepAlive(store)
	runtime.KeepAlive(buf)
	return heap1 - heap0, rss1 - rss0
}

// usage returns the live Go heap and the resident set size after a
// collection that returns freed memory to the system.
func usage() (heap, rss int64) {
	debug.FreeOSMemory()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	status, _ := os.ReadFile("/proc/self/status")
	for _, line := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			rss = kb << 10
		}
	}
	return int64(ms.HeapAlloc), rss
}
