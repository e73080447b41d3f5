// Command client is the tiny HTTP client of the kind end-to-end test
// (hack/e2e-kind.sh). Built static into a FROM-scratch image, it runs as a
// Job inside the cluster and plays a proxy's part, or checks cluster DNS:
//
//	client lookup [-timeout 2m] HOST...  # resolve each HOST through the pod's resolver, retrying until the deadline
//	client fetch URL SHA256 [URL SHA256]... # GET each URL; exit 1 unless HTTP 200 and the body's sha256 is SHA256
//
// It owns these two checks and nothing else; the script decides what to
// look up and fetch.
package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"time"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "client:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) == 0 {
		return errors.New("usage: client lookup [-timeout D] HOST... | client fetch URL SHA256 [URL SHA256 ...]")
	}
	switch args[0] {
	case "lookup":
		fs := flag.NewFlagSet("lookup", flag.ContinueOnError)
		timeout := fs.Duration("timeout", 2*time.Minute, "give up after this long")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		ctx, cancel := context.WithTimeout(context.Background(), *timeout)
		defer cancel()
		for _, h := range fs.Args() {
			addrs, tries, err := lookup(ctx, net.DefaultResolver, h, time.Second)
			if err != nil {
				return err
			}
			fmt.Printf("%s resolved to %v (attempt %d)\n", h, addrs, tries)
		}
		return nil
	case "fetch":
		pairs := args[1:]
		if len(pairs) == 0 || len(pairs)%2 != 0 {
			return errors.New("usage: client fetch URL SHA256 [URL SHA256 ...]")
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		for i := 0; i < len(pairs); i += 2 {
			n, err := fetch(ctx, http.DefaultClient, pairs[i], pairs[i+1])
			if err != nil {
				return err
			}
			fmt.Printf("GET %s: HTTP 200, %d bytes, sha256 %s matches\n", pairs[i], n, pairs[i+1])
		}
		return nil
	}
	return fmt.Errorf("unknown command %q", args[0])
}

// lookup resolves host, trying again every interval until ctx ends. It
// returns the addresses and the number of attempts.
func lookup(ctx context.Context, r *net.Resolver, host string, interval time.Duration) ([]string, int, error) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for tries := 1; ; tries++ {
		attempt, cancel := context.WithTimeout(ctx, interval)
		addrs, err := r.LookupHost(attempt, host)
		cancel()
		if err == nil {
			return addrs, tries, nil
		}
		select {
		case <-ctx.Done():
			return nil, tries, fmt.Errorf("resolving %s: %d attempts, last: %w", host, tries, err)
		case <-t.C:
		}
	}
}

// fetch GETs url and checks the body's SHA-256 against want (hex); it
// returns the body's length.
func fetch(ctx context.Context, c *http.Client, url, want string) (int64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, fmt.Errorf("GET %s: %w", url, err)
	}
	defer func() { _ = resp.Body.Close() }()
	h := sha256.New()
	n, err := io.Copy(h, resp.Body)
	if err != nil {
		return n, fmt.Errorf("GET %s: reading the body: %w", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		return n, fmt.Errorf("GET %s: HTTP %d", url, resp.StatusCode)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != want {
		return n, fmt.Errorf("GET %s: %d bytes with sha256 %s, want %s", url, n, got, want)
	}
	return n, nil
}
