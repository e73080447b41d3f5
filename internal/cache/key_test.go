package cache_test

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/wasmext/wasmext/internal/cache"
)

// TestKeyNeverShows formats, encodes and logs a Key and a Server holding
// it every way a program might, and finds the key in none of them.
func TestKeyNeverShows(t *testing.T) {
	srv := &cache.Server{Store: cache.NewStore(1), Key: key}
	var outs []string
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%o", "%b"} {
		outs = append(outs, fmt.Sprintf(verb, key), fmt.Sprintf(verb, srv))
	}
	outs = append(outs, fmt.Sprint(key), fmt.Sprintln(srv), fmt.Errorf("wrapped: %v", srv).Error())
	for _, v := range []any{key, struct{ K cache.Key }{key}, map[string]cache.Key{"k": key}} {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		outs = append(outs, string(b))
	}
	var logged bytes.Buffer
	log := zap.New(zap.WriteTo(&logged), zap.UseDevMode(false))
	log.Info("Configured module server", "key", key, "server", srv, "keys", []cache.Key{key})
	outs = append(outs, logged.String())
	var dec []string // the key as fmt prints a []byte: "107 51 121 ..."
	for _, c := range key {
		dec = append(dec, strconv.Itoa(int(c)))
	}
	for _, out := range outs {
		if leaksKey(out) || strings.Contains(out, strings.Join(dec, " ")) {
			t.Fatalf("key shown: %s", out)
		}
	}
	if !strings.Contains(fmt.Sprintf("%+v", srv), "[redacted]") || !strings.Contains(logged.String(), "[redacted]") {
		t.Fatalf("key not shown as [redacted]: %+v / %s", srv, logged.String())
	}
}

func TestParseKey(t *testing.T) {
	secret := "s3cr3t-but-too-short"
	for _, tc := range []struct {
		name, in, want string
		err            bool
	}{
		{"32 bytes", string(key), string(key), false},
		{"hex of 32 bytes, newline", "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n",
			"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", false},
		{"CRLF and spaces", string(key) + " \r\n", string(key), false},
		{"too short", secret, "", true},
		{"short after trimming", secret + "\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n", "", true},
		{"empty", "", "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k, err := cache.ParseKey([]byte(tc.in))
			if (err != nil) != tc.err || string(k) != tc.want {
				t.Fatalf("ParseKey = %d bytes, %v; want %q, error %v", len(k), err, tc.want, tc.err)
			}
			if err != nil && (strings.Contains(err.Error(), strings.TrimSpace(tc.in)) && tc.in != "") {
				t.Fatalf("error quotes the key: %v", err)
			}
		})
	}
}

func TestReadKeyFile(t *testing.T) {
	dir := t.TempDir()
	good, short := filepath.Join(dir, "key"), filepath.Join(dir, "short")
	if err := os.WriteFile(good, append(bytes.Clone(key), '\n'), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(short, []byte("short-secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	if k, err := cache.ReadKeyFile(good); err != nil || !bytes.Equal(k, key) {
		t.Fatalf("ReadKeyFile = %d bytes, %v; want the key", len(k), err)
	}
	_, err := cache.ReadKeyFile(short)
	if err == nil || strings.Contains(err.Error(), "short-secret") || !strings.Contains(err.Error(), short) {
		t.Fatalf("short key file: %v; want an error naming the file, not the key", err)
	}
	if _, err := cache.ReadKeyFile(filepath.Join(dir, "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing key file: %v, want ErrNotExist", err)
	}
}

func TestNewKey(t *testing.T) {
	a, err := cache.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := cache.NewKey()
	if len(a) != cache.MinKeyLen || bytes.Equal(a, b) {
		t.Fatalf("NewKey = %s, %s; want two different %d-byte keys", hex.EncodeToString(a), hex.EncodeToString(b), cache.MinKeyLen)
	}
}
