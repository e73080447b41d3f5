package check

import "testing"

func TestParseMemoryLimit(t *testing.T) {
	for _, c := range []struct {
		in   string
		want uint32
	}{
		{"64", 1024},    // plain number: MiB
		{"64Mi", 1024},  // quantity
		{"1Gi", 16384},  // 16384 pages of 64 KiB
		{"100Ki", 1},    // rounded down to whole pages
		{"4Gi", 65536},  // the most a 32-bit memory has
		{" 17Mi ", 272}, // spaces ignored
		{"20M", 305},    // decimal SI: 20,000,000 / 65,536
	} {
		got, err := ParseMemoryLimit(c.in)
		if err != nil || got != c.want {
			t.Errorf("ParseMemoryLimit(%q) = %d, %v; want %d", c.in, got, err, c.want)
		}
	}
	for _, bad := range []string{"", "0", "-1", "1Ki", "5Gi", "lots", "64MiB"} {
		if got, err := ParseMemoryLimit(bad); err == nil {
			t.Errorf("ParseMemoryLimit(%q) = %d; want an error", bad, got)
		}
	}
}

func TestFormatPagesRoundTrips(t *testing.T) {
	for _, pages := range []uint32{1, 272, 1024, 65536} {
		s := FormatPages(pages)
		got, err := ParseMemoryLimit(s)
		if err != nil || got != pages {
			t.Errorf("FormatPages(%d) = %q, parsed back as %d, %v", pages, s, got, err)
		}
	}
}
