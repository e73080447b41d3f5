package oci

import (
	"archive/tar"
	"bufio"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"path"
	"slices"
	"strings"
)

// pluginFile is the file an image's last layer must hold.
const pluginFile = "plugin.wasm"

// limits caps what one fetch may read.
type limits struct {
	module       int64 // .wasm bytes, and any single blob
	decompressed int64 // bytes read out of a gzip stream
}

// extractPluginWasm reads a tar or tar+gzip stream (told apart by the gzip
// magic, not by media type) and returns the bytes of its one regular file
// named plugin.wasm (or ./plugin.wasm, /plugin.wasm). It is a pure function
// over the stream and reads all of it (up to the caps). Errors wrap
// ErrTooLarge when a cap is hit (module size, decompressed size, entry
// count) and ErrUnsupportedFormat when the stream is not a readable archive
// or has no single, regular plugin.wasm.
func extractPluginWasm(r io.Reader, lim limits) ([]byte, error) {
	b, _, err := extractWithLayout(r, lim)
	return b, err
}

// extractWithLayout is extractPluginWasm, also saying whether the stream
// was gzip and which earlier entry a reader taking the first file whose
// base name is plugin.wasm (istio-agent) would read instead.
func extractWithLayout(r io.Reader, lim limits) ([]byte, Layout, error) {
	var l Layout
	br := bufio.NewReader(r)
	var src io.Reader = br
	var capped *CapReader
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, l, fmt.Errorf("%w: layer is not a readable gzip stream: %v", ErrUnsupportedFormat, err)
		}
		defer zr.Close()
		capped = NewCapReader(zr, lim.decompressed)
		src = capped
		l.LayerGzip = true
	}
	wasm, shadow, err := findInTar(tar.NewReader(src), lim.module)
	if capped != nil && capped.Hit() {
		return nil, l, fmt.Errorf("%w: layer decompresses to more than %d bytes", ErrTooLarge, lim.decompressed)
	}
	l.ShadowingEntry = shadow
	return wasm, l, err
}

// maxTarEntries caps the entries read from an image layer. A Wasm image's
// last layer holds a handful; the cap bounds the work a layer of millions of
// empty entries could cause within the decompressed-size cap.
const maxTarEntries = 10000

// tarWalk is the state of one walk over an image layer.
type tarWalk struct {
	limit   int64    // cap on plugin.wasm's size
	entries int      // entries read so far
	seen    []string // the first entry names, for messages
	shadow  string   // first entry before plugin.wasm with base name plugin.wasm
	found   string   // name of the plugin.wasm entry read
	wasm    []byte
}

// findInTar walks the whole of tr, reads its plugin file, capped at limit
// bytes, and refuses a layer that holds it ambiguously: twice (image
// runtimes extract the last, istio-agent reads the first), as a link or
// directory, or under a name that climbs out of the root ("../plugin.wasm").
// shadow is the first earlier entry whose base name is plugin.wasm too (e.g.
// lib/plugin.wasm), which a reader going by base name would take.
func findInTar(tr *tar.Reader, limit int64) (b []byte, shadow string, err error) {
	w := tarWalk{limit: limit}
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			if w.found == "" {
				return nil, w.shadow, fmt.Errorf("%w: layer has no %s (entries: %s)", ErrUnsupportedFormat, pluginFile, listNames(w.seen, w.entries))
			}
			return w.wasm, w.shadow, nil
		}
		if err != nil {
			return nil, w.shadow, fmt.Errorf("%w: layer is not a readable tar archive: %v", ErrUnsupportedFormat, err)
		}
		if w.entries++; w.entries > maxTarEntries {
			return nil, w.shadow, fmt.Errorf("%w: layer has more than %d entries", ErrTooLarge, maxTarEntries)
		}
		if err := w.entry(tr, hdr); err != nil {
			return nil, w.shadow, err
		}
	}
}

// entry handles one header: notes other entries, reads the plugin file.
func (w *tarWalk) entry(tr *tar.Reader, hdr *tar.Header) error {
	if !isPluginFile(hdr.Name) {
		if len(w.seen) < 10 {
			w.seen = append(w.seen, hdr.Name)
		}
		if w.shadow == "" && w.found == "" && path.Base(hdr.Name) == pluginFile {
			w.shadow = hdr.Name
		}
		return nil
	}
	switch {
	case w.found != "":
		return fmt.Errorf("%w: layer holds %s twice (%q, then %q): image runtimes take the last, istio-agent the first; repack it with one",
			ErrUnsupportedFormat, pluginFile, w.found, hdr.Name)
	case climbs(hdr.Name):
		return fmt.Errorf("%w: layer entry %q names %s through \"..\"; repack it as %s at the root", ErrUnsupportedFormat, hdr.Name, pluginFile, pluginFile)
	case hdr.Typeflag != tar.TypeReg && hdr.Typeflag != tar.TypeRegA: //nolint:staticcheck // old writers still emit TypeRegA
		return fmt.Errorf("%w: %s in layer is not a regular file (tar type %q, link %q)", ErrUnsupportedFormat, hdr.Name, hdr.Typeflag, hdr.Linkname)
	case hdr.Size > w.limit:
		return fmt.Errorf("%w: %s is %d bytes, cap is %d", ErrTooLarge, pluginFile, hdr.Size, w.limit)
	}
	b, err := io.ReadAll(io.LimitReader(tr, w.limit+1))
	if err != nil {
		return fmt.Errorf("%w: reading %s from layer: %v", ErrUnsupportedFormat, pluginFile, err)
	}
	if int64(len(b)) > w.limit {
		return fmt.Errorf("%w: %s is over %d bytes", ErrTooLarge, pluginFile, w.limit)
	}
	w.found, w.wasm = hdr.Name, b
	return nil
}

// climbs reports whether a tar entry name has a ".." element.
func climbs(name string) bool {
	return slices.Contains(strings.Split(name, "/"), "..")
}

func isPluginFile(name string) bool {
	return path.Clean("/"+strings.TrimPrefix(name, "./")) == "/"+pluginFile
}

// listNames lists the first entry names of a layer of n entries.
func listNames(names []string, n int) string {
	if len(names) == 0 {
		return "none"
	}
	if n > len(names) {
		return fmt.Sprintf("%s and %d more", strings.Join(names, ", "), n-len(names))
	}
	return strings.Join(names, ", ")
}

// CapReader reads at most n bytes from r; a read past them fails with
// ErrTooLarge and Hit reports it, so a caller can tell a cap from a short
// or broken stream. The gzip-bomb and blob-size caps of every source (OCI
// layers, HTTP sources) use it.
type CapReader struct {
	r    io.Reader
	left int64
	hit  bool
}

// NewCapReader returns a CapReader of r capped at n bytes.
func NewCapReader(r io.Reader, n int64) *CapReader { return &CapReader{r: r, left: n} }

// Hit reports whether something tried to read past the cap.
func (c *CapReader) Hit() bool { return c.hit }

func (c *CapReader) Read(p []byte) (int, error) {
	if c.left <= 0 {
		var one [1]byte
		n, err := c.r.Read(one[:])
		if n > 0 {
			c.hit = true
			return 0, ErrTooLarge
		}
		return 0, err
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.r.Read(p)
	c.left -= int64(n)
	return n, err
}
