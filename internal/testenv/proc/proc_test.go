package proc

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// The test binary is also the child process: with $PROC_TEST_HELPER set it
// plays the part named there instead of running the tests.
func TestMain(m *testing.M) {
	if mode := os.Getenv("PROC_TEST_HELPER"); mode != "" {
		helper(mode)
		return
	}
	os.Exit(m.Run())
}

func helper(mode string) {
	fmt.Println("helper", mode, "started")
	switch mode {
	case "serve": // 503 twice, then 200 until killed
		var n atomic.Int32
		err := http.ListenAndServe(os.Getenv("PROC_TEST_ADDR"), http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			if n.Add(1) <= 2 {
				w.WriteHeader(http.StatusServiceUnavailable)
			}
		}))
		fmt.Println(err)
		os.Exit(1)
	case "exit3":
		os.Exit(3)
	case "hang": // until a signal kills it
		c := make(chan os.Signal, 1)
		signal.Notify(c, syscall.SIGUSR1)
		<-c
	case "ignore-term": // SIGTERM does nothing; only SIGKILL ends it
		c := make(chan os.Signal, 1)
		signal.Notify(c, syscall.SIGTERM)
		fmt.Println("ignoring SIGTERM")
		for range c {
			fmt.Println("ignored SIGTERM")
		}
	}
	os.Exit(2)
}

func startHelper(t *testing.T, mode string, env ...string) *Process {
	t.Helper()
	p, err := Start(Options{
		Name:    "helper",
		Binary:  os.Args[0],
		Env:     append([]string{"PROC_TEST_HELPER=" + mode}, env...),
		LogFile: filepath.Join(t.TempDir(), mode+".log"),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = syscall.Kill(-p.Pid, syscall.SIGKILL); <-p.Exited() })
	return p
}

func TestWaitHTTPThenStop(t *testing.T) {
	addr, err := FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	p := startHelper(t, "serve", "PROC_TEST_ADDR="+addr)
	if err := p.WaitHTTP(context.Background(), "http://"+addr+"/", 10*time.Millisecond, 30*time.Second); err != nil {
		t.Fatalf("WaitHTTP: %v\n%s", err, p.Tail(10))
	}
	if err := p.Stop(10 * time.Second); err != nil {
		t.Fatalf("Stop after SIGTERM ended it: %v, want nil", err)
	}
	select {
	case <-p.Exited():
	default:
		t.Fatal("Exited not closed after Stop")
	}
	if got := p.Tail(5); !strings.Contains(got, "helper serve started") {
		t.Errorf("Tail = %q, want the helper's output", got)
	}
}

func TestWaitHTTPExited(t *testing.T) {
	addr, err := FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	p := startHelper(t, "exit3")
	err = p.WaitHTTP(context.Background(), "http://"+addr+"/", 10*time.Millisecond, 30*time.Second)
	if !errors.Is(err, ErrExited) || !strings.Contains(err.Error(), "exit status 3") {
		t.Fatalf("WaitHTTP = %v, want ErrExited with the exit status", err)
	}
	if err := p.Stop(time.Second); err == nil || !strings.Contains(err.Error(), "exit status 3") {
		t.Fatalf("Stop = %v, want the failure status", err)
	}
}

func TestWaitHTTPTimeoutAndContext(t *testing.T) {
	addr, err := FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	p := startHelper(t, "hang")
	err = p.WaitHTTP(context.Background(), "http://"+addr+"/", 10*time.Millisecond, 50*time.Millisecond)
	if !errors.Is(err, ErrTimeout) {
		t.Fatalf("WaitHTTP = %v, want ErrTimeout", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := p.WaitHTTP(ctx, "http://"+addr+"/", 10*time.Millisecond, time.Minute); !errors.Is(err, context.Canceled) {
		t.Fatalf("WaitHTTP with a canceled context = %v, want context.Canceled", err)
	}
	if err := p.Stop(10 * time.Second); err != nil {
		t.Fatalf("Stop = %v, want nil", err)
	}
}

func TestStopKillsWhatIgnoresSIGTERM(t *testing.T) {
	p := startHelper(t, "ignore-term")
	// Stop must not signal before the helper ignores SIGTERM.
	waitForLog(t, p, "ignoring SIGTERM")
	err := p.Stop(200 * time.Millisecond)
	if err == nil || !strings.Contains(err.Error(), "helper did not stop within 200ms of SIGTERM; killed") {
		t.Fatalf("Stop = %v, want it killed", err)
	}
	select {
	case <-p.Exited():
	default:
		t.Fatal("Exited not closed after Stop")
	}
}

// waitForLog polls p's log until it contains s.
func waitForLog(t *testing.T, p *Process, s string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		b, _ := os.ReadFile(p.LogFile)
		if strings.Contains(string(b), s) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%q not in the log after 30s:\n%s", s, b)
		}
		select {
		case <-p.Exited():
			t.Fatalf("exited before logging %q:\n%s", s, b)
		case <-time.After(5 * time.Millisecond):
		}
	}
}

func TestTail(t *testing.T) {
	dir := t.TempDir()
	five := filepath.Join(dir, "five.log")
	empty := filepath.Join(dir, "empty.log")
	if err := os.WriteFile(five, []byte("1\n2\n3\n4\n5\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		path string
		n    int
		want string
	}{
		{five, 3, "--- last 3 lines of " + five + " ---\n    3\n    4\n    5"},
		{five, 10, "--- last 5 lines of " + five + " ---\n    1\n    2\n    3\n    4\n    5"},
		{empty, 3, "--- empty.log is empty ---"},
	} {
		if got := Tail(tc.path, tc.n); got != tc.want {
			t.Errorf("Tail(%s, %d) = %q, want %q", filepath.Base(tc.path), tc.n, got, tc.want)
		}
	}
	if got := Tail(filepath.Join(dir, "missing"), 3); !strings.HasPrefix(got, "(cannot read ") {
		t.Errorf("Tail of a missing file = %q", got)
	}
}
