package controllers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"google.golang.org/protobuf/proto"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/wasmext/wasmext/api/v1alpha1"
	"github.com/wasmext/wasmext/internal/module"
	"github.com/wasmext/wasmext/internal/oci"
)

// credentials applies the cluster policy, then reads the pull Secret if the
// extension names one. Only a kubernetes.io/dockerconfigjson Secret in the
// extension's own namespace is ever read.
func (r *WasmExtensionReconciler) credentials(ctx context.Context, s *scope) error {
	src := s.ext.Spec.Module
	ref, err := oci.ParseReference(src.Image)
	if err != nil {
		return stepError(v1alpha1.ConditionModuleFetched, err)
	}
	// The cluster policy is applied before any network access: a refused
	// registry is never contacted.
	pol := r.Policy.Get()
	if err := pol.Check(&s.ext.Spec, ref.Registry, ref.Repository); err != nil {
		return stepError(v1alpha1.ConditionModuleFetched, err)
	}
	s.request = oci.Request{Image: src.Image, Insecure: pol.PlainHTTP(ref.Registry, src.Insecure)}
	s.tagged = ref.Digest == ""
	if src.PullSecretRef == nil {
		return nil
	}
	key := client.ObjectKey{Namespace: s.ext.Namespace, Name: src.PullSecretRef.Name}
	var secret corev1.Secret
	if err := r.APIReader.Get(ctx, key, &secret); err != nil {
		if apierrors.IsNotFound(err) {
			err = fmt.Errorf("%w: Secret %s not found; create a kubernetes.io/dockerconfigjson Secret in namespace %s",
				errPullSecretNotFound, key.Name, key.Namespace)
		}
		return stepError(v1alpha1.ConditionModuleFetched, err)
	}
	if secret.Type != corev1.SecretTypeDockerConfigJson {
		return stepError(v1alpha1.ConditionModuleFetched, fmt.Errorf("%w: Secret %s has type %q, want %q",
			oci.ErrInvalidPullSecret, key.Name, secret.Type, corev1.SecretTypeDockerConfigJson))
	}
	cred, err := oci.CredentialFromDockerConfigJSON(secret.Data[corev1.DockerConfigJsonKey], ref.Registry)
	if err != nil {
		return stepError(v1alpha1.ConditionModuleFetched, fmt.Errorf("Secret %s: %w", key.Name, err))
	}
	s.request.Credential = cred
	s.secretVersion = secret.ResourceVersion
	return nil
}

// resolve turns the tag into a manifest digest: one manifest request, made
// with the extension's own credentials, so a cached module is only ever
// used by extensions that may read it. A resolution is reused until the
// extension's interval has passed (reconciles caused by watch events do not
// ask the registry again), unless the image, transport or pull Secret
// changed.
func (r *WasmExtensionReconciler) resolve(ctx context.Context, s *scope) error {
	res, ok := r.resolutions.get(s, interval(s.ext))
	if !ok {
		var err error
		if res, err = r.Resolver.Resolve(ctx, s.request); err != nil {
			return stepError(v1alpha1.ConditionModuleFetched, err)
		}
		r.resolutions.put(s, res)
	}
	s.resolved = res
	if pin := s.ext.Spec.Module.Digest; pin != "" && pin != res.Digest.String() {
		return stepError(v1alpha1.ConditionModuleFetched, fmt.Errorf("%w: %s resolved to %s, but module.digest pins %s; nothing else is accepted",
			oci.ErrDigestMismatch, s.ext.Spec.Module.Image, res.Digest, pin))
	}
	return nil
}

// load returns the facts of the resolved module. When status already
// describes this exact repository@digest (steady state), nothing is pulled;
// otherwise the loader fetches and inspects it, once per distinct digest.
func (r *WasmExtensionReconciler) load(ctx context.Context, s *scope) error {
	if m := s.ext.Status.Module; m != nil && m.Digest == s.resolved.Digest.String() &&
		m.Repository == s.resolved.Repository && m.ABI != "" {
		s.facts = factsFromStatus(m)
	} else {
		f, pulled, err := r.Loader.Load(ctx, s.request, s.resolved.Repository, s.resolved.Digest)
		if err != nil {
			if conditionForLoadError(err) == v1alpha1.ConditionModuleValidated {
				s.pass(v1alpha1.ConditionModuleFetched, "Fetched "+s.resolved.Repository+"@"+s.resolved.Digest.String())
			}
			return stepError(conditionForLoadError(err), err)
		}
		s.facts, s.fetched = &f, pulled
	}
	s.pass(v1alpha1.ConditionModuleFetched, fetchedMessage(s.facts))
	s.pass(v1alpha1.ConditionModuleValidated, validatedMessage(s.facts))
	return nil
}

