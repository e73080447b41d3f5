package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/wasmext/wasmext/api/v1alpha1"
)

// report prints the extensions, their status and Events and the objects
// rendered for them; with -keep it then waits for Ctrl-C.
func (d *demo) report(ctx context.Context, exts []*v1alpha1.WasmExtension) error {
	section("WasmExtensions (kubectl get wasmextensions -A -o wide)")
	printExtensions(exts)
	for _, ext := range exts {
		if err := d.printExtension(ctx, ext); err != nil {
			return err
		}
	}
	fmt.Printf("\nThe demo took %s.\n", since(d.start))
	if !d.o.keep {
		return nil
	}
	return d.keepRunning(ctx)
}

// printExtensions prints a table like kubectl get -o wide.
func printExtensions(exts []*v1alpha1.WasmExtension) {
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 3, ' ', 0)
	fmt.Fprintln(tw, "NAMESPACE\tNAME\tIMAGE\tDIGEST\tREADY\tREASON\tAGE")
	for _, ext := range exts {
		ready := meta.FindStatusCondition(ext.Status.Conditions, v1alpha1.ConditionReady)
		digest := ""
		if ext.Status.Module != nil {
			digest = ext.Status.Module.Digest
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", ext.Namespace, ext.Name, ext.Spec.Module.Image, digest,
			ready.Status, ready.Reason, age(ext.CreationTimestamp.Time))
	}
	_ = tw.Flush()
}

// printExtension prints the status and Events of ext and what was rendered
// for it.
func (d *demo) printExtension(ctx context.Context, ext *v1alpha1.WasmExtension) error {
	section(fmt.Sprintf("Status of WasmExtension %s/%s", ext.Namespace, ext.Name))
	if m := ext.Status.Module; m != nil {
		fmt.Printf("module:   %s@%s\n", m.Repository, m.Digest)
		fmt.Printf("          format %s, %d bytes, sha256 %s, ABI %s\n", m.Format, m.Size, m.SHA256, m.ABI)
	}
	for _, r := range ext.Status.Rendered {
		fmt.Printf("rendered: %s %s/%s\n", r.Kind, ext.Namespace, r.Name)
	}
	fmt.Printf("observedGeneration: %d (generation %d)\n\n", ext.Status.ObservedGeneration, ext.Generation)
	fmt.Print(conditionsTable(ext))

	section(fmt.Sprintf("Events of WasmExtension %s/%s", ext.Namespace, ext.Name))
	if err := d.printEvents(ctx, ext); err != nil {
		return err
	}
	for _, r := range ext.Status.Rendered {
		if err := d.printRendered(ctx, ext, r); err != nil {
			return err
		}
	}
	return nil
}

// printRendered prints the rendered object r of ext and fails unless every
// module URL in it is pinned.
func (d *demo) printRendered(ctx context.Context, ext *v1alpha1.WasmExtension, r v1alpha1.RenderedObject) error {
	section(fmt.Sprintf("Rendered %s %s/%s (kubectl get %s %s -o yaml, managedFields left out)",
		r.Kind, ext.Namespace, r.Name, strings.ToLower(r.Kind), r.Name))
	u := &unstructured.Unstructured{}
	u.SetAPIVersion(r.APIVersion)
	u.SetKind(r.Kind)
	if err := d.c.Get(ctx, client.ObjectKey{Namespace: ext.Namespace, Name: r.Name}, u); err != nil {
		return fmt.Errorf("reading rendered %s %s: %w", r.Kind, r.Name, err)
	}
	unstructured.RemoveNestedField(u.Object, "metadata", "managedFields")
	y, err := yaml.Marshal(u.Object)
	if err != nil {
		return err
	}
	fmt.Print(string(y))
	urls := moduleURLs(u.Object["spec"], "spec")
	if len(urls) == 0 {
		return fmt.Errorf("rendered %s %s names no module URL", r.Kind, r.Name)
	}
	for _, mu := range urls {
		fmt.Printf("\n=> %s %s is %s\n", mu.path, mu.url, mu.pinning())
		if mu.pinning() == "" {
			return fmt.Errorf("rendered %s %s has %s %q, which is not pinned", r.Kind, r.Name, mu.path, mu.url)
		}
		if err := fetchLikeAProxy(ctx, mu); err != nil {
			return err
		}
	}
	return nil
}

