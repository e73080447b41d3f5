package oci_test

import (
	"errors"
	"testing"

	"github.com/wasmext/wasmext/internal/oci"
)

const hexA = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"

func TestParseReference(t *testing.T) {
	tests := []struct {
		in      string
		want    oci.Reference
		str     string
		wantErr bool
	}{
		{in: "127.0.0.1:5000/acme/filter:1.0", want: oci.Reference{Registry: "127.0.0.1:5000", Repository: "acme/filter", Tag: "1.0"}, str: "127.0.0.1:5000/acme/filter:1.0"},
		{in: "ghcr.io/acme/filter", want: oci.Reference{Registry: "ghcr.io", Repository: "acme/filter", Tag: "latest"}, str: "ghcr.io/acme/filter:latest"},
		{in: "ghcr.io/acme/filter@sha256:" + hexA, want: oci.Reference{Registry: "ghcr.io", Repository: "acme/filter", Digest: "sha256:" + hexA}, str: "ghcr.io/acme/filter@sha256:" + hexA},
		{in: "ghcr.io/acme/filter:1.0@sha256:" + hexA, want: oci.Reference{Registry: "ghcr.io", Repository: "acme/filter", Tag: "1.0", Digest: "sha256:" + hexA}, str: "ghcr.io/acme/filter:1.0@sha256:" + hexA},
		{in: "oci://localhost/filter:v1", want: oci.Reference{Registry: "localhost", Repository: "filter", Tag: "v1"}, str: "localhost/filter:v1"},
		{in: "[::1]:5000/a/b:c", want: oci.Reference{Registry: "[::1]:5000", Repository: "a/b", Tag: "c"}, str: "[::1]:5000/a/b:c"},
		{in: "acme/filter:1.0", wantErr: true},     // no registry host
		{in: "filter", wantErr: true},              // no registry host
		{in: "ghcr.io/Acme/filter", wantErr: true}, // upper case repository
		{in: "ghcr.io/acme/filter:", wantErr: true},
		{in: "ghcr.io/acme/filter:bad tag", wantErr: true},
		{in: "ghcr.io/acme/filter@sha256:abc", wantErr: true},
		{in: "ghcr.io/", wantErr: true},
		{in: "", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := oci.ParseReference(tt.in)
			if tt.wantErr {
				if !errors.Is(err, oci.ErrInvalidReference) {
					t.Fatalf("err = %v, want ErrInvalidReference", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
			if got.String() != tt.str {
				t.Errorf("String() = %q, want %q", got.String(), tt.str)
			}
			if got.RepositoryURL() != tt.want.Registry+"/"+tt.want.Repository {
				t.Errorf("RepositoryURL() = %q", got.RepositoryURL())
			}
		})
	}
}

func FuzzParseReference(f *testing.F) {
	for _, s := range []string{"127.0.0.1:5000/acme/filter:1.0", "ghcr.io/a@sha256:" + hexA, "oci://x.io/a/b", "a/b", "::"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ref, err := oci.ParseReference(s)
		if err != nil {
			if !errors.Is(err, oci.ErrInvalidReference) {
				t.Fatalf("unclassified error %v", err)
			}
			return
		}
		again, err := oci.ParseReference(ref.String())
		if err != nil || again != ref {
			t.Fatalf("String() does not round-trip: %q -> %+v -> %q -> %+v, %v", s, ref, ref.String(), again, err)
		}
	})
}