func factsFromStatus(m *v1alpha1.ModuleStatus) *module.Facts {
	return &module.Facts{Repository: m.Repository, Digest: m.Digest, SHA256: m.SHA256,
		Size: m.Size, Format: oci.Format(m.Format), ABI: m.ABI}
}

// renderAndApply renders the objects of the chosen output and applies each
// unless the live object already matches; after a switch of output, the
// old objects are deleted only once the new ones exist.
func (r *WasmExtensionReconciler) renderAndApply(ctx context.Context, s *scope) error {
	var served Served
	if r.Served != nil {
		served = r.Served()
	} else {
		served = Served{v1alpha1.OutputWasmPlugin: true}
	}
	kind, why, err := chooseOutput(s.ext.Spec.Output, served)
	if err != nil {
		return stepError(v1alpha1.ConditionRendered, err)
	}
	desired, err := r.desiredObjects(s, kind)
	if err != nil {
		return stepError(v1alpha1.ConditionRendered, err)
	}
	rendered := make([]v1alpha1.RenderedObject, 0, len(desired))
	for _, d := range desired {
		gvk := d.GetObjectKind().GroupVersionKind()
		rendered = append(rendered, v1alpha1.RenderedObject{APIVersion: gvk.GroupVersion().String(), Kind: gvk.Kind, Name: d.GetName()})
	}
	s.rendered = rendered
	for _, d := range desired {
		applied, err := r.applyObject(ctx, s.ext, d)
		if err != nil {
			return stepError(v1alpha1.ConditionRendered, err)
		}
		s.applied = s.applied || applied
	}
	if err := r.prune(ctx, s.ext, rendered); err != nil {
		return stepError(v1alpha1.ConditionRendered, err)
	}
	s.pass(v1alpha1.ConditionRendered, "Applied "+renderedNames(rendered)+" ("+why+")")
	return nil
}

// applyObject server-side applies desired when the cached live object
// differs from it. It reports whether it wrote. An object of that name that
// belongs to someone else is never taken over.
func (r *WasmExtensionReconciler) applyObject(ctx context.Context, ext *v1alpha1.WasmExtension, desired client.Object) (bool, error) {
	live := newEmpty(desired)
	err := r.Get(ctx, client.ObjectKeyFromObject(desired), live)
	switch {
	case err == nil && upToDate(live, desired, ext):
		return false, nil
	case err == nil:
		// Ours (the cache only holds labeled objects) but drifted: repair.
		return true, r.apply(ctx, desired, true)
	case !apierrors.IsNotFound(err):
		return false, err
	}
	err = r.apply(ctx, desired, false)
	if !apierrors.IsConflict(err) {
		return true, err
	}
	// A field conflict on an object the cache does not show: ours with the
	// label removed by hand (take it back), or someone else's (refuse).
	if err := r.APIReader.Get(ctx, client.ObjectKeyFromObject(desired), live); err != nil {
		return false, err
	}
	if !metav1.IsControlledBy(live, ext) {
		return false, fmt.Errorf("%w: %s %s/%s exists and is not managed by this WasmExtension; rename the extension or delete that object",
			errNameConflict, desired.GetObjectKind().GroupVersionKind().Kind, live.GetNamespace(), live.GetName())
	}
	return true, r.apply(ctx, desired, true)
}

func upToDate(live, desired client.Object, ext *v1alpha1.WasmExtension) bool {
	if !metav1.IsControlledBy(live, ext) || !proto.Equal(specOf(live), specOf(desired)) {
		return false
	}
	for k, v := range desired.GetLabels() {
		if live.GetLabels()[k] != v {
			return false
		}
	}
	for k, v := range desired.GetAnnotations() {
		if live.GetAnnotations()[k] != v {
			return false
		}
	}
	return true
}

// apply server-side applies obj as FieldOwner. force takes back fields a
// person changed by hand.
func (r *WasmExtensionReconciler) apply(ctx context.Context, obj client.Object, force bool) error {
	u, err := toUnstructured(obj)
	if err != nil {
		return err
	}
	opts := []client.ApplyOption{client.FieldOwner(FieldOwner)}
	if force {
		opts = append(opts, client.ForceOwnership)
	}
	return r.Client.Apply(ctx, client.ApplyConfigurationFromUnstructured(u), opts...)
}

// toUnstructured converts a typed object through its JSON form (Istio's
// types marshal with protojson), dropping status, which the owner of the
// object's status writes.
func toUnstructured(obj client.Object) (*unstructured.Unstructured, error) {
	b, err := json.Marshal(obj)
	if err != nil {
		return nil, err
	}
	u := &unstructured.Unstructured{}
	if err := json.Unmarshal(b, &u.Object); err != nil {
		return nil, err
	}
	delete(u.Object, "status")
	unstructured.RemoveNestedField(u.Object, "metadata", "creationTimestamp")
	return u, nil
}

var (
	errPullSecretNotFound = errors.New("pull secret not found")
	errNameConflict       = errors.New("name conflict")
)
