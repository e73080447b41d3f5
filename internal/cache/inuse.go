package cache

import (
	"context"
	"time"

	"k8s.io/utils/clock"
)

// served reports whether module key may be served now: InUse says some
// extension renders it, or it was Seen within Grace. An InUse error is
// returned only when the grace period does not cover the module.
func (s *Server) served(ctx context.Context, key string) (bool, error) {
	if s.InUse == nil {
		return true, nil
	}
	inUse, err := s.InUse(ctx, key)
	if err == nil && inUse {
		return true, nil
	}
	if s.withinGrace(key) {
		return true, nil
	}
	return false, err
}

// Seen records that some extension rendered the module sha256hex at this
// moment: the Server serves it for Grace from now on, even while InUse
// says that no extension renders it. The controller calls it when an
// extension stops rendering a module (so that proxies mid-rollout still
// load it) and, through Put, when it keeps a module it is about to render
// (so that it is served before the informer cache shows it rendered).
func (s *Server) Seen(sha256hex string) {
	if !isSHA256Hex(sha256hex) {
		return
	}
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.seen == nil {
		s.seen = make(map[string]time.Time)
	}
	for k, t := range s.seen { // few entries: only the last Grace's
		if now.Sub(t) > s.Grace {
			delete(s.seen, k)
		}
	}
	s.seen[sha256hex] = now
}

// Put stores a module the controller has verified and is about to render
// (see Store.Put), and marks it Seen whether or not the Store keeps it.
func (s *Server) Put(sha256hex string, b []byte) error {
	err := s.Store.Put(sha256hex, b)
	s.Seen(sha256hex)
	return err
}

// withinGrace reports whether key was Seen at most Grace ago.
func (s *Server) withinGrace(key string) bool {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.seen[key]
	if ok && now.Sub(t) > s.Grace {
		delete(s.seen, key)
		return false
	}
	return ok
}

func (s *Server) now() time.Time {
	if s.Clock == nil {
		return clock.RealClock{}.Now()
	}
	return s.Clock.Now()
}
