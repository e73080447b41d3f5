package proc

import (
	"os"
	"testing"
	"time"
)

func TestParseStatCPU(t *testing.T) {
	for _, tc := range []struct {
		name, stat string
		want       time.Duration
		wantErr    bool
	}{
		// utime 250, stime 50 ticks of 10ms; the command name holds ") (".
		{"name with spaces and parens", "42 (a) (b c) S 1 42 42 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 1 0 1 1 1", 3 * time.Second, false},
		{"no parenthesis", "42 a S 1", 0, true},
		{"too few fields", "42 (a) S 1 2 3", 0, true},
		{"not a number", "42 (a) S 1 42 42 0 -1 4194560 100 0 0 0 x 50 0", 0, true},
	} {
		got, err := parseStatCPU([]byte(tc.stat))
		if (err != nil) != tc.wantErr || got != tc.want {
			t.Errorf("%s: parseStatCPU = %v, %v; want %v, error %v", tc.name, got, err, tc.want, tc.wantErr)
		}
	}
}

func TestParseStatusMemory(t *testing.T) {
	status := "Name:\tmanager\nVmPeak:\t  999 kB\nVmHWM:\t    2048 kB\nVmRSS:\t    1024 kB\nRssAnon:\t     700 kB\nRssFile:\t     300 kB\nThreads:\t9\n"
	peak, rss, file := parseStatusMemory([]byte(status))
	if peak != 2048<<10 || rss != 1024<<10 || file != 300<<10 {
		t.Errorf("parseStatusMemory = %d, %d, %d; want %d, %d, %d", peak, rss, file, 2048<<10, 1024<<10, 300<<10)
	}
	if peak, rss, file := parseStatusMemory([]byte("Name:\tx\n")); peak != 0 || rss != 0 || file != 0 {
		t.Errorf("without the fields: %d, %d, %d; want 0, 0, 0", peak, rss, file)
	}
}

func TestReadUsageOfThisProcess(t *testing.T) {
	u, err := ReadUsage(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if u.PeakRSS <= 0 || u.RSS <= 0 || u.RSS > u.PeakRSS || u.CPU < 0 {
		t.Errorf("ReadUsage(self) = %+v; want positive memory, RSS <= peak, CPU >= 0", u)
	}
	if _, err := ReadUsage(-1); err == nil {
		t.Error("ReadUsage(-1) succeeded")
	}
}
