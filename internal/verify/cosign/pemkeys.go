package cosign

import (
	"encoding/pem"
	"maps"
	"slices"
)

// pemPublicKey is the PEM block type of a PKIX public key, the form
// `cosign generate-key-pair` writes to cosign.pub.
const pemPublicKey = "PUBLIC KEY"

// PublicKeysFromData picks the PEM public keys out of a Secret's data, ready
// for NewKeyVerifier. It looks at the values in the order of their names
// and keeps those whose first PEM block is a "PUBLIC KEY": so of the Secret
// `cosign generate-key-pair k8s://…` writes, cosign.pub, and never the
// encrypted cosign.key or cosign.password beside it.
//
// A kept value may hold a key ring: each of its "PUBLIC KEY" blocks is
// returned as an element of its own, re-encoded as PEM (headers kept, text
// around the blocks dropped); blocks of any other type in it are skipped.
// It neither parses nor counts the keys: NewKeyVerifier does, and refuses
// more than MaxKeys. The result is nil when no value holds a public key.
func PublicKeysFromData(data map[string][]byte) [][]byte {
	var keys [][]byte
	for _, name := range slices.Sorted(maps.Keys(data)) {
		block, rest := pem.Decode(data[name])
		if block == nil || block.Type != pemPublicKey {
			continue
		}
		for ; block != nil; block, rest = pem.Decode(rest) {
			if block.Type == pemPublicKey {
				keys = append(keys, pem.EncodeToMemory(block))
			}
		}
	}
	return keys
}
