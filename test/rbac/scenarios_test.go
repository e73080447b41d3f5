package rbac

import (
	"context"
	"fmt"

	clientext "istio.io/client-go/pkg/apis/extensions/v1alpha1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/wasmext/wasmext/api/v1alpha1"
	"github.com/wasmext/wasmext/controllers"
)

// scenario is one thing the operator must do, and the code path it takes.
type scenario struct {
	name string
	path string
	run  func(ctx context.Context, r *run) error
}

// scenarios are the core scenarios; the objects they observe are created
// by run.setUp before the manager starts.
func scenarios() []scenario {
	return []scenario{
		{"fetch", "credentials: pull Secret read uncached (APIReader); resolve, pull, server-side apply of the WasmPlugin, status patch", fetchScenario},
		{"verify", "verify: key Secret metadata from the Secret informer, data read uncached; cosign bundle checked", verifyScenario},
		{"render-envoyfilter", "renderAndApply: EnvoyFilter applied (create via apply) with a blocking owner reference", renderScenario(v1alpha1.OutputEnvoyFilter, "ef")},
		{"render-trafficextension", "renderAndApply: TrafficExtension applied", renderScenario(v1alpha1.OutputTrafficExtension, "te")},
		{"event", "recordEvents: events.k8s.io Event Rendered created", eventScenario},
		{"repair-event-series", "watch on rendered WasmPlugins; repair re-applies; the repeated Event becomes a series (patch)", repairScenario},
		{"module-refill", "module server miss: RefillModule lists by index, re-reads pull and key Secrets, re-verifies, re-pulls", refillScenario},
		{"leader-election", "leader election: Lease get/create, renew (update), LeaderElection Event (core/v1)", leaderScenario},
		{"deletion", "finalize: DeleteAllOf each served output kind (deletecollection), finalizer removed (patch)", deletionScenario},
		{"switch-from-wasmplugin", "prune after an output switch: Delete of the old WasmPlugin", switchScenario("sw-wp", v1alpha1.OutputWasmPlugin, v1alpha1.OutputEnvoyFilter)},
		{"switch-from-envoyfilter", "prune after an output switch: Delete of the old EnvoyFilter", switchScenario("sw-ef", v1alpha1.OutputEnvoyFilter, v1alpha1.OutputTrafficExtension)},
		{"switch-from-trafficextension", "prune after an output switch: Delete of the old TrafficExtension", switchScenario("sw-te", v1alpha1.OutputTrafficExtension, v1alpha1.OutputWasmPlugin)},
		{"conflict-wasmplugin", "applyObject: field conflict, ownership read uncached (APIReader Get WasmPlugin)", conflictScenario("cf-wp")},
		{"conflict-envoyfilter", "applyObject: field conflict, ownership read uncached (APIReader Get EnvoyFilter)", conflictScenario("cf-ef")},
		{"conflict-trafficextension", "applyObject: field conflict, ownership read uncached (APIReader Get TrafficExtension)", conflictScenario("cf-te")},
		{"metrics", "/metrics over HTTPS: the scraper's token checked by TokenReview and SubjectAccessReview; 401 without a valid token, 403 without the grant", metricsScenario},
	}
}

func fetchScenario(ctx context.Context, r *run) error {
	ext, err := r.waitReady(ctx, "pulled")
	if err != nil {
		return err
	}
	o, err := r.waitRendered(ctx, v1alpha1.OutputWasmPlugin, "pulled")
	if err != nil {
		return err
	}
	wp, m := o.(*clientext.WasmPlugin), ext.Status.Module
	if m == nil || wp.Spec.Url != m.URL || wp.Spec.Sha256 != m.SHA256 {
		return fmt.Errorf("WasmPlugin url %q sha256 %q; status.module %+v", wp.Spec.Url, wp.Spec.Sha256, m)
	}
	return nil
}

func verifyScenario(ctx context.Context, r *run) error {
	if _, err := r.waitCondition(ctx, "signed", v1alpha1.ConditionModuleVerified, metav1.ConditionTrue, v1alpha1.ReasonSucceeded); err != nil {
		return err
	}
	_, err := r.waitReady(ctx, "signed")
	return err
}

func renderScenario(k v1alpha1.OutputKind, name string) func(context.Context, *run) error {
	return func(ctx context.Context, r *run) error {
		if _, err := r.waitReady(ctx, name); err != nil {
			return err
		}
		_, err := r.waitRendered(ctx, k, name)
		return err
	}
}

// renderedEvents lists the operator's events.k8s.io Events Rendered about
// extension name.
func (r *run) renderedEvents(ctx context.Context, name string) ([]eventsv1.Event, error) {
	var list eventsv1.EventList
	if err := r.h.c.List(ctx, &list, client.InNamespace(r.ns)); err != nil {
		return nil, err
	}
	var out []eventsv1.Event
	for _, e := range list.Items {
		if e.Regarding.Name == name && e.Reason == controllers.EventRendered && e.ReportingController == "wasmext" {
			out = append(out, e)
		}
	}
	return out, nil
}

