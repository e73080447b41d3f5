package oci

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"path"
	"strings"
	"testing"
)

type entry struct {
	name string
	typ  byte
	data []byte
}

// archive builds a tar (gzipped when gz) of entries. ocitest.TarLayer cannot
// be used here: ocitest imports this package.
func archive(t testing.TB, gz bool, entries ...entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		hdr := &tar.Header{Name: e.name, Typeflag: e.typ, Mode: 0o644, Size: int64(len(e.data))}
		if e.typ == tar.TypeSymlink || e.typ == tar.TypeLink || e.typ == tar.TypeDir {
			hdr.Size, hdr.Linkname = 0, "elsewhere"
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		if hdr.Size > 0 {
			if _, err := tw.Write(e.data); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if !gz {
		return buf.Bytes()
	}
	var out bytes.Buffer
	zw := gzip.NewWriter(&out)
	_, _ = zw.Write(buf.Bytes())
	_ = zw.Close()
	return out.Bytes()
}

func TestExtractPluginWasm(t *testing.T) {
	wasm := []byte("\x00asm\x01\x00\x00\x00payload")
	big := make([]byte, 4096)
	lim := limits{module: 1024, decompressed: 8192}
	tests := []struct {
		name    string
		layer   []byte
		want    []byte
		wantErr error
	}{
		{"tar", archive(t, false, entry{"plugin.wasm", tar.TypeReg, wasm}), wasm, nil},
		{"tar+gzip", archive(t, true, entry{"plugin.wasm", tar.TypeReg, wasm}), wasm, nil},
		{"dot slash", archive(t, true, entry{"etc/x", tar.TypeReg, []byte("x")}, entry{"./plugin.wasm", tar.TypeReg, wasm}), wasm, nil},
		{"absolute", archive(t, false, entry{"/plugin.wasm", tar.TypeReg, wasm}), wasm, nil},
		{"nested is not it", archive(t, false, entry{"lib/plugin.wasm", tar.TypeReg, wasm}), nil, ErrUnsupportedFormat},
		{"missing", archive(t, true, entry{"etc/os-release", tar.TypeReg, []byte("ID=x")}), nil, ErrUnsupportedFormat},
		{"empty tar", archive(t, false), nil, ErrUnsupportedFormat},
		{"symlink", archive(t, false, entry{"plugin.wasm", tar.TypeSymlink, nil}), nil, ErrUnsupportedFormat},
		{"directory", archive(t, false, entry{"plugin.wasm/", tar.TypeDir, nil}), nil, ErrUnsupportedFormat},
		{"module over cap", archive(t, true, entry{"plugin.wasm", tar.TypeReg, big[:2000]}), nil, ErrTooLarge},
		{"gzip bomb", archive(t, true, entry{"filler", tar.TypeReg, make([]byte, 64<<10)}, entry{"plugin.wasm", tar.TypeReg, wasm}), nil, ErrTooLarge},
		{"not an archive", []byte("\x00asm\x01\x00\x00\x00"), nil, ErrUnsupportedFormat},
		{"truncated gzip", archive(t, true, entry{"plugin.wasm", tar.TypeReg, wasm})[:20], nil, ErrUnsupportedFormat},
		{"empty", nil, nil, ErrUnsupportedFormat},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := extractPluginWasm(bytes.NewReader(tt.layer), lim)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, tt.want) {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
}

// FuzzExtractPluginWasm: any layer either yields plugin.wasm or an error
// wrapping ErrUnsupportedFormat or ErrTooLarge; what it yields is what a
// plain archive/tar walk finds as the one regular root plugin.wasm. The
// committed corpus (testdata/fuzz/FuzzExtractPluginWasm, written by
// TestFuzzCorpus) holds real image layers.
func FuzzExtractPluginWasm(f *testing.F) {
	wasm := []byte("\x00asm\x01\x00\x00\x00")
	f.Add(archive(f, false, entry{"plugin.wasm", tar.TypeReg, wasm}))
	f.Add(archive(f, true, entry{"./plugin.wasm", tar.TypeReg, wasm}))
	f.Add(archive(f, true, entry{"filler", tar.TypeReg, make([]byte, 8192)}, entry{"plugin.wasm", tar.TypeReg, wasm}))
	f.Add(archive(f, false, entry{"plugin.wasm", tar.TypeSymlink, nil}))
	f.Add(archive(f, false, entry{"plugin.wasm", tar.TypeReg, wasm}, entry{"x/../plugin.wasm", tar.TypeReg, wasm}))
	f.Add([]byte{0x1f, 0x8b})
	f.Add([]byte{})
	lim := limits{module: 32 << 10, decompressed: 128 << 10}
	f.Fuzz(func(t *testing.T, layer []byte) {
		got, err := extractPluginWasm(bytes.NewReader(layer), lim)
		if err != nil {
			if !errors.Is(err, ErrUnsupportedFormat) && !errors.Is(err, ErrTooLarge) {
				t.Fatalf("unclassified error: %v", err)
			}
			return
		}
		if int64(len(got)) > lim.module {
			t.Fatalf("returned %d bytes, cap is %d", len(got), lim.module)
		}
		if want := plainWalk(t, layer); !bytes.Equal(got, want) {
			t.Fatalf("extracted %q, a plain walk finds %q", got, want)
		}
	})
}

// plainWalk reads layer with archive/tar alone (no caps: the layer passed
// them) and returns the content of its one root plugin.wasm, failing t
// unless there is exactly one, a regular file named without "..".
func plainWalk(t *testing.T, layer []byte) []byte {
	t.Helper()
	var r io.Reader = bytes.NewReader(layer)
	if len(layer) >= 2 && layer[0] == 0x1f && layer[1] == 0x8b {
		zr, err := gzip.NewReader(r)
		if err != nil {
			t.Fatalf("accepted a layer gzip cannot open: %v", err)
		}
		r = zr
	}
	tr := tar.NewReader(r)
	var found [][]byte
	for n := 0; ; n++ {
		hdr, err := tr.Next()
		if err != nil {
			if !errors.Is(err, io.EOF) {
				t.Fatalf("accepted a layer archive/tar cannot walk: %v", err)
			}
			if len(found) != 1 || n > maxTarEntries {
				t.Fatalf("accepted a layer with %d root plugin.wasm entries in %d entries", len(found), n)
			}
			return found[0]
		}
		if path.Clean("/"+hdr.Name) != "/"+pluginFile {
			continue
		}
		if hdr.Typeflag != tar.TypeReg && hdr.Typeflag != tar.TypeRegA || strings.Contains(hdr.Name, "..") { //nolint:staticcheck // as extract
			t.Fatalf("accepted %q of type %q", hdr.Name, hdr.Typeflag)
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatalf("accepted a plugin.wasm archive/tar cannot read: %v", err)
		}
		found = append(found, b)
	}
}
