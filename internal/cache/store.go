package cache

import (
	"bytes"
	"container/list"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
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
// A Store holds its modules either in memory (NewStore) or as files in a
// directory (OpenDiskStore), never both: the bound is on the bytes of that
// one place. A memory Store keeps its own copy of what is Put; the slices
// Get returns are shared and must not be modified.
type Store struct {
	max int64
	dir string // "" for a memory Store

	mu    sync.Mutex
	size  int64
	ll    *list.List // of *entry; front is most recently used
	items map[string]*list.Element
}

type entry struct {
	key  string
	size int64
	b    []byte // the module, in a memory Store
	// verified: the bytes hash to key. Always so in memory; on disk once
	// this process wrote the file or checked it.
	verified bool
}

// NewStore returns an empty memory Store holding at most maxBytes bytes of
// modules in total. A Store with maxBytes <= 0 holds only empty modules.
func NewStore(maxBytes int64) *Store {
	return &Store{max: maxBytes, ll: list.New(), items: make(map[string]*list.Element)}
}

// Put stores b under sha256hex, evicting least-recently-used modules until
// it fits. It returns ErrTooLarge if b alone exceeds the bound,
// ErrDigestMismatch unless sha256(b) is sha256hex (lowercase hex), and the
// error of writing the file in a disk Store. Putting a module that is
// already stored only marks it recently used.
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
	if s.dir == "" {
		b = bytes.Clone(b)
	}
	return s.add(sha256hex, b)
}

// Get returns the module stored under sha256hex and marks it recently used.
// A disk Store reads the file (checking it first if this process has not).
func (s *Store) Get(sha256hex string) ([]byte, bool) {
	bl, ok := s.open(sha256hex)
	if !ok {
		return nil, false
	}
	defer bl.close()
	if bl.f == nil {
		return bl.b, true
	}
	b, err := io.ReadAll(bl.f)
	if err != nil || int64(len(b)) != bl.size {
		return nil, false
	}
	return b, true
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

// touch marks key recently used and reports whether it is stored and
// verified (an unchecked file is replaced by a Put).
func (s *Store) touch(key string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	el, ok := s.items[key]
	if ok {
		s.ll.MoveToFront(el)
	}
	return ok && el.Value.(*entry).verified
}

// blob is a stored module opened for one response: bytes in memory, or an
// open file (which goes on reading even if the module is evicted meanwhile).
type blob struct {
	size int64
	b    []byte
	f    *os.File
}

func (b *blob) close() {
	if b.f != nil {
		_ = b.f.Close()
	}
}

// writeTo writes the module to w; from a file, net/http sends it with
// sendfile(2).
func (b *blob) writeTo(w io.Writer) (int64, error) {
	if b.f != nil {
		return io.Copy(w, b.f)
	}
	n, err := w.Write(b.b)
	return int64(n), err
}

// open returns the module key, marking it recently used. A file not yet
// checked by this process is hashed first; one that does not match is
// deleted and reported missing, so that the Server refills it.
func (s *Store) open(key string) (*blob, bool) {
	s.mu.Lock()
	el, ok := s.items[key]
	var e entry
	if ok {
		s.ll.MoveToFront(el)
		e = *el.Value.(*entry)
	}
	s.mu.Unlock()
	switch {
	case !ok:
		return nil, false
	case s.dir == "":
		return &blob{size: e.size, b: e.b}, true
	}
	return s.openFile(e)
}

// add stores b, which the caller has verified and hands over, under key.
// A module larger than the whole Store is refused with ErrTooLarge.
func (s *Store) add(key string, b []byte) error {
	n := int64(len(b))
	if n > s.max {
		return fmt.Errorf("%w: %d bytes, cache holds %d", ErrTooLarge, n, s.max)
	}
	var tmp string
	if s.dir != "" {
		var err error
		if tmp, err = s.writeTemp(b); err != nil {
			return err
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if el, ok := s.items[key]; ok {
		if el.Value.(*entry).verified { // added since the caller looked
			s.ll.MoveToFront(el)
			removeTemp(tmp)
			return nil
		}
		s.removeLocked(el) // an unchecked file: replaced below
	}
	s.evictLocked(n)
	if tmp != "" {
		if err := os.Rename(tmp, s.path(key)); err != nil {
			removeTemp(tmp)
			return fmt.Errorf("cache: storing module %s: %w", key, err)
		}
	}
	e := &entry{key: key, size: n, verified: true}
	if s.dir == "" {
		e.b = b
	}
	s.pushLocked(e)
	return nil
}

// pushLocked adds e as the most recently used module.
func (s *Store) pushLocked(e *entry) {
	s.items[e.key] = s.ll.PushFront(e)
	s.size += e.size
	sizeBytes.Add(float64(e.size))
	entries.Inc()
}

// evictLocked drops least-recently-used modules until n more bytes fit.
func (s *Store) evictLocked(n int64) {
	for s.size+n > s.max && s.ll.Len() > 0 {
		s.removeLocked(s.ll.Back())
		evictions.Inc()
	}
}

// removeLocked drops a module and, in a disk Store, its file.
func (s *Store) removeLocked(el *list.Element) {
	e := s.ll.Remove(el).(*entry)
	delete(s.items, e.key)
	s.size -= e.size
	sizeBytes.Sub(float64(e.size))
	entries.Dec()
	if s.dir != "" {
		_ = os.Remove(s.path(e.key))
	}
}

// checkDigest returns ErrDigestMismatch unless key is the lowercase hex
// sha256 of b.
func checkDigest(key string, b []byte) error {
	if !isSHA256Hex(key) {
		return fmt.Errorf("%w: key %q is not a lowercase hex sha256", ErrDigestMismatch, key)
	}
	sum := sha256.Sum256(b)
	if got := hex.EncodeToString(sum[:]); got != key {
		return fmt.Errorf("%w: want %s, bytes hash to %s", ErrDigestMismatch, key, got)
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
