package oci

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"oras.land/oras-go/v2/registry/remote/auth"
)

// dockerConfig is the .dockerconfigjson of a kubernetes.io/dockerconfigjson Secret.
type dockerConfig struct {
	Auths map[string]dockerAuth `json:"auths"`
}

type dockerAuth struct {
	Auth          string `json:"auth"`
	Username      string `json:"username"`
	Password      string `json:"password"`
	IdentityToken string `json:"identitytoken"`
	RegistryToken string `json:"registrytoken"`
}

// dockerHubAliases are the names docker accepts for Docker Hub.
var dockerHubAliases = []string{"docker.io", "index.docker.io", "registry-1.docker.io"}

// CredentialFromDockerConfigJSON returns the credential for registryHost
// from the .dockerconfigjson bytes of a kubernetes.io/dockerconfigjson
// Secret. An exact key match wins; otherwise keys are compared as docker
// does, without scheme and path ("https://host/v1/" matches "host"), and the
// Docker Hub aliases match each other. "auth" (base64 user:pass) wins over
// username/password; identitytoken becomes the refresh token and
// registrytoken the access token. Errors wrap ErrInvalidPullSecret and never
// quote secret values.
func CredentialFromDockerConfigJSON(data []byte, registryHost string) (auth.Credential, error) {
	var cfg dockerConfig
	if err := json.Unmarshal(data, &cfg); err != nil {
		return auth.Credential{}, fmt.Errorf("%w: not valid docker config JSON: %v", ErrInvalidPullSecret, err)
	}
	if len(cfg.Auths) == 0 {
		return auth.Credential{}, fmt.Errorf("%w: docker config JSON has no \"auths\" entries", ErrInvalidPullSecret)
	}
	key, ok := findAuthKey(cfg.Auths, registryHost)
	if !ok {
		return auth.Credential{}, fmt.Errorf("%w: no entry for registry %q; the secret has entries for %s", ErrInvalidPullSecret, registryHost, listKeys(cfg.Auths))
	}
	cred, err := cfg.Auths[key].credential()
	if err != nil {
		return auth.Credential{}, fmt.Errorf("%w: entry %q: %v", ErrInvalidPullSecret, key, err)
	}
	return cred, nil
}

// findAuthKey returns the auths key that applies to host.
func findAuthKey(auths map[string]dockerAuth, host string) (string, bool) {
	if _, ok := auths[host]; ok {
		return host, true
	}
	want := normalizeHost(host)
	keys := make([]string, 0, len(auths))
	for k := range auths {
		keys = append(keys, k)
	}
	slices.Sort(keys) // deterministic when several keys normalize alike
	for _, k := range keys {
		if normalizeHost(k) == want {
			return k, true
		}
	}
	return "", false
}

// normalizeHost strips scheme and path, lowercases, and folds the Docker
// Hub aliases into one name.
func normalizeHost(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	for _, p := range []string{"https://", "http://"} {
		s = strings.TrimPrefix(s, p)
	}
	s, _, _ = strings.Cut(s, "/")
	if slices.Contains(dockerHubAliases, s) {
		return dockerHubAliases[0]
	}
	return s
}

func (a dockerAuth) credential() (auth.Credential, error) {
	cred := auth.Credential{
		Username:     a.Username,
		Password:     a.Password,
		RefreshToken: a.IdentityToken,
		AccessToken:  a.RegistryToken,
	}
	if a.Auth != "" {
		raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(a.Auth))
		if err != nil {
			return auth.Credential{}, fmt.Errorf("\"auth\" is not valid base64")
		}
		user, pass, ok := strings.Cut(string(raw), ":")
		if !ok {
			return auth.Credential{}, fmt.Errorf("\"auth\" does not decode to user:password")
		}
		cred.Username, cred.Password = user, pass
	}
	if cred == (auth.Credential{}) {
		return auth.Credential{}, fmt.Errorf("has no auth, username/password, identitytoken or registrytoken")
	}
	if cred.Username != "" && cred.Password == "" && cred.RefreshToken == "" {
		return auth.Credential{}, fmt.Errorf("has username %q but no password", cred.Username)
	}
	return cred, nil
}

func listKeys(auths map[string]dockerAuth) string {
	keys := make([]string, 0, len(auths))
	for k := range auths {
		keys = append(keys, fmt.Sprintf("%q", k))
	}
	slices.Sort(keys)
	return "[" + strings.Join(keys, ", ") + "]"
}
