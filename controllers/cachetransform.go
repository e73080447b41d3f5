package controllers

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"reflect"

	"google.golang.org/protobuf/proto"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/wasmext/wasmext/api/v1alpha1"
	"github.com/wasmext/wasmext/internal/render"
)

// cachedSpecHash is a label that exists only in the operator's cache: on
// every rendered object it holds, it replaces the object's spec, status and
// annotations with the SHA-256 of the spec and of the operator's own
// annotations (renderedHash), so the cache keeps metadata only, in one map.
// The operator compares what it would render against the live object by
// this hash (liveDrifted), and reads nothing else of a rendered object but
// its name, owner and labels. It never writes a cached object back (it
// applies what it renders), so the label never reaches the API server.
//
// At 10,000 extensions the rendered objects' decoded specs were 14 MB of
// the operator's 88 MB live heap, and their annotation maps 3 MB more (make
// bench -pprof), for a comparison a hash does as well: a hand edit of the
// spec or of the module annotation changes the hash in the next watch
// event, which the repair works from as before.
const cachedSpecHash = "cache.wasmext.io/spec-sha256"

// ownAnnotations are the annotations the operator sets on what it renders
// (TestOwnAnnotations): the cached hash covers them.
var ownAnnotations = []string{render.AnnotationModule}

// transformCached is the cache's transform for every object: no
// managedFields (never read; server-side apply gives every rendered object
// a large block of them), and rendered objects as metadata plus the hash of
// their spec and the operator's annotations.
func transformCached(obj any) (any, error) {
	obj, err := stripManagedFields(obj)
	if err != nil {
		return obj, err
	}
	if ext, ok := obj.(*v1alpha1.WasmExtension); ok {
		cacheStrings.extension(ext)
		return ext, nil
	}
	o, ok := obj.(client.Object)
	if !ok {
		return obj, nil
	}
	out := outputByType[reflect.TypeOf(o)]
	if out == nil {
		return obj, nil
	}
	h, err := renderedHash(out.spec(o), o.GetAnnotations())
	if err != nil {
		return nil, fmt.Errorf("hashing the spec of %s %s/%s: %w", out.gvk.Kind, o.GetNamespace(), o.GetName(), err)
	}
	proto.Reset(out.spec(o))
	proto.Reset(out.status(o))
	cacheStrings.rendered(o, h)
	return o, nil
}

var stripManagedFields = cache.TransformStripManagedFields()

// outputByType finds the output kind of a typed object.
var outputByType = func() map[reflect.Type]*outputKind {
	m := map[reflect.Type]*outputKind{}
	for i := range outputKinds {
		m[reflect.TypeOf(outputKinds[i].newObject())] = &outputKinds[i]
	}
	return m
}()

// renderedHash is the hex SHA-256 of the deterministic protobuf encoding
// of spec and of the values of the operator's own annotations: equal for
// equal specs and annotations, whichever way they were built. Annotations
// others add are not in it.
func renderedHash(spec proto.Message, annotations map[string]string) (string, error) {
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(spec)
	if err != nil {
		return "", err
	}
	h := sha256.New()
	_ = binary.Write(h, binary.BigEndian, uint64(len(b)))
	h.Write(b)
	for _, k := range ownAnnotations {
		v, ok := annotations[k]
		_ = binary.Write(h, binary.BigEndian, [2]uint64{uint64(len(k)), uint64(len(v))})
		h.Write([]byte(k))
		h.Write([]byte(v))
		if ok {
			h.Write([]byte{1})
		} else {
			h.Write([]byte{0})
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
