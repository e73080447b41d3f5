package controllers

import (
	"context"
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/wasmext/wasmext/api/v1alpha1"
	"github.com/wasmext/wasmext/internal/module"
	"github.com/wasmext/wasmext/internal/oci"
	"github.com/wasmext/wasmext/internal/tagpick"
)

// module.semver: the resolve step lists the repository's tags (bounded, see
// oci.ListTags), picks the highest match (internal/tagpick) and resolves
// that tag's digest. It does so when needsResolution says so, exactly as a
// tag is re-resolved: each interval, on a new generation, transport, pull
// Secret version or reconcile request. The digest then goes through the
// rest of the pipeline like any other, so a new version changes nothing
// rendered until it has been verified, inspected and dry-run.
//
// A new version the pipeline refuses (a failure a person must fix, found
// fetching, inspecting or dry-running it) is remembered as a refusal of
// that (tag, digest) for this generation: later reconciles that pick it
// again report the same failure without pulling or running it again, and
// the previous version keeps serving. Nothing falls back to a lower tag;
// a fixed push (a new digest), a higher tag or a spec change is tried.
// Verification failures are not remembered (a signature is often pushed
// after its image); they are checked again each interval, as for tags.

// EventTagRefused is the Warning Event naming a (tag, digest) semver chose
// that the pipeline refused.
const EventTagRefused = "TagRefused"

// errNoTagLister: the reconciler was given nothing that lists tags.
var errNoTagLister = errors.New("no tag lister configured")

// TagLister lists a repository's tags, bounded; *oci.Fetcher implements it.
type TagLister interface {
	ListTags(ctx context.Context, req oci.Request, lim oci.TagLimits) ([]string, error)
}

// semverState is what the reconciler remembers of an extension's semver
// tracking: the last pick and the refused version, if any.
type semverState struct {
	pick    *semverPick
	refused *refusal
}

// semverPick is a tag listing and resolution: what it depended on, the
// digest found (resolution) and the tag chosen.
type semverPick struct {
	resolution
	tag string
}

// refusal is a (tag, digest) the pipeline refused for one generation, and
// the failure to report again.
type refusal struct {
	tag, digest string
	generation  int64
	err         error
	facts       *module.Facts
}

// covers says whether the refusal is of this pick for this generation.
func (f *refusal) covers(p *semverPick, generation int64) bool {
	return f != nil && p != nil && f.tag == p.tag && f.digest == p.resolved.Digest.String() && f.generation == generation
}

// resolveSemver is the resolve step with module.semver.
func (r *WasmExtensionReconciler) resolveSemver(ctx context.Context, s *scope) error {
	rng, err := tagpick.ParseRange(s.ext.Spec.Module.Semver)
	if err != nil {
		return stepError(v1alpha1.ConditionModuleFetched, fmt.Errorf("module.semver: %w", err))
	}
	ref, err := oci.ParseReference(s.request.Image)
	if err != nil {
		return stepError(v1alpha1.ConditionModuleFetched, err)
	}
	key := client.ObjectKeyFromObject(s.ext)
	st := r.semvers.get(key)
	if st == nil {
		st = &semverState{}
	}
	want := resolution{image: s.request.Image, insecure: s.request.Insecure, secretVersion: s.secretVersion,
		generation: s.ext.Generation, requested: s.ext.GetAnnotations()[v1alpha1.ReconcileRequestAnnotation]}
	var last *resolution
	if st.pick != nil {
		last = &st.pick.resolution
	}
	s.confirmed = last
	if ok, why := needsResolution(last, want, s.now, interval(s.ext)); ok {
		log.FromContext(ctx).V(1).Info("Listing tags for module.semver", "repository", ref.RepositoryURL(), "semver", rng.String(), "why", why)
		tag, res, err := r.pickTag(ctx, s.request, ref, rng)
		if err != nil {
			return stepError(v1alpha1.ConditionModuleFetched, err)
		}
		want.resolved, want.at = res, s.now
		st.pick = &semverPick{resolution: want, tag: tag}
		r.semvers.put(key, *st)
	}
	s.resolved, s.confirmed, s.tag = st.pick.resolved, &st.pick.resolution, st.pick.tag
	s.request.Image = ref.RepositoryURL() + ":" + st.pick.tag
	if st.refused.covers(st.pick, s.ext.Generation) {
		log.FromContext(ctx).V(1).Info("Skipped a refused version", "tag", s.tag, "digest", s.resolved.Digest)
		s.facts = st.refused.facts
		return st.refused.err
	}
	return nil
}

