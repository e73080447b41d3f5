package oci

import (
	"bytes"
	"testing"
)

// TestLayoutShadowingEntry: a reader that takes the first entry whose base
// name is plugin.wasm (istio-agent) would read lib/plugin.wasm; the operator
// reads ./plugin.wasm and says which entry would shadow it.
func TestLayoutShadowingEntry(t *testing.T) {
	wasm := []byte("\x00asm\x01\x00\x00\x00verified")
	lim := limits{module: 1 << 20, decompressed: 1 << 20}
	for _, tc := range []struct {
		name    string
		gz      bool
		entries []entry
		shadow  string
	}{
		{"plain", true, []entry{{name: "plugin.wasm", data: wasm}}, ""},
		{"shadowed", true, []entry{{name: "lib/plugin.wasm", data: []byte("other")}, {name: "./plugin.wasm", data: wasm}}, "lib/plugin.wasm"},
		{"after is harmless", false, []entry{{name: "plugin.wasm", data: wasm}, {name: "lib/plugin.wasm", data: []byte("other")}}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for i := range tc.entries {
				if tc.entries[i].typ == 0 {
					tc.entries[i].typ = '0'
				}
			}
			b, l, err := extractWithLayout(bytes.NewReader(archive(t, tc.gz, tc.entries...)), lim)
			if err != nil || !bytes.Equal(b, wasm) {
				t.Fatalf("extract = %q, %v; want the verified bytes", b, err)
			}
			if l.ShadowingEntry != tc.shadow || l.LayerGzip != tc.gz {
				t.Fatalf("layout = %+v, want shadow %q gzip %v", l, tc.shadow, tc.gz)
			}
		})
	}
}
