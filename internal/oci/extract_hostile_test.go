package oci

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
)

// hostileCase is a layer and what extraction must make of it.
type hostileCase struct {
	name    string
	layer   []byte
	wantErr error    // nil: the module bytes must come out
	wantMsg []string // substrings of the error
}

func runHostile(t *testing.T, lim limits, want []byte, tests []hostileCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := extractPluginWasm(bytes.NewReader(tt.layer), lim)
			if tt.wantErr == nil {
				if err != nil || !bytes.Equal(got, want) {
					t.Fatalf("extract = %q, %v; want the module", got, err)
				}
				return
			}
			if !errors.Is(err, tt.wantErr) || got != nil {
				t.Fatalf("extract = %q, %v; want %v", got, err, tt.wantErr)
			}
			for _, s := range tt.wantMsg {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not mention %q", err, s)
				}
			}
		})
	}
}

// TestExtractPathTricks: plugin.wasm must be one regular file at the root;
// a layer that holds it twice, as a link, or through ".." is refused, since
// tools extracting it would not agree on which bytes are the module.
func TestExtractPathTricks(t *testing.T) {
	wasm := []byte("\x00asm\x01\x00\x00\x00real")
	other := []byte("\x00asm\x01\x00\x00\x00other")
	reg := func(name string, data []byte) entry { return entry{name, tar.TypeReg, data} }
	lim := limits{module: 1024, decompressed: 1 << 20}
	runHostile(t, lim, wasm, []hostileCase{
		{"dot dot", archive(t, true, reg("../plugin.wasm", wasm)), ErrUnsupportedFormat, []string{`"../plugin.wasm"`, `".."`}},
		{"dot dot inside", archive(t, false, reg("lib/../plugin.wasm", wasm)), ErrUnsupportedFormat, []string{`"lib/../plugin.wasm"`}},
		{"dot slash dot dot", archive(t, false, reg("./../../plugin.wasm", wasm)), ErrUnsupportedFormat, []string{`".."`}},
		{"absolute is the root's", archive(t, true, reg("/plugin.wasm", wasm)), nil, nil},
		{"dot dot elsewhere is harmless", archive(t, true, reg("../../etc/passwd", []byte("x")), reg("plugin.wasm", wasm)), nil, nil},
		{"symlink", archive(t, false, entry{"plugin.wasm", tar.TypeSymlink, nil}), ErrUnsupportedFormat, []string{"not a regular file", `link "elsewhere"`}},
		{"hardlink", archive(t, true, reg("real.wasm", wasm), entry{"plugin.wasm", tar.TypeLink, nil}), ErrUnsupportedFormat, []string{"not a regular file", "tar type '1'"}},
		{"fifo", archive(t, false, entry{"plugin.wasm", tar.TypeFifo, nil}), ErrUnsupportedFormat, []string{"not a regular file"}},
		{"twice", archive(t, true, reg("plugin.wasm", wasm), reg("plugin.wasm", other)), ErrUnsupportedFormat, []string{"twice", "take the last"}},
		{"twice, spelled apart", archive(t, false, reg("plugin.wasm", wasm), reg("./plugin.wasm", other)), ErrUnsupportedFormat, []string{`"plugin.wasm", then "./plugin.wasm"`}},
		{"twice, absolute", archive(t, false, reg("/plugin.wasm", wasm), reg("plugin.wasm", other)), ErrUnsupportedFormat, []string{"twice"}},
		{"then a symlink over it", archive(t, true, reg("plugin.wasm", wasm), entry{"plugin.wasm", tar.TypeSymlink, nil}), ErrUnsupportedFormat, []string{"twice"}},
		{"then through dot dot", archive(t, true, reg("plugin.wasm", wasm), reg("x/../plugin.wasm", other)), ErrUnsupportedFormat, []string{"twice"}},
		{"under a directory named plugin.wasm", archive(t, false, reg("plugin.wasm/plugin.wasm", wasm)), ErrUnsupportedFormat, []string{"no plugin.wasm", "plugin.wasm/plugin.wasm"}},
	})
}

// TestExtractEntryCap: the walk reads at most maxTarEntries entries, wherever
// plugin.wasm is, so a layer of empty entries costs bounded work.
func TestExtractEntryCap(t *testing.T) {
	wasm := []byte("\x00asm\x01\x00\x00\x00")
	filler := func(n int) []entry {
		es := make([]entry, n)
		for i := range es {
			es[i] = entry{fmt.Sprintf("f/%d", i), tar.TypeReg, nil}
		}
		return es
	}
	plugin := entry{"plugin.wasm", tar.TypeReg, wasm}
	lim := limits{module: 1024, decompressed: 64 << 20} // the entry cap, not the size cap, must stop these
	runHostile(t, lim, wasm, []hostileCase{
		{"at the cap", archive(t, true, append(filler(maxTarEntries-1), plugin)...), nil, nil},
		{"plugin past the cap", archive(t, true, append(filler(maxTarEntries), plugin)...), ErrTooLarge, []string{"more than 10000 entries"}},
		{"plugin first, then too many", archive(t, true, append([]entry{plugin}, filler(maxTarEntries)...)...), ErrTooLarge, []string{"more than 10000 entries"}},
		{"none", archive(t, false, filler(12)...), ErrUnsupportedFormat, []string{"f/0, f/1", "f/9 and 2 more"}},
	})
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// TestExtractGzipBomb: a small layer decompressing to 64 MiB is refused
// once the decompressed cap is reached, having read a fraction of its
// compressed bytes: wherever the bulk is, before or after plugin.wasm, or in
// plugin.wasm itself (refused on its header).
func TestExtractGzipBomb(t *testing.T) {
	wasm := []byte("\x00asm\x01\x00\x00\x00")
	zeros := make([]byte, 64<<20)
	lim := limits{module: 1 << 20, decompressed: 4 << 20}
	for _, tc := range []struct {
		name    string
		entries []entry
		wantMsg string
	}{
		{"before", []entry{{"filler", tar.TypeReg, zeros}, {"plugin.wasm", tar.TypeReg, wasm}}, "decompresses to more than 4194304 bytes"},
		{"after", []entry{{"plugin.wasm", tar.TypeReg, wasm}, {"filler", tar.TypeReg, zeros}}, "decompresses to more than 4194304 bytes"},
		{"in plugin.wasm", []entry{{"plugin.wasm", tar.TypeReg, zeros}}, "plugin.wasm is 67108864 bytes, cap is 1048576"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			layer := archive(t, true, tc.entries...)
			in := &countingReader{r: bytes.NewReader(layer)}
			_, err := extractPluginWasm(in, lim)
			if !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), tc.wantMsg) {
				t.Fatalf("err = %v, want ErrTooLarge saying %q", err, tc.wantMsg)
			}
			// 64 MiB of zeros gzip to ~64 KiB; a 4 MiB cap needs a sixteenth.
			if in.n > int64(len(layer))/4 {
				t.Errorf("read %d of %d compressed bytes; reading must stop at the cap", in.n, len(layer))
			}
		})
	}
}
