package controllers

import (
	"crypto/sha256"
	"encoding/hex"
	"sync"

	"github.com/opencontainers/go-digest"
	"golang.org/x/sync/singleflight"
	"k8s.io/utils/lru"

	"github.com/wasmext/wasmext/internal/verify"
)

// verifyCacheSize bounds the shared verification results: one entry per
// (repository@digest, trust material) in use; 4,096 covers 200 modules
// each verified under 20 different trust materials.
const verifyCacheSize = 4096

// verifyCache is the verification results every extension of this
// process shares, so N extensions of one signed module make one signature
// check, not N (the per-extension memory only says whether an extension
// must ask again).
//
// An entry is keyed by verifyCacheKey: the repository@digest and a hash of
// everything the result depends on — the trust material bytes (the PEM
// keys, or the trusted root JSON) and the identity policy (issuer and
// subject, exact or regexp). The cluster policy is not in the key: none of
// its settings changes whether a signature verifies (RemoveUnverified only
// decides what a failure does, and the registry policies are checked
// before). Credentials are not in it either: the extension has already
// proved it may read the digest when it resolved the tag with its own
// credentials.
//
// Only passed verifications are kept. A failure is not: it is either
// transient (retried with backoff) or waits for a person to sign the module
// or fix the policy, and the next attempt must see their fix at once.
// Concurrent checks of one key are collapsed into one (singleflight);
// concurrent callers of a failing check share its error.
//
// Revocation is a change of the key: a key removed from the Secret, or a
// new trusted root, hashes differently, so every extension under it checks
// again (and fails) instead of reading the old success. A success is not
// re-checked while its key is unchanged, as before: the signature was
// verified for this digest with this material, and neither can change
// under the key. Entries leave only by LRU eviction, which costs a check.
type verifyCache struct {
	once    sync.Once
	results *lru.Cache
	flight  singleflight.Group
}

// verifyResults is the process's one verifyCache. It is process-wide, not
// per reconciler, on purpose: a kept result is a fact about a digest and a
// trust material, true for whichever reconciler asks.
var verifyResults verifyCache

// verifyCacheKey is the shared key of one verification (pure).
func verifyCacheKey(repository string, d digest.Digest, trust trustMaterial) string {
	return repository + "@" + d.String() + "#" + trust.id
}

// verify returns the kept result for key, or runs check once for every
// concurrent caller and keeps its result if it passed. checked says whether
// this call's result came from a check rather than from the cache.
func (c *verifyCache) verify(key string, check func() (verify.Result, error)) (res verify.Result, checked bool, err error) {
	c.once.Do(func() { c.results = lru.New(verifyCacheSize) })
	if v, ok := c.results.Get(key); ok {
		return v.(verify.Result), false, nil
	}
	v, err, _ := c.flight.Do(key, func() (any, error) {
		res, err := check()
		if err == nil {
			c.results.Add(key, res)
		}
		return res, err
	})
	return v.(verify.Result), true, err
}

// trustMaterial is what a verification trusts: id identifies it (a hash of
// the bytes and the identity policy), build makes its verifier.
type trustMaterial struct {
	id    string
	build func() (verify.Verifier, error)
}

// materialID hashes the parts of a trust material, each length-prefixed
// so no two lists of parts hash alike (pure).
func materialID(kind string, parts ...[]byte) string {
	h := sha256.New()
	for _, p := range append([][]byte{[]byte(kind)}, parts...) {
		var n [8]byte
		for i := range n {
			n[i] = byte(len(p) >> (8 * i))
		}
		h.Write(n[:])
		h.Write(p)
	}
	return kind + ":" + hex.EncodeToString(h.Sum(nil))
}
