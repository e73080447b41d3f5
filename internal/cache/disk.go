package cache

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// tmpPrefix starts the name of a file being written; it never ends in
// ".wasm", so a file left by a crash is never taken for a module.
const tmpPrefix = ".tmp-"

// OpenDiskStore returns a Store that keeps its modules as files
// <dir>/<sha256hex>.wasm, at most maxBytes bytes of them in total (file
// sizes), and nothing but their index in memory. It creates dir if needed,
// deletes what a crash left half-written, and takes the modules already
// there, least recently used first by modification time, evicting the
// oldest beyond maxBytes. A file found there is served only once its
// sha256 has been checked (on first use); one that does not match is
// deleted, so that the Server refills it.
//
// Files are written to a temporary file in dir and renamed into place, so
// a reader never sees half a module. They are not fsynced: after a power
// loss a file may be short or zeroed, which the check on first use
// catches. One process at a time may use dir (an emptyDir per pod).
func OpenDiskStore(dir string, maxBytes int64) (*Store, error) {
	if dir == "" {
		return nil, fmt.Errorf("cache: no directory for the on-disk module cache")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("cache: creating module cache directory: %w", err)
	}
	files, err := scanDir(dir)
	if err != nil {
		return nil, err
	}
	s := NewStore(maxBytes)
	s.dir = dir
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, f := range files { // oldest first: it ends up least recently used
		s.pushLocked(&entry{key: f.key, size: f.size})
	}
	s.evictLocked(0)
	return s, nil
}

type diskFile struct {
	key  string
	size int64
	mod  time.Time
}

// scanDir lists the module files of dir, oldest first, and deletes the
// temporary files a crash left. Other files are not ours: left alone.
func scanDir(dir string) ([]diskFile, error) {
	des, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("cache: reading module cache directory: %w", err)
	}
	var files []diskFile
	for _, de := range des {
		name := de.Name()
		if strings.HasPrefix(name, tmpPrefix) {
			_ = os.Remove(filepath.Join(dir, name))
			continue
		}
		key, ok := strings.CutSuffix(name, ".wasm")
		if !ok || !isSHA256Hex(key) || !de.Type().IsRegular() {
			continue
		}
		info, err := de.Info()
		if err != nil {
			continue // gone meanwhile
		}
		files = append(files, diskFile{key: key, size: info.Size(), mod: info.ModTime()})
	}
	sort.SliceStable(files, func(i, j int) bool { return files[i].mod.Before(files[j].mod) })
	return files, nil
}

func (s *Store) path(key string) string { return filepath.Join(s.dir, key+".wasm") }

// writeTemp writes b to a new temporary file in the Store's directory (the
// same file system as its final name, so the rename is atomic).
func (s *Store) writeTemp(b []byte) (string, error) {
	f, err := os.CreateTemp(s.dir, tmpPrefix+"*")
	if err != nil {
		return "", fmt.Errorf("cache: writing module file: %w", err)
	}
	_, err = f.Write(b)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		removeTemp(f.Name())
		return "", fmt.Errorf("cache: writing module file: %w", err)
	}
	return f.Name(), nil
}

func removeTemp(name string) {
	if name != "" {
		_ = os.Remove(name)
	}
}

// openFile opens the file of e. It checks the file's size and, unless this
// process has done so, its sha256; a file that is gone or does not match is
// dropped from the index (and deleted) and reported missing.
func (s *Store) openFile(e entry) (*blob, bool) {
	f, err := os.Open(s.path(e.key))
	if err != nil {
		s.drop(e.key, e.verified)
		return nil, false
	}
	info, err := f.Stat()
	ok := err == nil && info.Size() == e.size
	if ok && !e.verified {
		ok = fileHashes(f, e.key)
	}
	if !ok {
		_ = f.Close()
		corruptFiles.Inc()
		s.drop(e.key, e.verified)
		return nil, false
	}
	if !e.verified {
		s.markVerified(e.key)
	}
	return &blob{size: e.size, f: f}, true
}

// fileHashes reports whether f hashes to key, and rewinds it.
func fileHashes(f *os.File, key string) bool {
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return false
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return false
	}
	return hex.EncodeToString(h.Sum(nil)) == key
}

// drop removes key from the index and deletes its file, unless the file
// was unchecked when the caller looked (sawVerified false) and a Put has
// rewritten it since: that one is good.
func (s *Store) drop(key string, sawVerified bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if el, ok := s.items[key]; ok && (sawVerified || !el.Value.(*entry).verified) {
		s.removeLocked(el)
	}
}

func (s *Store) markVerified(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if el, ok := s.items[key]; ok {
		el.Value.(*entry).verified = true
	}
}
