package reasons

import (
	"errors"
	"fmt"
	"testing"

	"github.com/wasmext/wasmext/api/v1alpha1"
	"github.com/wasmext/wasmext/internal/oci"
	"github.com/wasmext/wasmext/internal/sandbox"
)

func TestOf(t *testing.T) {
	for _, r := range stalled {
		wrapped := fmt.Errorf("module x: %w", r.target)
		if got, ok := Stalled(wrapped); !ok || got != r.reason {
			t.Errorf("Stalled(%v) = %q, %v; want %q", wrapped, got, ok, r.reason)
		}
		if got, ok := Of(wrapped); !ok || got != r.reason {
			t.Errorf("Of(%v) = %q, %v; want %q", wrapped, got, ok, r.reason)
		}
	}
	timeout := fmt.Errorf("dry run: %w", sandbox.ErrTimeout)
	if _, ok := Stalled(timeout); ok {
		t.Error("a Timeout is Stalled; the operator retries it")
	}
	if got, ok := Of(timeout); !ok || got != v1alpha1.ReasonTimeout {
		t.Errorf("Of(timeout) = %q, %v", got, ok)
	}
	for _, transient := range []error{errors.New("connection refused"), fmt.Errorf("x: %w", oci.ErrUnavailable)} {
		if got, ok := Of(transient); ok {
			t.Errorf("Of(%v) = %q; a transient error has no module Reason", transient, got)
		}
	}
}
