package controllers

import (
	"crypto/sha256"
	"encoding/hex"
	"sync"
	"sync/atomic"

	"github.com/opencontainers/go-digest"
	"golang.org/x/sync/singleflight"
	corev1 "k8s.io/api/core/v1"
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
	type outcome struct {
		res     verify.Result
		checked bool
	}
	v, err, _ := c.flight.Do(key, func() (any, error) {
		// A check that finished between the Get above and this flight
		// kept its result: take it rather than check again.
		if v, ok := c.results.Get(key); ok {
			return outcome{res: v.(verify.Result)}, nil
		}
		res, err := check()
		if err == nil {
			c.results.Add(key, res)
		}
		return outcome{res: res, checked: true}, err
	})
	o := v.(outcome)
	return o.res, o.checked, err
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

// trustPart is what one Secret of spec.verify contributes to a trust
// material, as read at one resourceVersion: the PEM public keys picked out
// of a key Secret, or the trusted root JSON; id hashes them. err is a
// Secret that holds no usable material (a person must fix it), as
// deterministic as the data at that version.
type trustPart struct {
	keys [][]byte
	root []byte
	id   string
	err  error
}

// size is the number of bytes the part keeps.
func (p trustPart) size() int64 {
	n := int64(len(p.root) + len(p.id))
	for _, k := range p.keys {
		n += int64(len(k))
	}
	return n
}

// Bounds of the kept trust parts: at most trustPartsMax parts (one per
// trust Secret version in use) of at most trustPartsBytes in all, so a
// few huge Secrets cannot hold the memory. A part that does not fit costs
// one uncached Secret read per verification, as every part did before.
const (
	trustPartsMax   = 4096
	trustPartsBytes = 16 << 20
)

// trustPartCache keeps the trust parts read from Secrets, by namespace,
// name, UID and resourceVersion, so a verification whose Secret version the
// metadata cache already names needs no API read: a Secret's data cannot
// change without its resourceVersion, and a Secret deleted and created again
// has a new UID. 500 extensions under one key Secret make one Secret read,
// not 500 (each read also waits on the client's rate limit).
//
// Only the public material is kept (PEM public keys and the trusted root
// JSON), never the Secret: a private key or a password beside them is
// dropped when the part is made. A part is kept under the version actually
// read, which may be newer than the one the metadata cache named (the
// watch lags); the next reconcile, triggered by that watch event, then hits.
// Concurrent reads of one version are collapsed into one (singleflight).
type trustPartCache struct {
	once   sync.Once
	parts  *lru.Cache
	mu     sync.Mutex // serializes keep, so bytes counts each kept part once
	bytes  atomic.Int64
	flight singleflight.Group
}

// trustParts is the process's one trustPartCache (keyed by UID, so true
// for whichever reconciler asks).
var trustParts trustPartCache

// trustPartKey identifies a use (kind) of one Secret version (pure).
func trustPartKey(kind, ns string, s trustSecret) string {
	return kind + "/" + ns + "/" + s.name + "/" + string(s.uid) + "/" + s.resourceVersion
}

// get returns the part of kind that Secret version s holds: kept, or read
// (read) and made (parse) once for every concurrent caller. A failed read is
// not kept.
func (c *trustPartCache) get(kind, ns string, s trustSecret, read func() (*corev1.Secret, error), parse func(*corev1.Secret) trustPart) (trustPart, error) {
	c.once.Do(func() {
		c.parts = lru.NewWithEvictionFunc(trustPartsMax, func(_ lru.Key, v any) { c.bytes.Add(-v.(trustPart).size()) })
	})
	key := trustPartKey(kind, ns, s)
	if v, ok := c.parts.Get(key); ok {
		return v.(trustPart), nil
	}
	v, err, _ := c.flight.Do(key, func() (any, error) {
		if v, ok := c.parts.Get(key); ok {
			return v, nil
		}
		secret, err := read()
		if err != nil {
			return trustPart{}, err
		}
		p := parse(secret)
		c.keep(trustPartKey(kind, ns, trustSecret{name: s.name, uid: secret.UID, resourceVersion: secret.ResourceVersion}), p)
		return p, nil
	})
	return v.(trustPart), err
}

// keep adds p under key, then evicts the oldest parts while the kept bytes
// exceed trustPartsBytes. A part over the budget alone is not kept.
func (c *trustPartCache) keep(key string, p trustPart) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.parts.Get(key); ok || p.size() > trustPartsBytes {
		return
	}
	c.bytes.Add(p.size())
	c.parts.Add(key, p)
	for c.bytes.Load() > trustPartsBytes && c.parts.Len() > 0 {
		c.parts.RemoveOldest()
	}
}
