package controllers

import (
	"slices"
	"strings"
	"sync"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/wasmext/wasmext/api/v1alpha1"
	"github.com/wasmext/wasmext/internal/render"
)

// maxCachedStrings bounds the shared strings and dry-run records; past it they start
// again (objects keep the copies they have).
const maxCachedStrings = 1 << 14

// sharedStrings keeps one copy of what many cached objects hold alike.
// Decoding gives each object its own copy of every string and map; at
// 10,000 extensions over 200 modules in 100 namespaces (make bench -pprof)
// the decoded objects were most of the live heap.
//
//   - Extensions: the module's repository, digest, sha256, format, ABI and
//     URL, the dry run's record and the ModuleFetched, ModuleVerified and
//     ModuleValidated messages are the same for every extension of a
//     module (and trust material); condition types, statuses and reasons,
//     rendered kinds and namespaces are a handful. The name in
//     status.rendered is the extension's own.
//   - Rendered objects: label keys, the managed-by label, owner kinds and
//     namespaces are a handful; the owner's name is the object's.
//
// Strings that differ per object (names, UIDs, the other messages) are
// not kept here, so the set stays as small as the modules in use. Nothing
// mutates a cached object in place (the cache hands out deep copies), so
// sharing is safe.
type sharedStrings struct {
	mu     sync.Mutex
	m      map[string]string
	dryRun map[string]*v1alpha1.DryRunStatus
}

var cacheStrings sharedStrings

// Shared by every cached owner reference that says true or false.
var sharedTrue, sharedFalse = new(true), new(false)

// reset starts the sets again when they are full (or not made yet).
func (s *sharedStrings) reset() {
	if s.m == nil || len(s.m)+len(s.dryRun) >= maxCachedStrings {
		s.m = make(map[string]string, 256)
		s.dryRun = make(map[string]*v1alpha1.DryRunStatus, 64)
	}
}

// sharedMessages are the conditions whose messages depend on the module
// (and trust material) only, not on the extension.
var sharedMessages = map[string]bool{
	v1alpha1.ConditionModuleFetched:   true,
	v1alpha1.ConditionModuleVerified:  true,
	v1alpha1.ConditionModuleValidated: true,
}

func (s *sharedStrings) extension(ext *v1alpha1.WasmExtension) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reset()
	ext.Namespace = s.get(ext.Namespace)
	st := &ext.Status
	for i := range st.Conditions {
		c := &st.Conditions[i]
		s.one(&c.Type)
		s.one(&c.Reason)
		c.Status = metav1.ConditionStatus(s.get(string(c.Status)))
		if sharedMessages[c.Type] {
			s.one(&c.Message)
		}
	}
	for i := range st.Rendered {
		s.one(&st.Rendered[i].APIVersion)
		s.one(&st.Rendered[i].Kind)
		if st.Rendered[i].Name == ext.Name {
			st.Rendered[i].Name = ext.Name
		}
	}
	s.one(&ext.Spec.Module.Image)
	if m := st.Module; m != nil {
		for _, f := range []*string{&m.Repository, &m.Digest, &m.SHA256, &m.Format, &m.ABI, &m.URL, &m.Tag, &m.VerifiedBy} {
			s.one(f)
		}
		m.Delivery = v1alpha1.Delivery(s.get(string(m.Delivery)))
		m.DryRun = s.dryRunRecord(m.DryRun)
	}
}

// dryRunRecord is the one copy of a dry run's record with these values.
func (s *sharedStrings) dryRunRecord(d *v1alpha1.DryRunStatus) *v1alpha1.DryRunStatus {
	if d == nil {
		return nil
	}
	took := "-"
	if d.Duration != nil {
		took = d.Duration.Duration.String()
	}
	key := strings.Join([]string{d.Input, d.EntryPoint, d.Skipped, took}, "\x00")
	if w, ok := s.dryRun[key]; ok {
		return w
	}
	s.one(&d.Input)
	s.one(&d.EntryPoint)
	s.one(&d.Skipped)
	s.dryRun[key] = d
	return d
}

// rendered shares the metadata strings of a rendered object in the cache
// (its spec, status and annotations are gone by then) and adds the hash
// that stands for them to its labels (cachedSpecHash). The labels are its
// own map (the extension label differs per object), with shared keys and a
// shared managed-by value.
func (s *sharedStrings) rendered(o client.Object, hash string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reset()
	o.SetNamespace(s.get(o.GetNamespace()))
	name := o.GetName()
	l := s.keys(o.GetLabels(), name, render.LabelManagedBy)
	if l == nil {
		l = make(map[string]string, 1)
	}
	l[cachedSpecHash] = hash
	o.SetLabels(l)
	o.SetAnnotations(nil)
	refs := o.GetOwnerReferences()
	for i := range refs {
		r := &refs[i]
		s.one(&r.APIVersion)
		s.one(&r.Kind)
		if r.Name == name {
			r.Name = name
		}
		r.Controller, r.BlockOwnerDeletion = sharedBool(r.Controller), sharedBool(r.BlockOwnerDeletion)
	}
}

// keys is m with shared keys; a value equal to name is name's string, and
// the values of the shared keys are shared too.
func (s *sharedStrings) keys(m map[string]string, name string, shared ...string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	out := make(map[string]string, len(m)+1)
	for k, v := range m {
		switch {
		case v == name:
			v = name
		case slices.Contains(shared, k):
			v = s.get(v)
		}
		out[s.get(k)] = v
	}
	return out
}

func sharedBool(b *bool) *bool {
	switch {
	case b == nil:
		return nil
	case *b:
		return sharedTrue
	}
	return sharedFalse
}

func (s *sharedStrings) one(p *string) { *p = s.get(*p) }

func (s *sharedStrings) get(v string) string {
	if v == "" {
		return v
	}
	if w, ok := s.m[v]; ok {
		return w
	}
	s.m[v] = v
	return v
}
