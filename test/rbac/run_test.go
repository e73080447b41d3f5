package rbac

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// run is one manager under one set of grants, with its own namespace.
type run struct {
	h  *harness
	op *operator
	ns string
}

// outcome is what a run showed.
type outcome struct {
	failed  string // the first scenario that failed ("manager" when it never got ready); "" if none
	err     error
	took    map[string]time.Duration
	refused *refusals
	total   time.Duration
}

// runOnce grants the operator's roles (without removed, if not nil) to a
// fresh ServiceAccount, starts a manager as it and runs every scenario,
// each within timeout. stopEarly ends the run at the first failure.
// Its error is the harness failing, not a scenario.
func (h *harness) runOnce(ctx context.Context, i int, removed *perm, timeout time.Duration) (*outcome, error) {
	g, err := h.base.copyFor(fmt.Sprintf("-r%d", i), removed)
	if err != nil {
		return nil, err
	}
	if err := g.create(ctx, h.c); err != nil {
		return nil, err
	}
	defer func() { _ = g.remove(context.Background(), h.c) }()
	if err := g.waitEffective(ctx, h.c, h.perms, removed); err != nil {
		return nil, err
	}
	r := &run{h: h, ns: fmt.Sprintf("rbac-r%d", i)}
	if err := r.setUp(ctx); err != nil {
		return nil, err
	}
	op, err := startOperator(ctx, h, g.user())
	if err != nil {
		return nil, err
	}
	r.op = op
	start := time.Now()
	out := &outcome{refused: op.refused, took: map[string]time.Duration{}}
	if err := op.ready(ctx, timeout); err != nil {
		out.failed, out.err = "manager", err
	} else {
		out.failed, out.err = r.runScenarios(ctx, timeout, removed != nil, out.took)
	}
	out.total = time.Since(start)
	unstick := func() error { return g.restore(context.Background(), h.c, h.base) }
	return out, errors.Join(op.stop(unstick), r.cleanUp(context.Background()))
}

type result struct {
	name string
	err  error
	took time.Duration
}

// runScenarios runs every scenario at once and returns the first failure.
// The manager is watched meanwhile: a refused list or watch, or the
// manager stopping, fails the run as "manager".
func (r *run) runScenarios(ctx context.Context, timeout time.Duration, stopEarly bool, took map[string]time.Duration) (string, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	list := scenarios()
	done := make(chan result, len(list))
	for _, s := range list {
		go func() {
			sctx, scancel := context.WithTimeout(ctx, timeout)
			defer scancel()
			t0 := time.Now()
			err := s.run(sctx, r)
			done <- result{s.name, err, time.Since(t0)}
		}()
	}
	monitor := make(chan error, 1)
	go func() {
		monitor <- poll(ctx, "the run to end", func(context.Context) error {
			if f, ok := r.op.refused.informer(); ok {
				return fmt.Errorf("an informer was refused: %s", f)
			}
			if err := r.op.exitError(); err != nil {
				return fmt.Errorf("manager stopped: %w", err)
			}
			return pending("running")
		})
	}()
	var first result
	for n := 0; n < len(list) && (first.err == nil || !stopEarly); {
		select {
		case res := <-done:
			n++
			took[res.name] = res.took
			if res.err != nil && first.err == nil {
				first = res
			}
		case err := <-monitor:
			if first.err == nil {
				first = result{name: "manager", err: err}
			}
			monitor = nil
		}
	}
	return first.name, first.err
}
