package cosign

import (
	"testing"

	"github.com/opencontainers/go-digest"
)

// The annotation and payload parsers take registry bytes as they come.

func FuzzParseRekorBundle(f *testing.F) {
	f.Add([]byte(`{"SignedEntryTimestamp":"AQID","Payload":{"body":"e30=","integratedTime":1,"logIndex":2,"logID":"abcd"}}`))
	f.Add([]byte(`{"SignedEntryTimestamp":"AQID","Payload":{"body":"eyJraW5kIjoiaGFzaGVkcmVrb3JkIiwiYXBpVmVyc2lvbiI6IjAuMC4xIn0=","logID":""}}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = parseRekorBundle(b)
	})
}

func FuzzCheckPayload(f *testing.F) {
	d := digest.FromString("x")
	f.Add([]byte(`{"critical":{"identity":{"docker-reference":"r"},"image":{"docker-manifest-digest":"` + d.String() + `"},"type":"cosign container image signature"},"optional":null}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		if err := checkPayload(b, d); err == nil && len(b) == 0 {
			t.Fatal("empty payload accepted")
		}
	})
}
