package oci

import (
	"context"
	"errors"
	"fmt"
)

// Tag listing caps.
const (
	// DefaultMaxTags is how many distinct tags ListTags reads before it
	// stops and fails: a repository with more cannot be tracked by semver
	// safely (the listing would be incomplete, so "highest" could be
	// wrong).
	DefaultMaxTags = 10000
	// DefaultTagPageSize is how many tags one request asks for (the n
	// parameter of the tags list API).
	DefaultTagPageSize = 1000
)

// TagLimits bounds a tag listing. The zero value uses the defaults.
type TagLimits struct {
	// Max distinct tags read; DefaultMaxTags when 0.
	Max int
	// PageSize is the n asked for per request; DefaultTagPageSize when 0.
	PageSize int
}

func (l TagLimits) withDefaults() TagLimits {
	if l.Max <= 0 {
		l.Max = DefaultMaxTags
	}
	if l.PageSize <= 0 {
		l.PageSize = DefaultTagPageSize
	}
	return l
}

// maxPages bounds the requests of one listing: enough for Max tags in
// pages a tenth of the size asked for (registries cap n lower than asked),
// and never unbounded, whatever Link headers a registry sends.
func (l TagLimits) maxPages() int { return 10*((l.Max+l.PageSize-1)/l.PageSize) + 1 }

// errTagPages stops oras-go's pagination when the page budget is spent.
var errTagPages = errors.New("tag listing used its page budget")

// tagPages collects the pages of one listing, deduplicated.
type tagPages struct {
	lim   TagLimits
	seen  map[string]bool
	tags  []string
	pages int
	// lastPage is the size of the last page, lastTag its last tag, and
	// grew whether it added a tag not seen before.
	lastPage int
	lastTag  string
	grew     bool
}

func (p *tagPages) add(page []string) error {
	p.pages++
	p.lastPage, p.grew = len(page), false
	for _, t := range page {
		if p.seen[t] {
			continue
		}
		if len(p.tags) >= p.lim.Max {
			return fmt.Errorf("%w: more than %d tags; the listing stopped there", ErrTooLarge, p.lim.Max)
		}
		p.seen[t] = true
		p.tags = append(p.tags, t)
		p.grew = true
	}
	if len(page) > 0 {
		p.lastTag = page[len(page)-1]
	}
	if p.pages >= p.lim.maxPages() {
		return errTagPages
	}
	return nil
}

// more says whether to ask for another page after `last`: the last page
// was full and brought new tags. It is for registries that honor n and
// last but send no Link header (oras-go follows Link headers itself).
func (p *tagPages) more() bool { return p.grew && p.lastPage >= p.lim.PageSize }

// ListTags lists the tags of req.Image's repository (its tag or digest, if
// any, is ignored), in the order the registry gives them, without
// duplicates. It follows the registry's Link headers and, for registries
// that send none, asks again with last= while pages come back full. It reads
// at most lim.Max tags and a bounded number of pages, each capped at
// MaxManifestSize bytes: a repository with more tags fails with an error
// wrapping ErrTooLarge that says the listing stopped, and a registry that
// keeps paging fails too.
func (f *Fetcher) ListTags(ctx context.Context, req Request, lim TagLimits) ([]string, error) {
	ref, err := ParseReference(req.Image)
	if err != nil {
		return nil, err
	}
	lim = lim.withDefaults()
	repo := f.repository(ref, req)
	repo.TagListPageSize = lim.PageSize
	repo.TagListMaxPages = lim.maxPages()
	p := &tagPages{lim: lim, seen: map[string]bool{}}
	doing := "list tags of " + ref.RepositoryURL()
	for last := ""; ; last = p.lastTag {
		err := repo.Tags(ctx, last, p.add)
		switch {
		case errors.Is(err, errTagPages):
			return nil, fmt.Errorf("%s: %w: the registry kept paging after %d requests (%d tags); the listing stopped there",
				doing, ErrTooLarge, p.pages, len(p.tags))
		case err != nil:
			return nil, classify(err, doing)
		case !p.more():
			return p.tags, nil
		}
	}
}
