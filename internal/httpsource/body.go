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
	wire := oci.NewCapReader(resp.Body, lim.body)
	var src io.Reader = wire
	var caps []*oci.CapReader
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
		c := oci.NewCapReader(zr, lim.decompressed)
		caps = append(caps, c)
		src = c
	}
	h := sha256.New()
	b, err := io.ReadAll(io.TeeReader(io.LimitReader(src, lim.module+1), h))
	switch {
	case wire.Hit():
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

func anyHit(caps []*oci.CapReader) bool {
	for _, c := range caps {
		if c.Hit() {
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