// pickTag lists ref's repository's tags, picks the highest in rng and
// resolves it (one manifest request).
func (r *WasmExtensionReconciler) pickTag(ctx context.Context, req oci.Request, ref oci.Reference, rng tagpick.Range) (string, oci.Resolved, error) {
	lister, ok := r.Resolver.(TagLister)
	if !ok && r.Fetcher != nil {
		lister, ok = r.Fetcher, true
	}
	if !ok {
		return "", oci.Resolved{}, errNoTagLister
	}
	tags, err := lister.ListTags(ctx, req, oci.TagLimits{})
	if err != nil {
		return "", oci.Resolved{}, fmt.Errorf("module.semver: %w", err)
	}
	tag, err := rng.Highest(tags)
	if err != nil {
		return "", oci.Resolved{}, fmt.Errorf("module.semver: %s: %w", ref.RepositoryURL(), err)
	}
	req.Image = ref.RepositoryURL() + ":" + tag
	res, err := r.Resolver.Resolve(ctx, req)
	if err != nil {
		return "", oci.Resolved{}, err
	}
	return tag, res, nil
}

// settleSemver runs after the pipeline: a success forgets any refusal; a
// new version refused by a failure a person must fix is remembered (see
// above), with one Warning Event naming its tag and digest.
func (r *WasmExtensionReconciler) settleSemver(s *scope) {
	if s.tag == "" {
		return
	}
	key := client.ObjectKeyFromObject(s.ext)
	st := r.semvers.get(key)
	switch {
	case st == nil || st.pick == nil || st.pick.tag != s.tag:
		return
	case s.failure == nil:
		if st.refused != nil {
			st.refused = nil
			r.semvers.put(key, *st)
		}
		return
	case !refusesVersion(s) || st.refused.covers(st.pick, s.ext.Generation):
		return
	}
	st.refused = &refusal{tag: s.tag, digest: s.resolved.Digest.String(), generation: s.ext.Generation, err: s.failure.err, facts: s.facts}
	r.semvers.put(key, *st)
	if r.Recorder != nil {
		r.Recorder.Eventf(s.ext, nil, corev1.EventTypeWarning, EventTagRefused, "Resolve", "%s", refusalMessage(s))
	}
}

// refusesVersion says whether the failure refuses the version itself: a
// person must act, it was found fetching, inspecting or dry-running a
// digest other than the one in use.
func refusesVersion(s *scope) bool {
	f := s.failure
	if f == nil || !f.stalled || (f.condition != v1alpha1.ConditionModuleFetched && f.condition != v1alpha1.ConditionModuleValidated) {
		return false
	}
	m := s.ext.Status.Module
	return m == nil || m.Digest != s.resolved.Digest.String()
}

// refusalMessage names the refused tag and digest, why, and what serves.
func refusalMessage(s *scope) string {
	msg := fmt.Sprintf("Refused tag %s (%s@%s), the highest match of module.semver %q: %s: %v",
		s.tag, s.resolved.Repository, s.resolved.Digest, s.ext.Spec.Module.Semver, s.failure.reason, s.failure.err)
	if m := s.ext.Status.Module; m != nil && len(s.ext.Status.Rendered) > 0 {
		return msg + fmt.Sprintf("; tag %s (%s@%s) keeps serving", m.Tag, m.Repository, m.Digest)
	}
	return msg + "; nothing is rendered yet"
}
