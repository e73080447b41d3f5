package sandbox

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/tetratelabs/wazero"
	"k8s.io/utils/lru"
)

// compiledModule is one digest's compiled module, shared by the runs that
// use or await it (users) and closed, with its share of the budget given
// back, when the last of them is done: a result is remembered per input, so
// a compiled module is needed again only for a new configuration of the
// same digest, which usually arrives together with the others (many
// extensions applied at once, queued for a slot). With
// Config.CompiledCacheSize, up to that many are kept after their last run.
type compiledModule struct {
	users     int           // runs using or awaiting it; guarded by Sandbox.mu
	ready     chan struct{} // closed once compiled or failed; then the fields below are set
	cm        wazero.CompiledModule
	err       error
	lay       layout        // read from the bytes, which are not kept
	abandoned bool          // err is the compiling caller's (gave up, or its Source failed), not the module's
	took      time.Duration // compilation time
	release   func()        // gives back the budget; nil once idle
}

// acquire returns the compiled module of a digest, compiling it unless a
// run already holds or compiles it; on success the caller must unwant it.
// Compile time is reported only to the caller that compiled.
func (s *Sandbox) acquire(ctx context.Context, sha string, in Input) (*compiledModule, time.Duration, error) {
	for {
		c, first := s.want(sha)
		if first {
			s.compileInto(ctx, sha, c, in)
			if c.err != nil {
				s.unwant(sha, c)
				return nil, c.took, c.err
			}
			return c, c.took, nil
		}
		select {
		case <-c.ready:
		case <-ctx.Done():
			s.unwant(sha, c)
			return nil, 0, fmt.Errorf("%w: waiting for the module to compile: the caller gave up: %w", ErrTimeout, ctx.Err())
		}
		if c.err == nil {
			return c, 0, nil
		}
		s.unwant(sha, c)
		if !c.abandoned {
			return nil, 0, c.err
		}
		// The caller that compiled gave up before it finished: compile anew.
	}
}

// want registers one more user of the digest's module and reports whether
// the caller is the first and must compile it.
func (s *Sandbox) want(sha string) (*compiledModule, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c, ok := s.modules[sha]; ok {
		c.users++
		return c, false
	}
	if s.idle != nil {
		if v, ok := s.idle.Get(sha); ok {
			c := v.(*compiledModule)
			c.users++
			s.idle.Remove(sha) // evicted sees a user and does not close it
			s.modules[sha] = c
			return c, false
		}
	}
	c := &compiledModule{users: 1, ready: make(chan struct{})}
	s.modules[sha] = c
	return c, true
}

// compileInto compiles the module into c within the budget, then wakes
// the runs awaiting it. A failed module is forgotten at once, so that the
// next run compiles it again; the runs that awaited it share the failure.
func (s *Sandbox) compileInto(ctx context.Context, sha string, c *compiledModule, in Input) {
	defer close(c.ready)
	defer func() {
		if c.err != nil {
			s.forget(sha, c)
		}
	}()
	size := int64(len(in.Wasm))
	if in.Wasm == nil && in.Source != nil {
		size = in.Size
		if size <= 0 {
			size = s.cfg.Budget.Max()
		}
	}
	release, err := s.cfg.Budget.Acquire(ctx, int(min(size, s.cfg.Budget.Max())))
	if err != nil {
		c.err, c.abandoned = fmt.Errorf("%w: the caller gave up: %w", ErrTimeout, err), true
		return
	}
	wasm := in.Wasm
	if wasm == nil && in.Source != nil {
		// Reading may inspect the bytes again (a re-pull), within this share.
		if wasm, err = in.Source(s.cfg.Budget.Within(ctx)); err != nil {
			release()
			c.err, c.abandoned = &SourceError{Err: err}, true
			return
		}
	}
	s.compiles.Add(1)
	start := time.Now()
	c.cm, c.err = compile(ctx, s.rt, wasm)
	c.took = time.Since(start)
	if c.err != nil {
		release()
		c.abandoned = ctx.Err() != nil && errors.Is(c.err, ctx.Err())
		return
	}
	c.lay, c.release = readLayout(wasm), release
}

// forget removes a failed module, so that the next run compiles anew.
func (s *Sandbox) forget(sha string, c *compiledModule) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.modules[sha] == c {
		delete(s.modules, sha)
	}
}

// unwant drops one user; the last one closes the module and gives its
// budget back, or keeps it idle with Config.CompiledCacheSize.
func (s *Sandbox) unwant(sha string, c *compiledModule) {
	if release := s.drop(sha, c); release != nil {
		release() // after Close and outside s.mu: the budget may collect what was freed
	}
}

// drop does unwant's work under s.mu and returns the budget share to give
// back, if any.
func (s *Sandbox) drop(sha string, c *compiledModule) (release func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c.users--; c.users > 0 {
		return nil
	}
	if s.modules[sha] == c {
		delete(s.modules, sha)
	}
	release, c.release = c.release, nil
	switch {
	case c.cm == nil:
	case s.idle != nil && !s.closed && c.err == nil:
		s.idle.Add(sha, c) // may evict (and close) the least recently used
	default:
		_ = c.cm.Close(context.Background())
	}
	return release
}

// evicted closes an idle module pushed out of the idle cache, unless a run
// took it back (want removes it on reuse). Called with s.mu held.
func (s *Sandbox) evicted(_ lru.Key, v any) {
	if c := v.(*compiledModule); c.users == 0 {
		_ = c.cm.Close(context.Background())
	}
}
