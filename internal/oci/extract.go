package oci

import (
	"archive/tar"
	"bufio"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"path"
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
// magic, not by media type) and returns the bytes of its first regular file
// named plugin.wasm (or ./plugin.wasm, /plugin.wasm). It is a pure function
// over the stream. Errors wrap ErrTooLarge when a cap is hit and
// ErrUnsupportedFormat when the stream is not a readable archive or has no
// plugin.wasm.
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
	var capped *capReader
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, l, fmt.Errorf("%w: layer is not a readable gzip stream: %v", ErrUnsupportedFormat, err)
		}
		defer zr.Close()
		capped = &capReader{r: zr, left: lim.decompressed}
		src = capped
		l.LayerGzip = true
	}
	wasm, shadow, err := findInTar(tar.NewReader(src), lim.module)
	if capped != nil && capped.hit {
		return nil, l, fmt.Errorf("%w: layer decompresses to more than %d bytes", ErrTooLarge, lim.decompressed)
	}
	l.ShadowingEntry = shadow
	return wasm, l, err
}

// findInTar walks tr to the plugin file and reads it, capped at limit
// bytes. shadow is the first earlier entry whose base name is plugin.wasm
// too (e.g. lib/plugin.wasm), which a reader going by base name would take.
func findInTar(tr *tar.Reader, limit int64) (b []byte, shadow string, err error) {
	var seen []string
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil, shadow, fmt.Errorf("%w: layer has no %s (entries: %s)", ErrUnsupportedFormat, pluginFile, listNames(seen))
		}
		if err != nil {
			return nil, shadow, fmt.Errorf("%w: layer is not a readable tar archive: %v", ErrUnsupportedFormat, err)
		}
		if !isPluginFile(hdr.Name) {
			if len(seen) < 10 {
				seen = append(seen, hdr.Name)
			}
			if shadow == "" && path.Base(hdr.Name) == pluginFile {
				shadow = hdr.Name
			}
			continue
		}
		if hdr.Typeflag != tar.TypeReg && hdr.Typeflag != tar.TypeRegA { //nolint:staticcheck // old writers still emit TypeRegA
			return nil, shadow, fmt.Errorf("%w: %s in layer is not a regular file (tar type %q)", ErrUnsupportedFormat, hdr.Name, hdr.Typeflag)
		}
		if hdr.Size > limit {
			return nil, shadow, fmt.Errorf("%w: %s is %d bytes, cap is %d", ErrTooLarge, pluginFile, hdr.Size, limit)
		}
		b, err := io.ReadAll(io.LimitReader(tr, limit+1))
		if err != nil {
			return nil, shadow, fmt.Errorf("%w: reading %s from layer: %v", ErrUnsupportedFormat, pluginFile, err)
		}
		if int64(len(b)) > limit {
			return nil, shadow, fmt.Errorf("%w: %s is over %d bytes", ErrTooLarge, pluginFile, limit)
		}
		return b, shadow, nil
	}
}

func isPluginFile(name string) bool {
	return path.Clean("/"+strings.TrimPrefix(name, "./")) == "/"+pluginFile
}

func listNames(names []string) string {
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}

// capReader reads at most left bytes from r and records (in hit) an attempt
// to read past that, failing the read with ErrTooLarge.
type capReader struct {
	r    io.Reader
	left int64
	hit  bool
}

func (c *capReader) Read(p []byte) (int, error) {
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