// occurrences counts what Events say happened: a series counts its count.
func occurrences(events []eventsv1.Event) (n int32, series bool) {
	for _, e := range events {
		if e.Series != nil && e.Series.Count >= 2 {
			n, series = n+e.Series.Count, true
		} else {
			n++
		}
	}
	return n, series
}

func eventScenario(ctx context.Context, r *run) error {
	return poll(ctx, "Event Rendered about pulled", func(ctx context.Context) error {
		events, err := r.renderedEvents(ctx, "pulled")
		if err != nil || len(events) == 0 {
			return pending("none yet (%v)", err)
		}
		return nil
	})
}

// repairScenario deletes the rendered WasmPlugin by hand: the operator
// puts it back and records Rendered again. An Event about the same object
// version (regarding holds its resourceVersion) as the previous one is
// isomorphic to it and becomes a series, patched. A repair that follows a
// status change records a new Event instead, so it repairs (at most 4
// times) until the series appears, each time waiting for the repair's
// Event to be recorded.
func repairScenario(ctx context.Context, r *run) error {
	if _, err := r.waitReady(ctx, "repaired"); err != nil {
		return err
	}
	for i := 1; i <= 4; i++ {
		events, err := r.renderedEvents(ctx, "repaired")
		if err != nil {
			return err
		}
		before, _ := occurrences(events)
		if err := r.repair(ctx, "repaired"); err != nil {
			return err
		}
		var series bool
		err = poll(ctx, fmt.Sprintf("repair %d recorded (Events Rendered about repaired counting more than %d)", i, before), func(ctx context.Context) error {
			events, err := r.renderedEvents(ctx, "repaired")
			var n int32
			if n, series = occurrences(events); err != nil || n <= before {
				return pending("%d occurrences (%v)", n, err)
			}
			return nil
		})
		if err != nil || series {
			return err
		}
	}
	return fmt.Errorf("4 repairs of repaired made no Event series")
}

// repair deletes the rendered WasmPlugin name and waits until it is back.
func (r *run) repair(ctx context.Context, name string) error {
	old, err := r.waitRendered(ctx, v1alpha1.OutputWasmPlugin, name)
	if err != nil {
		return err
	}
	if err := r.h.c.Delete(ctx, old); err != nil {
		return err
	}
	return poll(ctx, "deleted WasmPlugin "+name+" put back", func(ctx context.Context) error {
		o, err := r.rendered(ctx, v1alpha1.OutputWasmPlugin, name)
		if err != nil || o.GetUID() == old.GetUID() {
			return pending("not recreated yet (%v)", err)
		}
		return nil
	})
}

func deletionScenario(ctx context.Context, r *run) error {
	ext, err := r.waitReady(ctx, "deleted")
	if err != nil {
		return err
	}
	if _, err := r.waitRendered(ctx, v1alpha1.OutputWasmPlugin, "deleted"); err != nil {
		return err
	}
	// New extensions carry no finalizer (the garbage collector, which
	// envtest does not run, deletes by owner reference); one created by an
	// earlier version does, and the operator must still be allowed to
	// release it: delete what it rendered (deletecollection), then patch.
	legacy := client.RawPatch(types.MergePatchType, []byte(`{"metadata":{"finalizers":["`+controllers.Finalizer+`"]}}`))
	if err := r.h.c.Patch(ctx, ext, legacy); err != nil {
		return err
	}
	if err := r.h.c.Delete(ctx, ext); err != nil {
		return err
	}
	if err := r.waitGone(ctx, v1alpha1.OutputWasmPlugin, "deleted"); err != nil {
		return err
	}
	return poll(ctx, "extension deleted gone (finalizer removed)", func(ctx context.Context) error {
		if _, err := r.getExt(ctx, "deleted"); !apierrors.IsNotFound(err) {
			return pending("still there (%v)", err)
		}
		return nil
	})
}

func switchScenario(name string, from, to v1alpha1.OutputKind) func(context.Context, *run) error {
	return func(ctx context.Context, r *run) error {
		ext, err := r.waitReady(ctx, name)
		if err != nil {
			return err
		}
		if _, err := r.waitRendered(ctx, from, name); err != nil {
			return err
		}
		patch := fmt.Appendf(nil, `{"spec":{"output":%q}}`, to)
		if err := r.h.c.Patch(ctx, ext, client.RawPatch(types.MergePatchType, patch)); err != nil {
			return err
		}
		if _, err := r.waitReady(ctx, name); err != nil {
			return err
		}
		if _, err := r.waitRendered(ctx, to, name); err != nil {
			return err
		}
		return r.waitGone(ctx, from, name)
	}
}

func conflictScenario(name string) func(context.Context, *run) error {
	return func(ctx context.Context, r *run) error {
		_, err := r.waitCondition(ctx, name, v1alpha1.ConditionStalled, metav1.ConditionTrue, v1alpha1.ReasonNameConflict)
		if err != nil {
			return err
		}
		ext, err := r.getExt(ctx, name)
		if err != nil {
			return err
		}
		o, err := r.rendered(ctx, ext.Spec.Output, name)
		if err != nil {
			return err
		}
		if len(o.GetOwnerReferences()) != 0 {
			return fmt.Errorf("someone else's %s %s was taken over: %v", ext.Spec.Output, name, o.GetOwnerReferences())
		}
		return nil
	}
}
