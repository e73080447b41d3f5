package controllers

import (
	"context"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/wasmext/wasmext/internal/oci"
)

// tagShareFor is how long one tag resolution answers every extension that
// names the same image with the same transport and credentials. A rollout
// of 1,000 extensions over 50 tags made 1,000 manifest HEADs, one per
// extension, where 50 say the same (make bench-flux); shared for a few
// seconds they are about one per tag. A moved tag is seen at most this much
// later than an extension's own interval would see it. Only a first
// resolution and an interval's are shared: an edit of the spec and a
// reconcile request always ask the registry.
const tagShareFor = 5 * time.Second

// maxSharedTags bounds the shared resolutions kept; past it they are
// dropped, all at once (each is only seconds old at most).
const maxSharedTags = 4096

// tagShare shares recent tag resolutions between extensions, and one
// request in flight between those asking at the same time. Keys include a
// hash of the credentials, so an extension is only ever answered from a
// request made with its own credentials: a cached answer never tells one
// pull Secret's holder what only another's may read.
type tagShare struct {
	group  singleflight.Group
	mu     sync.Mutex
	recent map[string]sharedTag
}

type sharedTag struct {
	res oci.Resolved
	at  time.Time // when the registry answered
}

// resolve resolves req through r, or answers from a resolution of the same
// key made less than tagShareFor before now. fresh always asks the
// registry. It returns when the registry gave the answer.
func (t *tagShare) resolve(ctx context.Context, r Resolver, req oci.Request, now time.Time, fresh bool) (oci.Resolved, time.Time, error) {
	key := tagKey(req)
	if !fresh {
		if s, ok := t.get(key, now); ok {
			return s.res, s.at, nil
		}
	}
	call := func() (any, error) {
		res, err := r.Resolve(ctx, req)
		if err != nil {
			return nil, err
		}
		s := sharedTag{res: res, at: now}
		t.put(key, s)
		return s, nil
	}
	var v any
	var err error
	if fresh {
		v, err = call()
	} else {
		v, err, _ = t.group.Do(key, call)
	}
	if err != nil {
		return oci.Resolved{}, time.Time{}, err
	}
	s := v.(sharedTag)
	return s.res, s.at, nil
}

func (t *tagShare) get(key string, now time.Time) (sharedTag, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	s, ok := t.recent[key]
	if !ok || now.Sub(s.at) >= tagShareFor || now.Before(s.at) {
		return sharedTag{}, false
	}
	return s, true
}

func (t *tagShare) put(key string, s sharedTag) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.recent == nil || len(t.recent) >= maxSharedTags {
		t.recent = map[string]sharedTag{}
	}
	t.recent[key] = s
}

// tagKey identifies what a resolution may answer: the image, the
// transport and the credentials (hashed, never kept).
func tagKey(req oci.Request) string {
	return oci.CredentialKey(req.Credential, req.Image, strconv.FormatBool(req.Insecure))
}
