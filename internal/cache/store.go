package cache

import (
	"container/list"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
)

// Errors returned by Store.Put and by a Refill.
var (
	// ErrUnknown is returned by a Refill when nothing references the sha256;
	// the Server answers 404.
	ErrUnknown = errors.New("cache: no module with this sha256 is referenced")
	// ErrDigestMismatch means the bytes do not hash to the key, or the key
	// is not a lowercase hex sha256.
	ErrDigestMismatch = errors.New("cache: sha256 of bytes does not match key")
	// ErrTooLarge means a single module is larger than the Store's bound.
	ErrTooLarge = errors.New("cache: module larger than the cache")
)

// Store is a content-addressed, size-bounded (total bytes),
// least-recently-used set of modules, keyed by the hex sha256 of the bytes.
// Safe for concurrent use.
//
// The Store keeps its own copy of what is Put; the slices Get returns are
// shared and must not be modified.
type Store struct {
	max int64

	mu    sync.Mutex
	size  int64
	ll    *list.List // of *entry; front is most recently used
	items map[string]*list.Element
}

type entry struct {
	key string
	b   []byte
}

// NewStore returns an empty Store holding at most maxBytes bytes of modules
// in total. A Store with maxBytes <= 0 holds only empty modules.
func NewStore(maxBytes int64) *Store {
	return &Store{max: maxBytes, ll: list.New(), items: make(map[string]*list.Element)}
}

// Put stores b under sha256hex, evicting least-recently-used modules until
// it fits. It returns ErrTooLarge if b alone exceeds the bound and
// ErrDigestMismatch unless sha256(b) is sha256hex (lowercase hex). Putting a
// module that is already stored only marks it recently used.
func (s *Store) Put(sha256hex string, b []byte) error {
	if int64(len(b)) > s.max {
		return fmt.Errorf("%w: %d bytes, cache holds %d", ErrTooLarge, len(b), s.max)
	}
	if err := checkDigest(sha256hex, b); err != nil {
		return err
	}
	if s.touch(sha256hex) {
		return nil
	}
	s.add(sha256hex, append([]byte(nil), b...))
	return nil
}

// Get returns the module stored under sha256hex and marks it recently used.
func (s *Store) Get(sha256hex string) ([]byte, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	el, ok := s.items[sha256hex]
	if !ok {
		return nil, false
	}
	s.ll.MoveToFront(el)
	return el.Value.(*entry).b, true
}

// Len returns the number of modules stored.
func (s *Store) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ll.Len()
}

// Bytes returns the total size of the modules stored.
func (s *Store) Bytes() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.size
}

// touch marks key recently used and reports whether it is stored.
func (s *Store) touch(key string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	el, ok := s.items[key]
	if ok {
		s.ll.MoveToFront(el)
	}
	return ok
}

// add stores b, which the caller has verified and hands over, under key,
// and reports whether it fits.
func (s *Store) add(key string, b []byte) bool {
	n := int64(len(b))
	if n > s.max {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if el, ok := s.items[key]; ok { // added since the caller looked
		s.ll.MoveToFront(el)
		return true
	}
	var evicted int
	for s.size+n > s.max {
		el := s.ll.Back()
		e := s.ll.Remove(el).(*entry)
		delete(s.items, e.key)
		s.size -= int64(len(e.b))
		cacheBytes.Sub(float64(len(e.b)))
		evicted++
	}
	s.items[key] = s.ll.PushFront(&entry{key: key, b: b})
	s.size += n
	cacheBytes.Add(float64(n))
	cacheModules.Add(float64(1 - evicted))
	evictions.Add(float64(evicted))
	return true
}

// checkDigest returns ErrDigestMismatch unless key is the lowercase hex
// sha256 of b.
func checkDigest(key string, b []byte) error {
	if !isSHA256Hex(key) {
		return fmt.Errorf("%w: key %q is not a lowercase hex sha256", ErrDigestMismatch, key)
	}
	sum := sha256.Sum256(b)
	var got [2 * sha256.Size]byte
	hex.Encode(got[:], sum[:])
	if string(got[:]) != key {
		return fmt.Errorf("%w: want %s, bytes hash to %s", ErrDigestMismatch, key, got[:])
	}
	return nil
}

// isSHA256Hex reports whether s is 64 lowercase hex digits.
func isSHA256Hex(s string) bool {
	if len(s) != 2*sha256.Size {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
