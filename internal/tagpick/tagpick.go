// Package tagpick chooses the tag module.semver tracks: the tag of a
// repository with the highest version that matches a semver range
// (github.com/Masterminds/semver/v3 syntax, e.g. ">=1.2.0 <2.0.0", "~1.4",
// "^2").
//
// It owns: parsing the range, reading a version out of a tag, and the
// choice, including what a "no match" message quotes. A tag is a version
// when it is MAJOR.MINOR.PATCH with an optional prerelease and an optional
// leading "v" (1.2.0, v1.2.0, 1.3.0-rc.1); every other tag (latest, main,
// the floating 1.2 or v1, sha-abc123) is ignored, because it moves or says
// nothing about order. Prereleases match only when the range names one, as
// Masterminds decides (">=1.3.0-0" admits 1.3.0-rc.1, ">=1.2.0" does not).
//
// It must not: list tags (internal/oci does), resolve digests, read a clock,
// the network or Kubernetes objects. Everything here is a pure function.
package tagpick

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/Masterminds/semver/v3"
)

// Sentinel errors; the controller maps them to the Reasons InvalidSemver
// and NoMatchingTag.
var (
	// ErrInvalidRange: the range does not parse.
	ErrInvalidRange = errors.New("invalid semver range")
	// ErrNoMatch: no tag's version is in the range.
	ErrNoMatch = errors.New("no tag matches the semver range")
)

// maxQuoted is how many tags a no-match message quotes.
const maxQuoted = 5

// Range is a parsed semver range.
type Range struct {
	raw string
	c   *semver.Constraints
}

// ParseRange parses s. Errors wrap ErrInvalidRange.
func ParseRange(s string) (Range, error) {
	if strings.TrimSpace(s) == "" {
		return Range{}, fmt.Errorf("%w: the range is empty; write one such as \">=1.2.0 <2.0.0\"", ErrInvalidRange)
	}
	c, err := semver.NewConstraint(s)
	if err != nil {
		return Range{}, fmt.Errorf("%w %q: %w", ErrInvalidRange, s, err)
	}
	return Range{raw: s, c: c}, nil
}

// String returns the range as written.
func (r Range) String() string { return r.raw }

// Version returns the version a tag names, or nil when the tag is not a
// version (see the package documentation).
func Version(tag string) *semver.Version {
	s := strings.TrimPrefix(tag, "v")
	if s == "" || (s[0] < '0' || s[0] > '9') {
		return nil
	}
	v, err := semver.StrictNewVersion(s)
	if err != nil || v.Metadata() != "" {
		return nil
	}
	return v
}

// Highest returns the tag with the highest version in r. When two tags
// name the same version (1.2.0 and v1.2.0) the lexically smaller wins, so
// the choice does not depend on the order the registry listed them in.
// With no match, the error wraps ErrNoMatch and quotes a few tags seen.
func (r Range) Highest(tags []string) (string, error) {
	var best string
	var bestV *semver.Version
	for _, t := range tags {
		v := Version(t)
		if v == nil || !r.c.Check(v) {
			continue
		}
		if bestV == nil {
			best, bestV = t, v
			continue
		}
		switch c := v.Compare(bestV); {
		case c > 0, c == 0 && t < best:
			best, bestV = t, v
		}
	}
	if bestV == nil {
		return "", fmt.Errorf("%w %q: %s", ErrNoMatch, r.raw, seen(tags))
	}
	return best, nil
}

// Pick parses rng and returns the highest tag in it.
func Pick(rng string, tags []string) (string, error) {
	r, err := ParseRange(rng)
	if err != nil {
		return "", err
	}
	return r.Highest(tags)
}

// seen describes tags for a no-match message: how many, and a few of them,
// the highest versions first, then other tags in lexical order.
func seen(tags []string) string {
	if len(tags) == 0 {
		return "the repository has no tags"
	}
	quoted := slices.Clone(tags)
	slices.SortFunc(quoted, func(a, b string) int {
		va, vb := Version(a), Version(b)
		switch {
		case va != nil && vb != nil:
			if c := vb.Compare(va); c != 0 {
				return c
			}
		case va != nil:
			return -1
		case vb != nil:
			return 1
		}
		return strings.Compare(a, b)
	})
	quoted = slices.Compact(quoted)
	more := ""
	if len(quoted) > maxQuoted {
		more = ", …"
		quoted = quoted[:maxQuoted]
	}
	noun := "tags"
	if len(tags) == 1 {
		noun = "tag"
	}
	return fmt.Sprintf("the repository has %d %s: %s%s", len(tags), noun, strings.Join(quoted, ", "), more)
}
