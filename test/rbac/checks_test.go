package rbac

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	clientext "istio.io/client-go/pkg/apis/extensions/v1alpha1"
	clientnet "istio.io/client-go/pkg/apis/networking/v1alpha3"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/wasmext/wasmext/api/v1alpha1"
)

// notYet is a condition that may still become true: poll keeps polling.
type notYet struct{ msg string }

func (e *notYet) Error() string { return e.msg }

func pending(format string, args ...any) error { return &notYet{msg: fmt.Sprintf(format, args...)} }

// poll calls cond every 50 ms until it returns nil, returns an error that
// is not pending (a failure now), or ctx ends (a timeout naming what was
// awaited and the last pending reason).
func poll(ctx context.Context, what string, cond func(context.Context) error) error {
	var last error
	err := wait.PollUntilContextCancel(ctx, 50*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		last = cond(ctx)
		var p *notYet
		if errors.As(last, &p) {
			return false, nil
		}
		return last == nil, last
	})
	if err != nil && ctx.Err() != nil {
		return fmt.Errorf("timed out waiting for %s: %v", what, last)
	}
	return err
}

// newObject returns an empty Istio object of an output kind.
func newObject(k v1alpha1.OutputKind) client.Object {
	switch k {
	case v1alpha1.OutputTrafficExtension:
		return &clientext.TrafficExtension{}
	case v1alpha1.OutputEnvoyFilter:
		return &clientnet.EnvoyFilter{}
	default:
		return &clientext.WasmPlugin{}
	}
}

// getExt reads an extension as the administrator.
func (r *run) getExt(ctx context.Context, name string) (*v1alpha1.WasmExtension, error) {
	ext := &v1alpha1.WasmExtension{}
	return ext, r.h.c.Get(ctx, client.ObjectKey{Namespace: r.ns, Name: name}, ext)
}

// waitCondition waits for condition typ = st with reason, for the current
// generation. A Ready=False whose message says the apiserver refused the
// operator fails at once: it will not change under these roles.
func (r *run) waitCondition(ctx context.Context, name, typ string, st metav1.ConditionStatus, reason string) (*v1alpha1.WasmExtension, error) {
	var ext *v1alpha1.WasmExtension
	err := poll(ctx, fmt.Sprintf("%s %s=%s (%s)", name, typ, st, reason), func(ctx context.Context) error {
		var err error
		if ext, err = r.getExt(ctx, name); err != nil {
			return pending("%v", err)
		}
		c := meta.FindStatusCondition(ext.Status.Conditions, typ)
		if c != nil && c.Status == st && c.Reason == reason && c.ObservedGeneration == ext.Generation {
			return nil
		}
		ready := meta.FindStatusCondition(ext.Status.Conditions, v1alpha1.ConditionReady)
		if ready != nil && ready.Status == metav1.ConditionFalse && ready.ObservedGeneration == ext.Generation &&
			strings.Contains(strings.ToLower(ready.Message), "forbidden") {
			return fmt.Errorf("%s: Ready=False %s: %s", name, ready.Reason, ready.Message)
		}
		return pending("conditions %s", conditions(ext))
	})
	return ext, err
}

func (r *run) waitReady(ctx context.Context, name string) (*v1alpha1.WasmExtension, error) {
	return r.waitCondition(ctx, name, v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonSucceeded)
}

func conditions(ext *v1alpha1.WasmExtension) string {
	parts := make([]string, 0, len(ext.Status.Conditions))
	for _, c := range ext.Status.Conditions {
		parts = append(parts, fmt.Sprintf("%s=%s/%s", c.Type, c.Status, c.Reason))
	}
	if len(parts) == 0 {
		return "(no status)"
	}
	return strings.Join(parts, " ")
}

// rendered reads the Istio object of kind k named name.
func (r *run) rendered(ctx context.Context, k v1alpha1.OutputKind, name string) (client.Object, error) {
	o := newObject(k)
	return o, r.h.c.Get(ctx, client.ObjectKey{Namespace: r.ns, Name: name}, o)
}

// waitRendered waits until the object of kind k named name exists and is
// controlled by the extension of that name.
func (r *run) waitRendered(ctx context.Context, k v1alpha1.OutputKind, name string) (client.Object, error) {
	var o client.Object
	err := poll(ctx, fmt.Sprintf("%s %s rendered", k, name), func(ctx context.Context) error {
		ext, err := r.getExt(ctx, name)
		if err != nil {
			return pending("%v", err)
		}
		if o, err = r.rendered(ctx, k, name); err != nil {
			return pending("%v", err)
		}
		if !metav1.IsControlledBy(o, ext) {
			return pending("%s %s is not controlled by its extension", k, name)
		}
		return nil
	})
	return o, err
}

// waitGone waits until the object of kind k named name no longer exists.
func (r *run) waitGone(ctx context.Context, k v1alpha1.OutputKind, name string) error {
	return poll(ctx, fmt.Sprintf("%s %s gone", k, name), func(ctx context.Context) error {
		if _, err := r.rendered(ctx, k, name); !apierrors.IsNotFound(err) {
			return pending("%s %s still there (%v)", k, name, err)
		}
		return nil
	})
}
