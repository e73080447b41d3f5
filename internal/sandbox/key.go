package sandbox

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"hash"
	"maps"
	"slices"
	"strings"
)

// hostVersion changes whenever the emulated host changes in a way that can
// change a dry run's outcome, so remembered results keyed by an older Key
// are not reused.
const hostVersion = "wasmext-sandbox/1"

// Key is the hex sha256 over everything that changes a dry run's outcome:
// the module's sha256, PluginConfig, PluginName, VMConfig, Env and Type,
// plus a host version constant. Every field is length-prefixed, so no two
// inputs share a key by shifting bytes between fields.
func Key(in Input) string {
	h := sha256.New()
	field(h, []byte(hostVersion))
	field(h, []byte(wasmSHA256(in)))
	field(h, []byte(in.PluginName))
	field(h, in.PluginConfig)
	field(h, in.VMConfig)
	field(h, []byte(filterType(in.Type)))
	keys := slices.Sorted(maps.Keys(in.Env))
	binary.Write(h, binary.LittleEndian, uint64(len(keys))) //nolint:errcheck // hash.Hash never fails
	for _, k := range keys {
		field(h, []byte(k))
		field(h, []byte(in.Env[k]))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// field writes b with its length in front.
func field(h hash.Hash, b []byte) {
	binary.Write(h, binary.LittleEndian, uint64(len(b))) //nolint:errcheck // hash.Hash never fails
	h.Write(b)
}

// wasmSHA256 is in.SHA256 in lower case, or the digest of in.Wasm when empty.
func wasmSHA256(in Input) string {
	if in.SHA256 != "" {
		return strings.ToLower(strings.TrimPrefix(in.SHA256, "sha256:"))
	}
	sum := sha256.Sum256(in.Wasm)
	return hex.EncodeToString(sum[:])
}
