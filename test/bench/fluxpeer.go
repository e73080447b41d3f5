package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/wasmext/wasmext/internal/testenv"
)

// runPeer is -peer flux: for every N (over its M modules), -rounds rounds of
// wasmext, Flux at its default --concurrent, Flux at wasmext's and the
// floor, in alternating order; then the medians, printed and, with -docs,
// written as Markdown.
func (b *bench) runPeer(ctx context.Context) (err error) {
	start := time.Now()
	root, err := testenv.RepoRoot()
	if err != nil {
		return err
	}
	if err := b.o.peer.resolve(ctx, root); err != nil {
		return err
	}
	makeArgs := "-"
	if os.Getenv("MAKELEVEL") != "" {
		makeArgs = os.Getenv("BENCH_ARGS")
	}
	meta := reportMeta{date: start, args: os.Args[1:], makeArgs: makeArgs, rounds: b.o.peer.rounds, verify: b.o.verify, concurrent: b.o.concurrent,
		steady: b.o.steady, namespaces: b.o.namespaces, creators: b.o.creators, machine: readMachine(b.binary, b.o.peer.bin)}
	fmt.Printf("peer: %s (%s, %s), CRDs from %s\n", rel(root, b.o.peer.bin), orUnknown(meta.machine.fluxVer), orUnknown(meta.machine.fluxGo), b.o.peer.crds)
	mode := b.modes[len(b.modes)-1] // with -verify: both verify
	b.envs = b.planEnvs()
	defer func() { err = errors.Join(err, b.envs.close()) }()
	var cases []*caseResult
	for i, n := range b.o.ns {
		c := &caseResult{n: n, modules: b.o.nModules[i]}
		caseStart := time.Now()
		sub := *b
		sub.mods = b.mods[:c.modules]
		for round := range b.o.peer.rounds {
			if err := sub.peerRound(ctx, c, mode, round); err != nil {
				return fmt.Errorf("N=%d/%d round %d: %w", n, c.modules, round+1, err)
			}
		}
		cases = append(cases, c)
		printCase(c, b.o.concurrent)
		fmt.Printf("\nN=%d over %d modules: %d rounds took %s (%s since the start)\n", n, c.modules, b.o.peer.rounds,
			dur(time.Since(caseStart)), dur(time.Since(start)))
	}
	meta.elapsed = time.Since(start)
	if b.o.peer.docs == "" {
		return nil
	}
	var buf bytes.Buffer
	writeReport(&buf, meta, cases)
	if err := os.MkdirAll(filepath.Dir(b.o.peer.docs), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(b.o.peer.docs, buf.Bytes(), 0o644); err != nil {
		return err
	}
	fmt.Printf("\nwrote %s\n", b.o.peer.docs)
	return nil
}

// peerRound runs each system once for c, in reverse order on odd rounds;
// the steady window only in the first round.
func (b *bench) peerRound(ctx context.Context, c *caseResult, mode runMode, round int) error {
	steady := b.o.steady
	if round > 0 {
		steady = 0
	}
	for _, s := range roundOrder(round) {
		f, err := b.runSystem(ctx, s, c.n, mode, steady)
		if err != nil {
			return err
		}
		c.rounds[s] = append(c.rounds[s], f)
	}
	return nil
}

// roundOrder is the order of the systems in a round: reversed on odd rounds.
func roundOrder(round int) []system {
	if round%2 == 1 {
		return []system{sysFloor, sysFluxTuned, sysFluxDefault, sysWasmext}
	}
	return []system{sysWasmext, sysFluxDefault, sysFluxTuned, sysFloor}
}

// planEnvs is the control plane of every run of runPeer, in order.
func (b *bench) planEnvs() *envPlan {
	p := &envPlan{}
	for range b.o.ns {
		for round := range b.o.peer.rounds {
			for _, s := range roundOrder(round) {
				p.plan = append(p.plan, b.envOptions(s))
			}
		}
	}
	return p
}

// runSystem runs one system once. A run in which not all objects became
// Ready counts as such (NaN ready) rather than failing the bench.
func (b *bench) runSystem(ctx context.Context, s system, n int, mode runMode, steady time.Duration) (figures, error) {
	var r *result
	var err error
	switch s {
	case sysFloor:
		fr, err := b.runFloor(ctx, n)
		if err != nil {
			return figures{}, err
		}
		return floorFigures(fr), nil
	case sysWasmext:
		sub := *b
		sub.o.steady = steady
		r, err = sub.runOne(ctx, n, mode)
		if r != nil {
			r.print(sub.o)
		}
	case sysFluxDefault:
		r, err = b.runFlux(ctx, n, mode, fluxDefaultConc, steady)
	case sysFluxTuned:
		r, err = b.runFlux(ctx, n, mode, b.o.concurrent, steady)
	}
	if r == nil {
		return figures{}, err
	}
	if err != nil {
		fmt.Printf("    %v\n", err)
	}
	return figuresOf(r), nil
}

// printCase prints the medians of one N as the report's table.
func printCase(c *caseResult, tuned int) {
	writeCase(os.Stdout, c, tuned, "window")
}
