// Command push is the kind end-to-end test's pusher (hack/e2e-kind.sh): it
// pushes one of the wasmtest fixtures to a registry (reached through
// kubectl port-forward, plain HTTP) with ocitest.Push and, when asked,
// signs it with a new cosign key (verifytest.SignKeyBundle, a Sigstore
// bundle attached as an OCI referrer) and writes the public key PEM to a
// file for a Secret.
//
//	push -registry 127.0.0.1:15000 -user U -password P -ref wasmext/add-header:1.0.0 \
//	     -module proxy-wasm|proxy-wasm-v2|not-proxy-wasm [-format cncf] [-sign-public-key FILE]
//
// It prints "<manifest digest> <module sha256>" on stdout. With -user, every
// request carries HTTP basic credentials (the registry's htpasswd auth).
//
// It owns the command line only; pushing is internal/oci/ocitest's and
// signing internal/verify/verifytest's.
package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/wasmext/wasmext/internal/oci"
	"github.com/wasmext/wasmext/internal/oci/ocitest"
	"github.com/wasmext/wasmext/internal/verify/verifytest"
	"github.com/wasmext/wasmext/internal/wasm/wasmtest"
)

// modules are the fixtures -module names.
var modules = map[string][]byte{
	"proxy-wasm":     wasmtest.ProxyWasm,
	"proxy-wasm-v2":  wasmtest.ProxyWasmV2,
	"not-proxy-wasm": wasmtest.NotProxyWasm,
}

type options struct {
	registry, user, password, ref, module, format, pubKeyFile string
}

func main() {
	var o options
	flag.StringVar(&o.registry, "registry", "", "registry host:port (plain HTTP)")
	flag.StringVar(&o.user, "user", "", "basic auth user")
	flag.StringVar(&o.password, "password", "", "basic auth password")
	flag.StringVar(&o.ref, "ref", "", "repository:tag to push to")
	flag.StringVar(&o.module, "module", "proxy-wasm", "fixture: proxy-wasm, proxy-wasm-v2 or not-proxy-wasm")
	flag.StringVar(&o.format, "format", string(oci.FormatCNCF), "artifact format (internal/oci formats)")
	flag.StringVar(&o.pubKeyFile, "sign-public-key", "", "sign with a new key and write its public key PEM here")
	flag.Parse()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "push:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, o options) error {
	wasm, ok := modules[o.module]
	if !ok || o.registry == "" || o.ref == "" {
		return errors.New("need -registry, -ref and -module proxy-wasm|proxy-wasm-v2|not-proxy-wasm")
	}
	if o.user != "" {
		http.DefaultClient.Transport = basicAuth{user: o.user, password: o.password, next: http.DefaultTransport}
	}
	d, err := ocitest.Push(ctx, o.registry, o.ref, oci.Format(o.format), wasm)
	if err != nil {
		return err
	}
	if o.pubKeyFile != "" {
		if err := sign(ctx, o, d); err != nil {
			return err
		}
	}
	sum := sha256.Sum256(wasm)
	fmt.Println(d, hex.EncodeToString(sum[:]))
	return nil
}

// sign signs manifest digest d of o.ref with a new key and writes the key's PEM.
func sign(ctx context.Context, o options, d digest.Digest) error {
	k, pub, err := verifytest.NewKey()
	if err != nil {
		return fmt.Errorf("generating a key: %w", err)
	}
	repo, _, _ := strings.Cut(o.ref, ":")
	if err := verifytest.SignKeyBundle(ctx, o.registry, repo, d, k); err != nil {
		return fmt.Errorf("signing %s: %w", o.ref, err)
	}
	if err := os.WriteFile(o.pubKeyFile, pub, 0o600); err != nil {
		return fmt.Errorf("writing the public key: %w", err)
	}
	return nil
}

// basicAuth adds HTTP basic credentials to requests that carry none, so the
// helpers' own clients (http.DefaultClient) authenticate too.
type basicAuth struct {
	user, password string
	next           http.RoundTripper
}

func (b basicAuth) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Header.Get("Authorization") == "" {
		r = r.Clone(r.Context())
		r.SetBasicAuth(b.user, b.password)
	}
	return b.next.RoundTrip(r)
}
