package tagpick

import (
	"errors"
	"strings"
	"testing"
)

func TestHighest(t *testing.T) {
	std := []string{"1.0.0", "1.2.0", "2.0.0", "latest"}
	for _, c := range []struct {
		name, rng string
		tags      []string
		want      string
	}{
		{"upper bound excludes the next major", ">=1.0.0 <2.0.0", std, "1.2.0"},
		{"open range takes the highest", ">=1.0.0", std, "2.0.0"},
		{"exact version", "=1.0.0", std, "1.0.0"},
		{"bare version is exact", "1.2.0", std, "1.2.0"},
		{"tilde stays in the minor", "~1.2", []string{"1.2.0", "1.2.9", "1.3.0"}, "1.2.9"},
		{"caret stays in the major", "^1.2", []string{"1.2.0", "1.9.3", "2.0.0"}, "1.9.3"},
		{"x wildcard", "1.x", []string{"0.9.0", "1.0.0", "1.4.2", "2.0.0"}, "1.4.2"},
		{"hyphen range is inclusive", "1.0.0 - 1.4.0", []string{"1.0.0", "1.4.0", "1.4.1"}, "1.4.0"},
		{"or picks across groups", "~1.0 || >=3.0.0", []string{"1.0.5", "2.0.0", "3.1.0"}, "3.1.0"},
		{"listing order does not matter", ">=1.0.0", []string{"2.0.0", "1.0.0", "10.0.0", "9.0.0"}, "10.0.0"},
		{"numeric, not lexical, order", "<2.0.0", []string{"1.9.0", "1.10.0", "1.2.0"}, "1.10.0"},
		{"v prefix is a version", ">=1.0.0", []string{"v1.0.0", "v1.5.0", "1.4.0"}, "v1.5.0"},
		{"same version twice: lexically smaller tag", ">=1.0.0", []string{"v1.5.0", "1.5.0"}, "1.5.0"},
		{"same version twice, other order", ">=1.0.0", []string{"1.5.0", "v1.5.0"}, "1.5.0"},
		{"prerelease ignored without a prerelease in the range", ">=1.0.0", []string{"1.0.0", "1.1.0-rc.1"}, "1.0.0"},
		{"prerelease of a matching release ignored", ">=1.0.0 <2.0.0", []string{"1.2.0", "1.3.0-beta"}, "1.2.0"},
		{"prerelease admitted when the range names one", ">=1.1.0-0", []string{"1.0.0", "1.1.0-rc.1"}, "1.1.0-rc.1"},
		{"release beats its prerelease", ">=1.1.0-0", []string{"1.1.0-rc.2", "1.1.0"}, "1.1.0"},
		{"prerelease order is semver order", ">=1.1.0-0 <1.1.0", []string{"1.1.0-rc.10", "1.1.0-rc.9", "1.1.0-alpha"}, "1.1.0-rc.10"},
		{"floating tags ignored", ">=1.0.0", []string{"1", "1.2", "v2", "1.0.0"}, "1.0.0"},
		{"non-version tags ignored", "*", []string{"latest", "main", "sha-1a2b3c", "1.0.0", "v", "vv1.2.3"}, "1.0.0"},
		{"leading zeros are not versions", ">=1.0.0", []string{"01.2.3", "1.02.0", "1.1.0"}, "1.1.0"},
		{"four parts are not versions", ">=1.0.0", []string{"1.2.3.4", "1.1.0"}, "1.1.0"},
		{"star matches every release", "*", []string{"0.0.1", "3.0.0", "3.0.1-rc.1"}, "3.0.0"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := Pick(c.rng, c.tags)
			if err != nil {
				t.Fatalf("Pick(%q, %q): %v", c.rng, c.tags, err)
			}
			if got != c.want {
				t.Fatalf("Pick(%q, %q) = %q, want %q", c.rng, c.tags, got, c.want)
			}
		})
	}
}

func TestNoMatch(t *testing.T) {
	for _, c := range []struct {
		name, rng string
		tags      []string
		quoted    []string // must be in the message, in this order
		absent    []string
	}{
		{"no tags", ">=1.0.0", nil, []string{"has no tags"}, nil},
		{"only other majors", ">=3.0.0", []string{"1.0.0", "2.0.0", "latest"},
			[]string{"3 tags", "2.0.0, 1.0.0, latest"}, nil},
		{"only prereleases", ">=1.0.0", []string{"1.1.0-rc.1"}, []string{"1 tag:", "1.1.0-rc.1"}, nil},
		{"only non-versions", "*", []string{"main", "latest"}, []string{"latest, main"}, nil},
		{"a few quoted, highest first", ">=9.0.0",
			[]string{"1.0.0", "1.1.0", "1.2.0", "1.3.0", "1.4.0", "1.5.0", "1.6.0", "a", "b"},
			[]string{"9 tags", "1.6.0, 1.5.0, 1.4.0, 1.3.0, 1.2.0, …"}, []string{"1.1.0", ", a"}},
		{"duplicates quoted once", ">=2.0.0", []string{"1.0.0", "1.0.0"}, []string{"2 tags: 1.0.0"}, []string{"1.0.0, 1.0.0"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := Pick(c.rng, c.tags)
			if !errors.Is(err, ErrNoMatch) {
				t.Fatalf("Pick(%q, %q) = %q, %v; want ErrNoMatch", c.rng, c.tags, got, err)
			}
			msg := err.Error()
			if !strings.Contains(msg, c.rng) {
				t.Errorf("message %q does not quote the range", msg)
			}
			for _, q := range c.quoted {
				if !strings.Contains(msg, q) {
					t.Errorf("message %q lacks %q", msg, q)
				}
			}
			for _, q := range c.absent {
				if strings.Contains(msg, q) {
					t.Errorf("message %q has %q", msg, q)
				}
			}
		})
	}
}

func TestInvalidRange(t *testing.T) {
	for _, rng := range []string{"", "   ", "latest", ">=1.0.0 <", "1.2.3.4", ">>1.0", "~>1.0 <<2", strings.Repeat("1.0.0 || ", 200)} {
		t.Run(rng, func(t *testing.T) {
			got, err := Pick(rng, []string{"1.0.0"})
			if !errors.Is(err, ErrInvalidRange) {
				t.Fatalf("Pick(%q) = %q, %v; want ErrInvalidRange", rng, got, err)
			}
			if errors.Is(err, ErrNoMatch) {
				t.Fatalf("Pick(%q): an invalid range also reads as no match: %v", rng, err)
			}
		})
	}
}

func TestVersion(t *testing.T) {
	for tag, want := range map[string]string{
		"1.2.3": "1.2.3", "v1.2.3": "1.2.3", "0.0.0": "0.0.0", "1.2.3-rc.1": "1.2.3-rc.1", "v10.20.30-alpha.1.beta": "10.20.30-alpha.1.beta",
		"1.2": "", "v1": "", "latest": "", "": "", "v": "", "V1.2.3": "", "1.2.3-": "", "1.2.3-01": "", "-1.2.3": "", " 1.2.3": "",
	} {
		v := Version(tag)
		got := ""
		if v != nil {
			got = v.String()
		}
		if got != want {
			t.Errorf("Version(%q) = %q, want %q", tag, got, want)
		}
	}
}

func TestRangeString(t *testing.T) {
	r, err := ParseRange(">=1.0.0 <2.0.0")
	if err != nil {
		t.Fatal(err)
	}
	if r.String() != ">=1.0.0 <2.0.0" {
		t.Fatalf("String() = %q", r.String())
	}
}
