package ocitest

import (
	"context"
	"net/http"
	"testing"

	"github.com/wasmext/wasmext/internal/oci"
)

func TestClassifyPath(t *testing.T) {
	tests := []struct{ path, repo, kind, ref string }{
		{"/v2/acme/filter/manifests/1.0", "acme/filter", "manifests", "1.0"},
		{"/v2/a/b/c/blobs/sha256:ab", "a/b/c", "blobs", "sha256:ab"},
		{"/v2/acme/filter/blobs/uploads/", "acme/filter", "uploads", ""},
		{"/v2/acme/filter/blobs/uploads/123", "acme/filter", "uploads", ""},
		{"/v2/acme/filter/tags/list", "acme/filter", "tags", "list"},
		{"/v2/acme/filter/referrers/sha256:ab", "acme/filter", "referrers", "sha256:ab"},
		{"/v2/", "", "", ""},
		{"/", "", "", ""},
	}
	for _, tt := range tests {
		repo, kind, ref := classifyPath(tt.path)
		if repo != tt.repo || kind != tt.kind || ref != tt.ref {
			t.Errorf("classifyPath(%q) = %q, %q, %q; want %q, %q, %q", tt.path, repo, kind, ref, tt.repo, tt.kind, tt.ref)
		}
	}
}

func TestStartRegistry(t *testing.T) {
	r, err := StartRegistry()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Push(context.Background(), r.Host, "acme/x:1", oci.FormatCNCF, []byte("\x00asm"), Gzip(false)); err != nil {
		t.Fatal(err)
	}
	if c := r.Counts(); c.Total == 0 || c.Other == 0 || c.Total != c.ManifestGET+c.ManifestHEAD+c.BlobGET+c.BlobHEAD+c.Other {
		t.Errorf("counts after push = %+v", c)
	}
	r.Reset()
	if c := r.Counts(); c != (Counts{}) {
		t.Errorf("counts after Reset = %+v", c)
	}
	// The referrers API is on.
	resp, err := http.Get("http://" + r.Host + "/v2/acme/x/referrers/sha256:" + "0000000000000000000000000000000000000000000000000000000000000000")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("referrers API answered %d", resp.StatusCode)
	}
	r.Close()
	if _, err := http.Get("http://" + r.Host + "/v2/"); err == nil {
		t.Error("registry still serving after Close")
	}
}

func TestBuildManifestRejectsUnknownFormat(t *testing.T) {
	if _, err := BuildManifest("zip", nil); err == nil {
		t.Fatal("want an error")
	}
}
