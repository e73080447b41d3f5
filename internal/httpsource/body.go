package httpsource

import (
	"bufio"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/wasmext/wasmext/internal/oci"
)

// limits caps what one fetch reads.
type limits struct {
	body         int64 // bytes read off the wire
	module       int64 // .wasm bytes
	decompressed int64 // bytes read out of each gzip stream
}

// readBody reads resp's body as a .wasm, plain or gzip (one layer, or two
// when Content-Encoding gzip carries a .wasm.gz), capped, and returns it
// only if its sha256 is want. It says whether the bytes were compressed.
func readBody(resp *http.Response, lim limits, want string) ([]byte, bool, error) {
	if resp.ContentLength > lim.body {
		return nil, false, fmt.Errorf("%w: body is %d bytes, cap is %d", oci.ErrTooLarge, resp.ContentLength, lim.body)
	}
	layers := 1
	switch enc := strings.ToLower(strings.TrimSpace(resp.Header.Get("Content-Encoding"))); enc {
	case "", "identity":
	case "gzip", "x-gzip":
		layers = 2
	default:
		return nil, false, fmt.Errorf("%w: Content-Encoding %q (only gzip is accepted)", oci.ErrUnsupportedFormat, enc)
	}
	wire := &capReader{r: resp.Body, left: lim.body}
	var src io.Reader = wire
	var caps []*capReader
	for range layers {
		br := bufio.NewReader(src)
		src = br
		if magic, _ := br.Peek(2); len(magic) < 2 || magic[0] != 0x1f || magic[1] != 0x8b {
			break
		}
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, false, fmt.Errorf("%w: body is not a readable gzip stream: %w", oci.ErrUnsupportedFormat, err)
		}
		defer zr.Close()
		c := &capReader{r: zr, left: lim.decompressed}
		caps = append(caps, c)
		src = c
	}
	h := sha256.New()
	b, err := io.ReadAll(io.TeeReader(io.LimitReader(src, lim.module+1), h))
	switch {
	case wire.hit:
		return nil, false, fmt.Errorf("%w: body is over %d bytes", oci.ErrTooLarge, lim.body)
	case anyHit(caps):
		return nil, false, fmt.Errorf("%w: body decompresses to more than %d bytes", oci.ErrTooLarge, lim.decompressed)
	case int64(len(b)) > lim.module:
		return nil, false, fmt.Errorf("%w: module is over %d bytes", oci.ErrTooLarge, lim.module)
	case err != nil && len(caps) > 0 && isGzipError(err):
		return nil, false, fmt.Errorf("%w: body is not a readable gzip stream: %w", oci.ErrUnsupportedFormat, err)
	case err != nil && oci.Unavailable(err):
		return nil, false, fmt.Errorf("%w: reading the body: %w", ErrUnavailable, err)
	case err != nil:
		return nil, false, fmt.Errorf("reading the body: %w", err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != want {
		return nil, false, fmt.Errorf("%w: the bytes have sha256 %s, http.sha256 pins %s", oci.ErrDigestMismatch, got, want)
	}
	return b, len(caps) > 0, nil
}

func anyHit(caps []*capReader) bool {
	for _, c := range caps {
		if c.hit {
			return true
		}
	}
	return false
}

// isGzipError reports a corrupt gzip stream. A truncated one is not: a
// broken connection truncates too, and a retry may fix it.
func isGzipError(err error) bool {
	return errors.Is(err, gzip.ErrChecksum) || errors.Is(err, gzip.ErrHeader)
}

// capReader reads at most left bytes from r and records (in hit) an attempt
// to read past that, failing the read with oci.ErrTooLarge.
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
			return 0, oci.ErrTooLarge
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
