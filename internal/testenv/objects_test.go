package testenv

import (
	"strings"
	"testing"
)

func TestDecodeObjects(t *testing.T) {
	objs, err := DecodeObjects(strings.NewReader("---\n# only a comment\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\n\n---\napiVersion: v1\nkind: Secret\nmetadata: {name: b}\n"))
	if err != nil || len(objs) != 2 || objs[0].GetName() != "a" || objs[1].GetKind() != "Secret" {
		t.Fatalf("DecodeObjects = %v, %v; want the ConfigMap a and the Secret b", objs, err)
	}
	if _, err := DecodeObjects(strings.NewReader("kind: [unclosed")); err == nil {
		t.Fatal("a broken document decoded without error")
	}
}
