package cache

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
)

// MinKeyLen is the shortest Key a Server accepts: 32 bytes, the size of
// the HMAC-SHA256 output, so that guessing the key is no easier than
// guessing a module URL.
const MinKeyLen = 32

const redacted = "[redacted]"

// Key is the secret a Server derives module URLs from: the path segment of
// the module with sha256 S is hex(HMAC-SHA256(Key, S)). Every replica must
// hold the same Key, or a URL rendered by one is a 404 on the others.
//
// A Key never shows itself: it formats as "[redacted]" with every fmt verb
// (also as a field of a struct printed with %v or %+v) and in JSON or text
// encodings, so that logging a Server or an error that wraps one does not
// give it away. Errors of this package never contain it.
type Key []byte

// NewKey returns MinKeyLen random bytes from crypto/rand: a key for one
// process when none is configured (module URLs then differ per replica).
func NewKey() (Key, error) {
	k := make(Key, MinKeyLen)
	if _, err := rand.Read(k); err != nil {
		return nil, fmt.Errorf("cache: generating module server key: %w", err)
	}
	return k, nil
}

// ParseKey returns b, without trailing newlines and spaces (a Secret
// created from a file often ends in one), as a Key. It fails, without
// quoting b, when fewer than MinKeyLen bytes remain.
func ParseKey(b []byte) (Key, error) {
	b = bytes.TrimRight(b, "\r\n\t ")
	if len(b) < MinKeyLen {
		return nil, fmt.Errorf("cache: module server key is %d bytes, want at least %d (e.g. openssl rand -hex 32)", len(b), MinKeyLen)
	}
	return Key(bytes.Clone(b)), nil
}

// ReadKeyFile reads a Key from a file, such as the key of a mounted
// Secret, with ParseKey.
func ReadKeyFile(path string) (Key, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("cache: reading module server key: %w", err)
	}
	defer func() { _ = f.Close() }()
	// A key is short; reading more would only hold more secret bytes.
	b, err := io.ReadAll(io.LimitReader(f, 4096))
	if err != nil {
		return nil, fmt.Errorf("cache: reading module server key %s: %w", path, err)
	}
	k, err := ParseKey(b)
	if err != nil {
		return nil, fmt.Errorf("%w (file %s)", err, path)
	}
	return k, nil
}

// Format writes "[redacted]" whatever the verb.
func (Key) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, redacted) }

// MarshalText returns "[redacted]", for JSON and structured loggers.
func (Key) MarshalText() ([]byte, error) { return []byte(redacted), nil }

// valid reports whether k is long enough to serve under.
func (k Key) valid() bool { return len(k) >= MinKeyLen }

// mac returns hex(HMAC-SHA256(k, sha256hex)): the path segment of the
// module sha256hex.
func (k Key) mac(sha256hex string) string {
	h := hmac.New(sha256.New, k)
	_, _ = io.WriteString(h, sha256hex)
	var sum [sha256.Size]byte
	return hex.EncodeToString(h.Sum(sum[:0]))
}

// String returns "[redacted]", for loggers that look for a fmt.Stringer.
func (Key) String() string { return redacted }
