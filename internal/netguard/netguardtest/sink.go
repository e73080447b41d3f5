// Package netguardtest gives tests a TCP listener that counts the
// connections made to it, to show that a refused address was never
// connected to. It must not be imported by production code.
package netguardtest

import (
	"bufio"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

const probeLine = "netguardtest-probe"

// Sink is a TCP listener that accepts and counts connections; it reads one
// line from each and closes it, so a client gets an error, not a hang.
type Sink struct {
	// Addr is "ip:port".
	Addr string

	ln     net.Listener
	mu     sync.Mutex
	n      int
	probes int // probe connections made by Connections so far
	probed chan int
}

// Listen starts a Sink on ip (e.g. "127.0.0.2") that tb's Cleanup closes.
func Listen(tb testing.TB, ip string) *Sink {
	tb.Helper()
	ln, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
	if err != nil {
		tb.Fatalf("listen on %s: %v", ip, err)
	}
	s := &Sink{Addr: ln.Addr().String(), ln: ln, probed: make(chan int, 1)}
	tb.Cleanup(func() { _ = ln.Close() })
	go s.accept()
	return s
}

// Port is the Sink's port.
func (s *Sink) Port() string {
	_, p, _ := net.SplitHostPort(s.Addr)
	return p
}

func (s *Sink) accept() {
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		s.n++
		n := s.n
		s.mu.Unlock()
		go s.serve(c, n)
	}
}

func (s *Sink) serve(c net.Conn, n int) {
	defer func() { _ = c.Close() }()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	line, _ := bufio.NewReader(c).ReadString('\n')
	if strings.TrimSpace(line) == probeLine {
		s.probed <- n
	}
}

// Connections returns how many connections were made to the Sink before
// this call, its own probes not counted. It connects once itself and waits for that connection to be
// accepted: connections are accepted in order, so every earlier one has
// been counted by then, whether or not its client is still there.
func (s *Sink) Connections(tb testing.TB) int {
	tb.Helper()
	c, err := net.Dial("tcp", s.Addr)
	if err != nil {
		tb.Fatalf("probe %s: %v", s.Addr, err)
	}
	defer func() { _ = c.Close() }()
	if _, err := c.Write([]byte(probeLine + "\n")); err != nil {
		tb.Fatalf("probe %s: %v", s.Addr, err)
	}
	select {
	case n := <-s.probed:
		s.probes++
		return n - s.probes
	case <-time.After(10 * time.Second):
		tb.Fatalf("probe of %s was not accepted", s.Addr)
		return -1
	}
}
