package controllers

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"oras.land/oras-go/v2/registry/remote/auth"

	"github.com/wasmext/wasmext/internal/oci"
)

// countingResolver answers every image with its call number as the size.
type countingResolver struct {
	calls atomic.Int64
	err   error
}

func (c *countingResolver) Resolve(_ context.Context, req oci.Request) (oci.Resolved, error) {
	n := c.calls.Add(1)
	if c.err != nil {
		return oci.Resolved{}, c.err
	}
	return oci.Resolved{Repository: req.Image, Size: n}, nil
}

// TestTagShare: one registry answer serves every extension asking for the
// same image with the same transport and credentials within tagShareFor;
// other credentials, a reconcile request, an older answer or an error ask
// again.
func TestTagShare(t *testing.T) {
	ctx := context.Background()
	var ts tagShare
	r := &countingResolver{}
	t0 := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	req := oci.Request{Image: "r.example/acme/f:1", Credential: auth.Credential{Username: "a", Password: "x"}}
	step := func(name string, req oci.Request, now time.Time, fresh bool, wantCalls int64, wantAt time.Time) {
		t.Helper()
		res, at, err := ts.resolve(ctx, r, req, now, fresh)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got := r.calls.Load(); got != wantCalls {
			t.Fatalf("%s: %d registry calls (answer %d), want %d", name, got, res.Size, wantCalls)
		}
		if !at.Equal(wantAt) {
			t.Fatalf("%s: answered at %s, want %s (when the registry answered)", name, at, wantAt)
		}
	}
	step("first", req, t0, false, 1, t0)
	step("same key 4s later", req, t0.Add(4*time.Second), false, 1, t0)
	other := req
	other.Credential.Password = "y"
	step("other credentials", other, t0.Add(4*time.Second), false, 2, t0.Add(4*time.Second))
	plain := req
	plain.Insecure = true
	step("other transport", plain, t0.Add(4*time.Second), false, 3, t0.Add(4*time.Second))
	step("reconcile requested", req, t0.Add(4*time.Second), true, 4, t0.Add(4*time.Second))
	step("shared again after the fresh answer", req, t0.Add(8*time.Second), false, 4, t0.Add(4*time.Second))
	step("older than tagShareFor", req, t0.Add(4*time.Second+tagShareFor), false, 5, t0.Add(4*time.Second+tagShareFor))

	r.err = errors.New("registry down")
	if _, _, err := ts.resolve(ctx, r, oci.Request{Image: "r.example/acme/g:1"}, t0, false); err == nil {
		t.Fatal("an error was not returned")
	}
	r.err = nil
	step("an error is not kept", oci.Request{Image: "r.example/acme/g:1"}, t0, false, 7, t0)
}
