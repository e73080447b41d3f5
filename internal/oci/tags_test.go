package oci_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/wasmext/wasmext/internal/oci"
	"github.com/wasmext/wasmext/internal/oci/ocitest"
)

// pushTags pushes one small module to repo under each tag.
func pushTags(t *testing.T, reg *ocitest.Registry, repo string, tags ...string) {
	t.Helper()
	for _, tag := range tags {
		push(t, reg, repo+":"+tag, oci.FormatWasmToOCI, module("tags"))
	}
}

// TestListTags: every tag, once, in as many requests as pages (n=PageSize,
// then last=); the in-process registry sends no Link header, so this is
// the client-driven pagination.
func TestListTags(t *testing.T) {
	reg, f := setup(t, oci.Options{})
	want := []string{"1.0.0", "1.2.0", "1.3.0", "2.0.0", "latest", "v1.4.0", "x"}
	pushTags(t, reg, "acme/listed", want...)
	for _, c := range []struct {
		name     string
		lim      oci.TagLimits
		requests int64
	}{
		{"default limits: one page", oci.TagLimits{}, 1},
		{"pages of 3: three requests", oci.TagLimits{PageSize: 3}, 3},
		{"pages of 2: four requests", oci.TagLimits{PageSize: 2}, 4},
		// A full last page asks once more; that answer brings nothing new
		// (this registry answers a last= past every tag with the first page).
		{"pages of 1", oci.TagLimits{PageSize: 1}, 8},
		{"pages of exactly all tags", oci.TagLimits{PageSize: 7}, 2},
		{"cap equal to the tag count", oci.TagLimits{Max: 7, PageSize: 3}, 3},
	} {
		t.Run(c.name, func(t *testing.T) {
			reg.Reset()
			got, err := f.ListTags(context.Background(), request(reg, "acme/listed"), c.lim)
			if err != nil {
				t.Fatal(err)
			}
			slices.Sort(got)
			if !slices.Equal(got, want) {
				t.Fatalf("tags = %q, want %q", got, want)
			}
			if n := reg.CountsFor("acme/listed").Other; n != c.requests {
				t.Fatalf("%d tag list requests, want %d", n, c.requests)
			}
			if c := reg.CountsFor("acme/listed"); c.ManifestGET+c.ManifestHEAD+c.BlobGET+c.BlobHEAD != 0 {
				t.Fatalf("listing tags read manifests or blobs: %+v", c)
			}
		})
	}
}

// TestListTagsIgnoresReferenceTag: a tag or digest in the image is not a
// filter; the repository's tags are listed.
func TestListTagsIgnoresReferenceTag(t *testing.T) {
	reg, f := setup(t, oci.Options{})
	pushTags(t, reg, "acme/withtag", "1.0.0", "2.0.0")
	got, err := f.ListTags(context.Background(), request(reg, "acme/withtag:1.0.0"), oci.TagLimits{})
	if err != nil {
		t.Fatal(err)
	}
	if slices.Sort(got); !slices.Equal(got, []string{"1.0.0", "2.0.0"}) {
		t.Fatalf("tags = %q", got)
	}
}

// TestListTagsCap: more tags than Max fails with ErrTooLarge saying the
// listing stopped, after no more requests than the cap needs.
func TestListTagsCap(t *testing.T) {
	reg, f := setup(t, oci.Options{})
	pushTags(t, reg, "acme/many", "a", "b", "c", "d", "e", "f", "g")
	reg.Reset()
	_, err := f.ListTags(context.Background(), request(reg, "acme/many"), oci.TagLimits{Max: 5, PageSize: 3})
	wantErr(t, err, oci.ErrTooLarge, "more than 5 tags", "stopped", "acme/many")
	if n := reg.CountsFor("acme/many").Other; n != 2 {
		t.Fatalf("%d tag list requests, want 2 (the page holding the 6th tag ends the listing)", n)
	}
}

func TestListTagsErrors(t *testing.T) {
	reg, f := setup(t, oci.Options{})
	pushTags(t, reg, "acme/private", "1.0.0")
	_, err := f.ListTags(context.Background(), request(reg, "acme/missing"), oci.TagLimits{})
	wantErr(t, err, oci.ErrNotFound, "acme/missing")
	reg.RequireAuth("u", "p")
	_, err = f.ListTags(context.Background(), request(reg, "acme/private"), oci.TagLimits{})
	wantErr(t, err, oci.ErrUnauthorized)
	_, err = f.ListTags(context.Background(), oci.Request{Image: "acme/private"}, oci.TagLimits{})
	wantErr(t, err, oci.ErrInvalidReference)
}

