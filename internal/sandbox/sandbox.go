package sandbox

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/tetratelabs/wazero"
	"golang.org/x/sync/singleflight"
	"k8s.io/utils/lru"
)

// Sandbox dry-runs Proxy-Wasm modules. It is safe for concurrent use.
type Sandbox struct {
	cfg      Config
	rt       wazero.Runtime
	hostSigs map[string]signature
	sem      chan struct{}
	runs     singleflight.Group
	results  *lru.Cache   // Key(in) -> result
	started  atomic.Int64 // dry runs started, for tests
	compiles atomic.Int64 // compilations started, for tests

	mu      sync.Mutex                 // guards modules, idle, every compiledModule's users and closed
	modules map[string]*compiledModule // sha256 -> compiled (or compiling) module some run uses or awaits
	idle    *lru.Cache                 // sha256 -> *compiledModule no run uses, with Config.CompiledCacheSize > 0
	closed  bool
}

// result is a remembered dry run.
type result struct {
	rep Report
	err error
}

// New returns a Sandbox with its own wazero runtime (interpreter, or
// compiler when cfg.Compiler), shared by all its runs.
func New(cfg Config) *Sandbox {
	cfg = cfg.withDefaults()
	ctx := context.Background()
	rc := wazero.NewRuntimeConfigInterpreter()
	if cfg.Compiler {
		rc = wazero.NewRuntimeConfigCompiler()
	}
	rc = rc.WithCloseOnContextDone(true).
		WithMemoryLimitPages(cfg.MemoryLimitPages).
		WithDebugInfoEnabled(false)
	rt := wazero.NewRuntimeWithConfig(ctx, rc)
	if err := instantiateWASI(ctx, rt); err != nil {
		panic(fmt.Sprintf("sandbox: building the WASI host: %v", err))
	}
	if err := instantiateEnv(ctx, rt); err != nil {
		panic(fmt.Sprintf("sandbox: building the Proxy-Wasm host: %v", err))
	}
	s := &Sandbox{
		cfg:      cfg,
		rt:       rt,
		hostSigs: hostSignatures(rt),
		sem:      make(chan struct{}, cfg.MaxConcurrent),
		results:  lru.New(cfg.ResultCacheSize),
		modules:  map[string]*compiledModule{},
	}
	if cfg.CompiledCacheSize > 0 {
		s.idle = lru.NewWithEvictionFunc(cfg.CompiledCacheSize, s.evicted)
	}
	return s
}

// Close releases the runtime and every compiled module. Runs under way fail;
// later runs return ErrTimeout.
func (s *Sandbox) Close(ctx context.Context) error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	return s.rt.Close(ctx)
}

// Run dry-runs in.Wasm (or what in.Source returns) once per Key(in); a
// repeated key returns the remembered Report and error (Report.Cached
// true). Concurrent calls with one key share one run. A run the caller gave
// up on (ctx done) is not remembered, nor a *SourceError, nor a Timeout: a node too busy to finish in time
// looks the same as a loop, so the operator retries it with backoff.
func (s *Sandbox) Run(ctx context.Context, in Input) (Report, error) {
	key := Key(in)
	if v, found := s.results.Get(key); found {
		res := v.(result)
		rep := res.rep
		rep.Logs, rep.Imports, rep.Cached = slices.Clone(rep.Logs), slices.Clone(rep.Imports), true
		return rep, res.err
	}
	ran := false // this call ran it; callers that joined it did not
	v, _, _ := s.runs.Do(key, func() (any, error) {
		ran = true
		res := s.run(ctx, in)
		var srcErr *SourceError
		if ctx.Err() == nil && !s.isClosed() && !errors.Is(res.err, ErrTimeout) && !errors.As(res.err, &srcErr) {
			s.results.Add(key, res)
		}
		return res, nil
	})
	res := v.(result)
	rep := res.rep
	rep.Logs, rep.Imports, rep.Cached = slices.Clone(rep.Logs), slices.Clone(rep.Imports), !ran
	return rep, res.err
}

func (s *Sandbox) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// run does one dry run: it obtains the compiled module (compiling it
// within the budget unless a run of the same digest already holds it),
// then runs it under the concurrency limit.
func (s *Sandbox) run(ctx context.Context, in Input) (res result) {
	if s.isClosed() {
		return result{err: fmt.Errorf("%w: the sandbox is closed", ErrTimeout)}
	}
	sha := wasmSHA256(in)
	c, compileTime, err := s.acquire(ctx, sha, in)
	res.rep.Compile = compileTime
	if err != nil {
		res.err = err
		return res
	}
	defer s.unwant(sha, c)
	select {
	case s.sem <- struct{}{}:
		defer func() { <-s.sem }()
	case <-ctx.Done():
		return result{err: fmt.Errorf("%w: waiting for a free slot: the caller gave up: %w", ErrTimeout, ctx.Err())}
	}
	if s.isClosed() {
		return result{err: fmt.Errorf("%w: the sandbox is closed", ErrTimeout)}
	}
	s.started.Add(1)
	res.err = s.dryRun(ctx, c.cm, c.lay, in, &res.rep)
	return res
}

// compile compiles the bytes, turning a memory declaration over the page
// limit into ErrMemoryLimit and any other refusal (or a decoder panic) into
// ErrInvalidModule.
func compile(ctx context.Context, rt wazero.Runtime, wasm []byte) (cm wazero.CompiledModule, err error) {
	defer func() {
		if r := recover(); r != nil {
			cm, err = nil, fmt.Errorf("%w: wazero panicked while compiling: %v", ErrInvalidModule, r)
		}
	}()
	cm, err = rt.CompileModule(ctx, wasm)
	switch {
	case err == nil:
		return cm, nil
	case strings.Contains(err.Error(), "over limit of"):
		return nil, fmt.Errorf("%w: %w", ErrMemoryLimit, err)
	}
	return nil, fmt.Errorf("%w: %w", ErrInvalidModule, err)
}
