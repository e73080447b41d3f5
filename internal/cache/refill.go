package cache

import (
	"context"
	"errors"
	"fmt"
)

// refill obtains the module key through s.Refill, one call per key at a
// time, verifies it and stores it. A caller whose ctx ends stops waiting
// but does not cancel the Refill others may be waiting on.
func (s *Server) refill(ctx context.Context, key string) ([]byte, error) {
	if s.Refill == nil {
		return nil, ErrUnknown
	}
	ch := s.flight.DoChan(key, func() (any, error) {
		// Another flight may have just stored it.
		if b, ok := s.Store.Get(key); ok {
			return b, nil
		}
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), refillTimeout)
		defer cancel()
		b, err := s.callRefill(rctx, key)
		if err == nil {
			b = append([]byte(nil), b...) // ours from here on; verify what we keep
			if err = checkDigest(key, b); err != nil {
				err = fmt.Errorf("refill: %w", err)
			}
		}
		refills.WithLabelValues(refillResult(err)).Inc()
		if err != nil {
			return nil, err
		}
		// A module larger than the whole Store, or one the disk cannot
		// take, is served but not kept.
		_ = s.Store.add(key, b)
		return b, nil
	})
	select {
	case res := <-ch:
		if res.Err != nil {
			return nil, res.Err
		}
		return res.Val.([]byte), nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func refillResult(err error) string {
	switch {
	case err == nil:
		return refillOK
	case errors.Is(err, ErrUnknown):
		return refillUnknown
	case errors.Is(err, ErrDigestMismatch):
		return refillMismatch
	default:
		return refillError
	}
}

// callRefill calls s.Refill, turning a panic into an error: it runs on a
// goroutine of its own, where net/http's recovery does not reach.
func (s *Server) callRefill(ctx context.Context, key string) (b []byte, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("refill %s panicked: %v", key, p)
		}
	}()
	return s.Refill(ctx, key)
}