// tagServer answers /v2/acme/x/tags/list with page(n, last, i) for the
// i-th request, and counts requests.
func tagServer(t *testing.T, page func(n, last string, i int64) (tags []string, link string)) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var count atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasSuffix(r.URL.Path, "/tags/list") {
			http.NotFound(w, r)
			return
		}
		i := count.Add(1)
		tags, link := page(r.URL.Query().Get("n"), r.URL.Query().Get("last"), i)
		if link != "" {
			w.Header().Set("Link", fmt.Sprintf("<%s>; rel=\"next\"", link))
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"name": "acme/x", "tags": tags})
	}))
	t.Cleanup(srv.Close)
	return srv, &count
}

func tagRequest(srv *httptest.Server) oci.Request {
	return oci.Request{Image: strings.TrimPrefix(srv.URL, "http://") + "/acme/x", Insecure: true}
}

// TestListTagsFollowsLink: a registry that pages with Link headers is
// followed to the end, and no last= request is added after it.
func TestListTagsFollowsLink(t *testing.T) {
	pages := [][]string{{"1.0.0", "1.1.0"}, {"1.2.0", "2.0.0"}, {"latest"}}
	srv, count := tagServer(t, func(_, _ string, i int64) ([]string, string) {
		if int(i) > len(pages) {
			return nil, ""
		}
		link := ""
		if int(i) < len(pages) {
			link = fmt.Sprintf("/v2/acme/x/tags/list?n=2&page=%d", i+1)
		}
		return pages[i-1], link
	})
	got, err := oci.NewFetcher(oci.Options{}).ListTags(context.Background(), tagRequest(srv), oci.TagLimits{PageSize: 2})
	if err != nil {
		t.Fatal(err)
	}
	if want := slices.Concat(pages...); !slices.Equal(got, want) {
		t.Fatalf("tags = %q, want %q", got, want)
	}
	if n := count.Load(); n != 3 {
		t.Fatalf("%d requests, want 3", n)
	}
}

// TestListTagsEndlessLink: a registry whose Link never ends (same page
// each time) is stopped by the page budget, with ErrTooLarge.
func TestListTagsEndlessLink(t *testing.T) {
	srv, count := tagServer(t, func(_, _ string, _ int64) ([]string, string) {
		return []string{"1.0.0", "1.1.0"}, "/v2/acme/x/tags/list?n=2&again=1"
	})
	lim := oci.TagLimits{Max: 10, PageSize: 2}
	_, err := oci.NewFetcher(oci.Options{}).ListTags(context.Background(), tagRequest(srv), lim)
	wantErr(t, err, oci.ErrTooLarge, "kept paging", "stopped")
	// 10 tags in pages of 2 is 5 pages; the budget is ten times that, plus one.
	if n := count.Load(); n != 51 {
		t.Fatalf("%d requests, want the page budget of 51", n)
	}
}

// TestListTagsEndlessFreshTags: a Link that keeps bringing new tags is
// stopped by the tag cap.
func TestListTagsEndlessFreshTags(t *testing.T) {
	srv, count := tagServer(t, func(_, _ string, i int64) ([]string, string) {
		return []string{fmt.Sprintf("a%d", i), fmt.Sprintf("b%d", i)}, "/v2/acme/x/tags/list?n=2"
	})
	_, err := oci.NewFetcher(oci.Options{}).ListTags(context.Background(), tagRequest(srv), oci.TagLimits{Max: 10, PageSize: 2})
	wantErr(t, err, oci.ErrTooLarge, "more than 10 tags")
	if n := count.Load(); n != 6 {
		t.Fatalf("%d requests, want 6 (the 11th tag is on the 6th page)", n)
	}
}

// TestListTagsIgnoringLast: a registry that ignores n and last and sends
// no Link answers the same full page again; the listing ends there.
func TestListTagsIgnoringLast(t *testing.T) {
	srv, count := tagServer(t, func(_, _ string, _ int64) ([]string, string) {
		return []string{"1.0.0", "2.0.0"}, ""
	})
	got, err := oci.NewFetcher(oci.Options{}).ListTags(context.Background(), tagRequest(srv), oci.TagLimits{PageSize: 2})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, []string{"1.0.0", "2.0.0"}) {
		t.Fatalf("tags = %q", got)
	}
	if n := count.Load(); n != 2 {
		t.Fatalf("%d requests, want 2", n)
	}
}

// TestListTagsHugePage: one page over MaxManifestSize bytes is refused.
func TestListTagsHugePage(t *testing.T) {
	huge := make([]string, 0, 50000)
	for i := range 50000 {
		huge = append(huge, fmt.Sprintf("tag-%0100d", i))
	}
	srv, _ := tagServer(t, func(_, _ string, _ int64) ([]string, string) { return huge, "" })
	_, err := oci.NewFetcher(oci.Options{}).ListTags(context.Background(), tagRequest(srv), oci.TagLimits{})
	if err == nil {
		t.Fatal("a 5 MB tag page was read")
	}
	t.Log(err)
}
