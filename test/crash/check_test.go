package crash

import (
	"fmt"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/wasmext/wasmext/api/v1alpha1"
	"github.com/wasmext/wasmext/internal/render"
)

// module is one pushed module: what an extension asks for, and what its
// status and rendered object must then name.
type module struct {
	image  string // registry/repository:tag, as in spec.module.image
	repo   string // registry/repository
	digest string // manifest digest
	sha256 string // hex sha256 of the .wasm bytes
}

// rendered is one object of an output kind as the checks see it.
type rendered struct {
	kind, namespace, name string
	labels                map[string]string
	owner                 *metav1.OwnerReference // the controller reference, nil when none
	url, sha256           string                 // a WasmPlugin's spec.url and spec.sha256
}

func (o rendered) String() string { return o.kind + " " + o.namespace + "/" + o.name }

// check returns every way the extensions and the objects of the output
// kinds differ from what the test applied (want: the module each extension
// names now): an extension missing, not Ready for its generation or
// reporting another module; not exactly one object controlled by it, or
// one not serving status.module from the module server (moduleServer, its
// base URL); a sha256 served at two URLs; an object of the operator's
// without a live owner, or that its finalizer would not find.
func check(exts []v1alpha1.WasmExtension, objs []rendered, want map[types.NamespacedName]module, moduleServer string) []string {
	var problems []string
	live := map[types.UID]*v1alpha1.WasmExtension{}
	for i := range exts {
		live[exts[i].UID] = &exts[i]
	}
	owned := map[types.UID][]rendered{}
	for _, o := range objs {
		p, uid := ownership(o, live)
		if p != "" {
			problems = append(problems, p)
		}
		if uid != "" {
			owned[uid] = append(owned[uid], o)
		}
	}
	seen := map[types.NamespacedName]bool{}
	urls := map[string]map[string]bool{} // sha256 → URLs
	for i := range exts {
		e := &exts[i]
		key := types.NamespacedName{Namespace: e.Namespace, Name: e.Name}
		seen[key] = true
		m, ok := want[key]
		if !ok {
			problems = append(problems, fmt.Sprintf("%s: an extension the test did not apply", key))
			continue
		}
		problems = append(problems, checkExtension(e, m, owned[e.UID], moduleServer)...)
		if st := e.Status.Module; st != nil {
			if urls[st.SHA256] == nil {
				urls[st.SHA256] = map[string]bool{}
			}
			urls[st.SHA256][st.URL] = true
		}
	}
	for key := range want {
		if !seen[key] {
			problems = append(problems, fmt.Sprintf("%s: missing", key))
		}
	}
	for sha, u := range urls {
		if len(u) > 1 {
			problems = append(problems, fmt.Sprintf("sha256 %s is served at %d URLs: %s", sha, len(u), strings.Join(sortedKeys(u), ", ")))
		}
	}
	sort.Strings(problems)
	return problems
}

// ownership returns what is wrong with o's ownership, and the UID of the
// extension that controls it ("" when none does).
func ownership(o rendered, live map[types.UID]*v1alpha1.WasmExtension) (string, types.UID) {
	managed := o.labels[render.LabelManagedBy] == render.ManagedBy
	c := o.owner
	ours := c != nil && c.Kind == "WasmExtension" && c.APIVersion == v1alpha1.GroupVersion.String()
	switch {
	case !managed && !ours:
		return "", "" // not the operator's
	case !ours:
		return fmt.Sprintf("%s: orphaned: labeled %s=%s, and no WasmExtension controls it", o, render.LabelManagedBy, render.ManagedBy), ""
	case live[c.UID] == nil:
		return fmt.Sprintf("%s: orphaned: its controller WasmExtension %s (uid %s) is gone", o, c.Name, c.UID), ""
	case live[c.UID].Name != c.Name || live[c.UID].Namespace != o.namespace:
		return fmt.Sprintf("%s: controlled by uid %s, which is %s/%s, not %s", o, c.UID, live[c.UID].Namespace, live[c.UID].Name, c.Name), ""
	case !managed || o.labels[render.LabelExtension] != c.Name:
		return fmt.Sprintf("%s: labels %v: the finalizer (which deletes by %s=%s, %s=%s) would leave it behind",
			o, o.labels, render.LabelManagedBy, render.ManagedBy, render.LabelExtension, c.Name), c.UID
	}
	return "", c.UID
}

// checkExtension checks one extension against the module it names and the
// objects it controls.
func checkExtension(e *v1alpha1.WasmExtension, m module, owned []rendered, moduleServer string) []string {
	key := e.Namespace + "/" + e.Name
	var p []string
	if !readyForGeneration(e) {
		p = append(p, fmt.Sprintf("%s: not Ready for generation %d (%s)", key, e.Generation, readySummary(e)))
	}
	st := e.Status.Module
	if st == nil {
		return append(p, key+": no status.module")
	}
	if st.Repository != m.repo || st.Digest != m.digest || st.SHA256 != m.sha256 {
		p = append(p, fmt.Sprintf("%s: status.module is %s@%s (sha256 %s), want %s@%s (sha256 %s) for %s",
			key, st.Repository, st.Digest, st.SHA256, m.repo, m.digest, m.sha256, m.image))
	}
	if !strings.HasPrefix(st.URL, moduleServer+"/") {
		p = append(p, fmt.Sprintf("%s: status.module.url %q is not the module server's (%s)", key, st.URL, moduleServer))
	}
	if len(owned) != 1 {
		p = append(p, fmt.Sprintf("%s: controls %d rendered objects %v, want exactly 1", key, len(owned), owned))
	}
	for _, o := range owned {
		if (e.Spec.Output != v1alpha1.OutputAuto && o.kind != string(e.Spec.Output)) || o.name != e.Name {
			p = append(p, fmt.Sprintf("%s: renders %s, want %s %s/%s", key, o, e.Spec.Output, e.Namespace, e.Name))
		}
		if o.kind == "WasmPlugin" && (o.url != st.URL || o.sha256 != st.SHA256) {
			p = append(p, fmt.Sprintf("%s: %s loads %q (sha256 %q), status.module says %q (sha256 %q)", key, o, o.url, o.sha256, st.URL, st.SHA256))
		}
	}
	return p
}

// readyForGeneration tells whether e is Ready for its current generation.
func readyForGeneration(e *v1alpha1.WasmExtension) bool {
	c := meta.FindStatusCondition(e.Status.Conditions, v1alpha1.ConditionReady)
	return c != nil && c.Status == metav1.ConditionTrue && c.ObservedGeneration == e.Generation &&
		e.Status.ObservedGeneration == e.Generation
}

func readySummary(e *v1alpha1.WasmExtension) string {
	c := meta.FindStatusCondition(e.Status.Conditions, v1alpha1.ConditionReady)
	if c == nil {
		return "no Ready condition"
	}
	return fmt.Sprintf("Ready=%s %s for generation %d: %s", c.Status, c.Reason, c.ObservedGeneration, c.Message)
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
