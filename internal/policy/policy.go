// Package policy holds the cluster policy a platform team sets with the
// operator's flags: which registries modules may come from, which may be
// reached over plain HTTP, and whether every extension must be signed.
//
// Check is a pure function over the extension's spec and its parsed image
// reference. The controller calls it before any network access, so a
// refused registry is never contacted. It must not do I/O.
package policy

import (
	"errors"
	"fmt"
	"strings"
	"sync/atomic"

	"github.com/wasmext/wasmext/api/v1alpha1"
)

// ErrViolation marks an extension the cluster policy refuses.
var ErrViolation = errors.New("cluster policy violation")

// Policy is the operator-wide policy. The zero value allows everything.
type Policy struct {
	// AllowedRegistries are registry hosts ("ghcr.io") or host/path
	// prefixes ("ghcr.io/acme") modules may come from. Empty allows all.
	AllowedRegistries []string
	// InsecureRegistries are hosts that may be reached over plain HTTP.
	// They are always reached over plain HTTP; when the list is not empty,
	// module.insecure is refused for any other host.
	InsecureRegistries []string
	// RequireSignature refuses extensions without spec.verify.
	RequireSignature bool
	// RemoveUnverified removes an extension's rendered objects when the
	// signature of the module they serve stops verifying (a key removed
	// from its Secret). The default keeps them (last-known-good) and says
	// so in status and a Warning Event.
	RemoveUnverified bool
}

// Check returns an error wrapping ErrViolation when the extension may not
// be reconciled. registry and repository come from the parsed image.
func (p Policy) Check(spec *v1alpha1.WasmExtensionSpec, registry, repository string) error {
	if !p.Allowed(registry, repository) {
		return fmt.Errorf("%w: registry %s/%s is not in the operator's --allowed-registries (%s); use a module from an allowed registry",
			ErrViolation, registry, repository, strings.Join(p.AllowedRegistries, ", "))
	}
	if spec.Module.Insecure && len(p.InsecureRegistries) > 0 && !contains(p.InsecureRegistries, registry) {
		return fmt.Errorf("%w: plain HTTP to %s is not allowed by the operator's --insecure-registries (%s); remove module.insecure or use a TLS registry",
			ErrViolation, registry, strings.Join(p.InsecureRegistries, ", "))
	}
	if p.RequireSignature && spec.Verify == nil {
		return fmt.Errorf("%w: the operator requires signed modules (--require-signature); add spec.verify with the key or keyless identity that signs this module",
			ErrViolation)
	}
	return nil
}

// Allowed reports whether registry/repository matches an allowed entry.
// A path prefix matches whole path segments only: "ghcr.io/acme" allows
// "ghcr.io/acme/filter" but not "ghcr.io/acme-evil/filter".
func (p Policy) Allowed(registry, repository string) bool {
	if len(p.AllowedRegistries) == 0 {
		return true
	}
	full := registry + "/" + repository
	for _, a := range p.AllowedRegistries {
		a = strings.TrimSuffix(a, "/")
		if a == registry || a == full || strings.HasPrefix(full, a+"/") {
			return true
		}
	}
	return false
}

// PlainHTTP reports whether registry is reached over plain HTTP.
func (p Policy) PlainHTTP(registry string, insecure bool) bool {
	return insecure || contains(p.InsecureRegistries, registry)
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// Holder holds the policy in force. It is safe for concurrent use; Set
// swaps the policy (e.g. on a configuration reload). A nil Holder holds the
// zero policy.
type Holder struct{ p atomic.Pointer[Policy] }

// NewHolder returns a Holder holding p.
func NewHolder(p Policy) *Holder {
	h := &Holder{}
	h.Set(p)
	return h
}

// Get returns the policy in force.
func (h *Holder) Get() Policy {
	if h == nil {
		return Policy{}
	}
	if p := h.p.Load(); p != nil {
		return *p
	}
	return Policy{}
}

// Set replaces the policy in force.
func (h *Holder) Set(p Policy) { h.p.Store(&p) }
