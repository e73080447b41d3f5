package check

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"oras.land/oras-go/v2/registry/remote/auth"

	"github.com/wasmext/wasmext/internal/oci"
)

// FormatFile is the Format of a module read from a local file.
const FormatFile = "file"

// Module is a module read for a check, from a file or a registry.
type Module struct {
	Source     string // the file path or image reference as given
	Format     string // FormatFile or the oci.Format of the artifact
	Repository string // registry/repository; "" for a file
	Digest     string // manifest digest; "" for a file
	SHA256     string // lowercase hex of sha256(Wasm)
	Size       int64
	Wasm       []byte
	Fetch      time.Duration
}

// Source says where to read a module from and how.
type Source struct {
	// Target is a path to a .wasm file or an image reference. A path that
	// exists is a file; anything else is a reference.
	Target string
	// Insecure reaches the registry over plain HTTP.
	Insecure bool
	// Credential for the registry; zero: anonymous.
	Credential auth.Credential
	// MaxModuleSize caps the module (and each layer) read; 0: oci's default.
	MaxModuleSize int64
	// Fetcher reads from registries; nil: a new one with MaxModuleSize.
	Fetcher *oci.Fetcher
}

// IsFile says whether target names a local file rather than an image.
// A path ending in .wasm is a file even when it does not exist, so that
// a typo says "no such file" instead of "invalid reference".
func IsFile(target string) bool {
	if st, err := os.Stat(target); err == nil && !st.IsDir() {
		return true
	}
	return strings.HasSuffix(target, ".wasm") && !strings.ContainsAny(target, ":@")
}

// ErrNoFile means a module file could not be read (an environment error,
// not the module's fault).
var ErrNoFile = errors.New("cannot read module file")

// Load reads the module src names: from a file, capped at MaxModuleSize,
// or from a registry as the operator does (resolve the reference with one
// manifest HEAD, then fetch that digest). Errors wrap oci's sentinels, or
// ErrNoFile.
func Load(ctx context.Context, src Source) (*Module, error) {
	limit := src.MaxModuleSize
	if limit <= 0 {
		limit = oci.DefaultMaxModuleSize
	}
	start := time.Now()
	if IsFile(src.Target) {
		m, err := loadFile(src.Target, limit)
		if m != nil {
			m.Fetch = time.Since(start)
		}
		return m, err
	}
	f := src.Fetcher
	if f == nil {
		f = oci.NewFetcher(oci.Options{MaxModuleSize: limit, UserAgent: "wasmext-check"})
	}
	req := oci.Request{Image: src.Target, Insecure: src.Insecure, Credential: src.Credential}
	res, err := f.Resolve(ctx, req)
	if err != nil {
		return nil, err
	}
	om, err := f.Fetch(ctx, req, res.Digest)
	if err != nil {
		return nil, err
	}
	return &Module{
		Source: src.Target, Format: string(om.Format), Repository: om.Repository, Digest: om.Digest.String(),
		SHA256: om.SHA256, Size: om.Size, Wasm: om.Wasm, Fetch: time.Since(start),
	}, nil
}

// loadFile reads path, refusing more than limit bytes as the operator
// refuses a larger layer.
func loadFile(path string, limit int64) (*Module, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNoFile, err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrNoFile, path, err)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%w: %s is over %d bytes, the module size cap", oci.ErrTooLarge, path, limit)
	}
	sum := sha256.Sum256(b)
	return &Module{
		Source: path, Format: FormatFile, SHA256: hex.EncodeToString(sum[:]), Size: int64(len(b)), Wasm: b,
	}, nil
}

// DockerCredential returns the credential for image's registry from the
// user's docker config ($DOCKER_CONFIG/config.json, else
// ~/.docker/config.json), as `docker login` wrote it. No config file, or
// none with an entry for the host, is anonymous; so is an entry kept in a
// credential helper (credsStore), which this command does not run: the
// note then says why, for the caller to print.
func DockerCredential(image string) (cred auth.Credential, note string) {
	ref, err := oci.ParseReference(image)
	if err != nil {
		return auth.Credential{}, ""
	}
	path := dockerConfigPath()
	if path == "" {
		return auth.Credential{}, ""
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return auth.Credential{}, ""
	}
	if err != nil {
		return auth.Credential{}, fmt.Sprintf("pulling anonymously: %v", err)
	}
	cred, err = oci.CredentialFromDockerConfigJSON(b, ref.Registry)
	if err == nil {
		return cred, ""
	}
	var helpers struct {
		CredsStore  string            `json:"credsStore"`
		CredHelpers map[string]string `json:"credHelpers"`
	}
	_ = json.Unmarshal(b, &helpers)
	switch {
	case helpers.CredHelpers[ref.Registry] != "" || helpers.CredsStore != "":
		return auth.Credential{}, fmt.Sprintf("pulling anonymously: %s keeps credentials in a credential helper, "+
			"which this command does not run; use --username and --password-stdin", path)
	case strings.Contains(err.Error(), "no entry for registry") || strings.Contains(err.Error(), "no \"auths\""):
		return auth.Credential{}, "" // not logged in to this registry
	}
	return auth.Credential{}, fmt.Sprintf("pulling anonymously: %s: %v", path, err)
}

func dockerConfigPath() string {
	if d := os.Getenv("DOCKER_CONFIG"); d != "" {
		return filepath.Join(d, "config.json")
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return ""
	}
	return filepath.Join(home, ".docker", "config.json")
}
