package oci

import (
	"fmt"
	"strings"

	"github.com/opencontainers/go-digest"
	"oras.land/oras-go/v2/registry"
)

// Reference is a parsed image reference. At least one of Tag and Digest is
// set; when both are, Digest wins (as in docker).
type Reference struct {
	Registry   string        // host[:port], e.g. "127.0.0.1:5000"
	Repository string        // e.g. "acme/filter"
	Tag        string        // e.g. "1.0"; "latest" when the image names neither tag nor digest
	Digest     digest.Digest // e.g. "sha256:…"; empty for a tag reference
}

// ParseReference parses "host[:port]/repo[:tag][@digest]". An "oci://"
// prefix (as Istio's WasmPlugin url uses) is accepted. The first path
// element must be a registry host (contain "." or ":", or be "localhost"):
// short docker names such as "acme/filter" are refused rather than guessed.
// Errors wrap ErrInvalidReference.
func ParseReference(image string) (Reference, error) {
	s := strings.TrimPrefix(image, "oci://")
	host, path, ok := strings.Cut(s, "/")
	if !ok || !looksLikeHost(host) {
		return Reference{}, fmt.Errorf("%w: %q has no registry host; write it in full, e.g. ghcr.io/acme/filter:1.0", ErrInvalidReference, image)
	}
	ref := Reference{Registry: host}
	if repo, dgst, found := strings.Cut(path, "@"); found {
		d, err := digest.Parse(dgst)
		if err != nil {
			return Reference{}, fmt.Errorf("%w: %q has an invalid digest: %v", ErrInvalidReference, image, err)
		}
		ref.Digest, path = d, repo
	}
	hasTag := false
	if i := strings.LastIndex(path, ":"); i >= 0 {
		path, ref.Tag, hasTag = path[:i], path[i+1:], true
	} else if ref.Digest == "" {
		ref.Tag = "latest"
	}
	ref.Repository = path
	if err := ref.validate(hasTag); err != nil {
		return Reference{}, fmt.Errorf("%w: %q: %v", ErrInvalidReference, image, err)
	}
	return ref, nil
}

func looksLikeHost(h string) bool {
	return h == "localhost" || strings.ContainsAny(h, ".:") || strings.HasPrefix(h, "[")
}

// validate checks each part with the rules oras-go applies.
func (r Reference) validate(hasTag bool) error {
	o := registry.Reference{Registry: r.Registry, Repository: r.Repository, Reference: r.Tag}
	if err := o.ValidateRegistry(); err != nil {
		return err
	}
	if err := o.ValidateRepository(); err != nil {
		return err
	}
	if hasTag || r.Tag != "" {
		return o.ValidateReferenceAsTag()
	}
	return nil
}

// RepositoryURL returns "registry/repository".
func (r Reference) RepositoryURL() string { return r.Registry + "/" + r.Repository }

// String returns the reference in canonical form: registry/repository,
// then ":tag" if set, then "@digest" if set.
func (r Reference) String() string {
	s := r.RepositoryURL()
	if r.Tag != "" {
		s += ":" + r.Tag
	}
	if r.Digest != "" {
		s += "@" + r.Digest.String()
	}
	return s
}

// reference returns what to ask the registry for: the digest if pinned,
// else the tag.
func (r Reference) reference() string {
	if r.Digest != "" {
		return r.Digest.String()
	}
	return r.Tag
}