// fetchLikeAProxy GETs an http(s) module URL as istio-agent would and
// checks the bytes against the rendered sha256.
func fetchLikeAProxy(ctx context.Context, mu moduleURL) error {
	if !strings.HasPrefix(mu.url, "http://") && !strings.HasPrefix(mu.url, "https://") {
		return nil
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, mu.url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("fetching the module as a proxy would: %w", err)
	}
	defer resp.Body.Close()
	h := sha256.New()
	n, err := io.Copy(h, resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		return fmt.Errorf("fetching the module as a proxy would: HTTP %d, %v", resp.StatusCode, err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != mu.sha256 {
		return fmt.Errorf("the module server sent %d bytes with sha256 %s, the rendered object says %s", n, got, mu.sha256)
	}
	fmt.Printf("=> GET %s: HTTP 200, %d bytes, sha256 matches: a proxy loads exactly the verified module\n", mu.url, n)
	return nil
}

// keepRunning prints how to reach what runs and waits for Ctrl-C.
func (d *demo) keepRunning(ctx context.Context) error {
	section("Left running (-keep); Ctrl-C stops everything")
	fmt.Printf("kubeconfig:   %s\n", d.env.Kubeconfig)
	fmt.Printf("registry:     %s (%s)\n", d.reg.host, d.reg.kind)
	fmt.Printf("operator:     pid %d, log %s\n", d.op.Pid, d.opLog())
	fmt.Printf("\n  kubectl --kubeconfig %s get wasmextensions -A\n", d.env.Kubeconfig)
	fmt.Printf("  kubectl --kubeconfig %s get wasmplugins -A -o yaml\n\n", d.env.Kubeconfig)
	select {
	case <-ctx.Done():
		fmt.Println("\nstopping")
	case <-d.op.Exited():
		return fmt.Errorf("the operator exited\n%s", d.op.Tail(20))
	}
	return nil
}

// moduleURL is a URL found in a rendered object's spec.
type moduleURL struct {
	path, url, sha256 string
}

// pinning says how the URL is pinned: by manifest digest (oci://…@sha256:…)
// or by a SHA-256 next to it (http(s)://…); "" when it is not.
func (m moduleURL) pinning() string {
	switch {
	case strings.HasPrefix(m.url, "oci://") && strings.Contains(m.url, "@sha256:"):
		return "digest-pinned"
	case m.sha256 != "":
		return "pinned by sha256 " + m.sha256
	}
	return ""
}

// moduleURLs finds the fields named url or uri (WasmPlugin spec.url,
// TrafficExtension spec.wasm.url, an EnvoyFilter's remote http_uri.uri) and
// the sha256 beside them or their parent.
func moduleURLs(v any, path string) []moduleURL {
	var out []moduleURL
	switch t := v.(type) {
	case map[string]any:
		for _, k := range []string{"url", "uri"} {
			if s, ok := t[k].(string); ok && strings.Contains(s, "://") {
				out = append(out, moduleURL{path: path + "." + k, url: s})
			}
		}
		for k, c := range t {
			out = append(out, moduleURLs(c, path+"."+k)...)
		}
		if sha, ok := t["sha256"].(string); ok && sha != "" {
			for i := range out {
				if out[i].sha256 == "" {
					out[i].sha256 = sha
				}
			}
		}
	case []any:
		for i, c := range t {
			out = append(out, moduleURLs(c, fmt.Sprintf("%s[%d]", path, i))...)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].path < out[j].path })
	return out
}

// printEvents lists the events.k8s.io Events about ext, waiting a moment for
// those the operator's event broadcaster has not sent yet.
func (d *demo) printEvents(ctx context.Context, ext *v1alpha1.WasmExtension) error {
	var evs []eventsv1.Event
	for deadline, last := time.Now().Add(3*time.Second), -1; ; {
		var list eventsv1.EventList
		if err := d.c.List(ctx, &list, client.InNamespace(ext.Namespace)); err != nil {
			return fmt.Errorf("listing Events: %w", err)
		}
		evs = evs[:0]
		for _, e := range list.Items {
			if e.Regarding.UID == ext.UID {
				evs = append(evs, e)
			}
		}
		// Stop once the Events stopped changing and a fetch and an apply are in.
		if len(evs) == last && len(evs) >= 2 || time.Now().After(deadline) {
			break
		}
		last = len(evs)
		time.Sleep(300 * time.Millisecond)
	}
	sort.Slice(evs, func(i, j int) bool { return eventTime(evs[i]).Before(eventTime(evs[j])) })
	if len(evs) == 0 {
		fmt.Println("(no Events)")
		return nil
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 3, ' ', 0)
	fmt.Fprintln(tw, "TYPE\tREASON\tACTION\tAGE\tFROM\tMESSAGE")
	for _, e := range evs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", e.Type, e.Reason, e.Action, age(eventTime(e)), e.ReportingController, e.Note)
	}
	_ = tw.Flush()
	return nil
}

func eventTime(e eventsv1.Event) time.Time {
	if !e.EventTime.IsZero() {
		return e.EventTime.Time
	}
	return e.CreationTimestamp.Time
}

func conditionsTable(ext *v1alpha1.WasmExtension) string {
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 4, 3, ' ', 0)
	fmt.Fprintln(tw, "CONDITION\tSTATUS\tREASON\tAGE\tMESSAGE")
	for _, c := range ext.Status.Conditions {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", c.Type, c.Status, c.Reason, age(c.LastTransitionTime.Time), c.Message)
	}
	_ = tw.Flush()
	if len(ext.Status.Conditions) == 0 {
		return "(no conditions yet)\n"
	}
	return b.String()
}
