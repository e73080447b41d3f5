package controllers

import (
	"fmt"
	"runtime"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/runtime/serializer"

	"github.com/wasmext/wasmext/internal/scheme"
)

// benchExtensionJSON and benchRenderedJSON are an extension and the
// TrafficExtension rendered for it as the API server sends them once Ready
// (as make bench creates them: a selector and a plugin config of their
// own), with NAME, NS, UID and I standing for what differs per object.
const benchExtensionJSON = `{"apiVersion":"wasmext.io/v1alpha1","kind":"WasmExtension","metadata":{"name":"NAME","namespace":"NS","uid":"UID","resourceVersion":"1I","generation":1,"creationTimestamp":"2026-12-01T17:38:59Z",` +
	`"managedFields":[{"manager":"bench","operation":"Update","apiVersion":"wasmext.io/v1alpha1","time":"2026-12-01T17:38:59Z","fieldsType":"FieldsV1","fieldsV1":{"f:spec":{".":{},"f:module":{".":{},"f:image":{}}}}}]},` +
	`"spec":{"module":{"image":"127.0.0.1:5000/bench/m7:v1","insecure":true},"output":"TrafficExtension","type":"HTTP","phase":"AUTHN","failStrategy":"FailClose","imagePullPolicy":"IfNotPresent",` +
	`"selector":{"matchLabels":{"app":"app-I"}},"priority":10,"pluginConfig":{"header":"x-bench","value":"I"}},` +
	`"status":{"observedGeneration":1,"conditions":[` +
	`{"type":"ModuleFetched","status":"True","observedGeneration":1,"lastTransitionTime":"2026-12-01T17:38:59Z","reason":"Succeeded","message":"Fetched 127.0.0.1:5000/bench/m7@sha256:e3b369f700bb891d866be65bfe746da6b4d500d55ddee5e83df37a947ee8f20e (cncf, 499 bytes, sha256 71c6f1f98d629a89d45f14568a72e8204ede0780ef30edad2a94b709603cac62)"},` +
	`{"type":"ModuleValidated","status":"True","observedGeneration":1,"lastTransitionTime":"2026-12-01T17:38:59Z","reason":"Succeeded","message":"Valid Proxy-Wasm module (proxy_abi_version_0_2_1); dry run passed (entry point _initialize, 180µs)"},` +
	`{"type":"Rendered","status":"True","observedGeneration":1,"lastTransitionTime":"2026-12-01T17:38:59Z","reason":"Succeeded","message":"Applied TrafficExtension NAME (output TrafficExtension)"},` +
	`{"type":"Ready","status":"True","observedGeneration":1,"lastTransitionTime":"2026-12-01T17:38:59Z","reason":"Succeeded","message":"TrafficExtension NAME serves 127.0.0.1:5000/bench/m7@sha256:e3b369f700bb891d866be65bfe746da6b4d500d55ddee5e83df37a947ee8f20e"}],` +
	`"module":{"repository":"127.0.0.1:5000/bench/m7","digest":"sha256:e3b369f700bb891d866be65bfe746da6b4d500d55ddee5e83df37a947ee8f20e","sha256":"71c6f1f98d629a89d45f14568a72e8204ede0780ef30edad2a94b709603cac62","size":499,"format":"cncf","abi":"proxy_abi_version_0_2_1","delivery":"Cache",` +
	`"url":"http://127.0.0.1:46137/modules/43582b4b0a70a35ef1158638e84846b4e534ec37724cb69ed49727631e207a56/71c6f1f98d629a89d45f14568a72e8204ede0780ef30edad2a94b709603cac62.wasm","confirmedAt":"2026-12-01T17:38:59Z",` +
	`"dryRun":{"input":"655031eb48ef9a21b9a6308c4e64843fcc88e0534f0c4aede4afc72364f14426","entryPoint":"_initialize","duration":"180µs"}},` +
	`"rendered":[{"apiVersion":"extensions.istio.io/v1alpha1","kind":"TrafficExtension","name":"NAME"}]}}`

const benchRenderedJSON = `{"apiVersion":"extensions.istio.io/v1alpha1","kind":"TrafficExtension","metadata":{"name":"NAME","namespace":"NS","uid":"R-UID","resourceVersion":"2I","generation":1,"creationTimestamp":"2026-12-01T17:38:59Z",` +
	`"annotations":{"wasmext.io/module":"oci://127.0.0.1:5000/bench/m7@sha256:e3b369f700bb891d866be65bfe746da6b4d500d55ddee5e83df37a947ee8f20e"},` +
	`"labels":{"app.kubernetes.io/managed-by":"wasmext","wasmext.io/extension":"NAME"},` +
	`"ownerReferences":[{"apiVersion":"wasmext.io/v1alpha1","kind":"WasmExtension","name":"NAME","uid":"UID","controller":true,"blockOwnerDeletion":true}],` +
	`"managedFields":[{"manager":"wasmext","operation":"Apply","apiVersion":"extensions.istio.io/v1alpha1","time":"2026-12-01T17:38:59Z","fieldsType":"FieldsV1","fieldsV1":{"f:spec":{"f:phase":{},"f:priority":{},"f:selector":{}}}}]},` +
	`"spec":{"selector":{"matchLabels":{"app":"app-I"}},"phase":"AUTHN","priority":10,"wasm":{"url":"http://127.0.0.1:46137/modules/43582b4b0a70a35ef1158638e84846b4e534ec37724cb69ed49727631e207a56/71c6f1f98d629a89d45f14568a72e8204ede0780ef30edad2a94b709603cac62.wasm",` +
	`"sha256":"71c6f1f98d629a89d45f14568a72e8204ede0780ef30edad2a94b709603cac62","type":"HTTP","pluginConfig":{"header":"x-bench","value":"I"}}}}`

// BenchmarkCachedObject measures what one cached object keeps on the heap,
// decoded as the informers decode it and through the cache's transform:
// 10,000 objects per iteration, over 100 namespaces; the figure is
// retained-bytes/object (B/op counts what decoding allocates on the way).
func BenchmarkCachedObject(b *testing.B) {
	s, err := scheme.New()
	if err != nil {
		b.Fatal(err)
	}
	dec := serializer.NewCodecFactory(s).UniversalDeserializer()
	for _, bc := range []struct{ name, js string }{{"WasmExtension", benchExtensionJSON}, {"TrafficExtension", benchRenderedJSON}} {
		b.Run(bc.name, func(b *testing.B) {
			const n = 10000
			docs := make([][]byte, n)
			for i := range docs {
				docs[i] = []byte(strings.NewReplacer("NAME", fmt.Sprintf("ext-%05d", i), "NS", fmt.Sprintf("ns-%03d", i%100),
					"UID", fmt.Sprintf("0c8f3a2e-5b6d-4e7f-9a1b-%012d", i), "I", fmt.Sprint(i)).Replace(bc.js))
			}
			var retained int64
			for b.Loop() {
				keep := make([]any, n)
				var before, after runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&before)
				for i, d := range docs {
					o, _, err := dec.Decode(d, nil, nil)
					if err != nil {
						b.Fatal(err)
					}
					if keep[i], err = transformCached(o); err != nil {
						b.Fatal(err)
					}
				}
				runtime.GC()
				runtime.ReadMemStats(&after)
				retained += int64(after.HeapAlloc) - int64(before.HeapAlloc)
				runtime.KeepAlive(keep)
			}
			b.ReportMetric(float64(retained)/float64(b.N)/n, "retained-bytes/object")
		})
	}
}
