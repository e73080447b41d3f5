package render

import (
	"bytes"
	"encoding/json"
	"math/big"
	"regexp"
	"slices"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/structpb"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
)

var structLossyCases = []struct {
	name string
	raw  string // "" for a nil *JSON
	want []string
}{
	{"absent", "", nil},
	{"null", `null`, nil},
	{"not JSON", `{"a":`, nil},
	{"beyond 2^53", `{"limits":{"max":12345678901234567}}`, []string{"limits.max"}},
	{"2^53+1 in an array", `{"ids":[1,2,9007199254740993]}`, []string{"ids[2]"}},
	{"kept", `{"a":9007199254740992,"b":9007199254740994,"c":0.1,"d":1e23,"e":-0,"f":1.50,"g":1E2,"h":-2.5e-3,"i":0}`, nil},
	{"precision past float64", `{"x":0.30000000000000001}`, []string{"x"}},
	{"underflow", `{"x":1e-400}`, []string{"x"}},
	{"overflow", `{"x":1e400}`, []string{"x"}},
	{"huge exponent", `{"x":1e-99999999999999999999,"y":0e99999999999999999999}`, []string{"x"}},
	{"exponent beyond big.Float, empty key", `{"":1e-700000000}`, []string{`[""]`}},
	{"negative", `{"x":-12345678901234567}`, []string{"x"}},
	{"quoted keys", `{"a.b":{"c d":[{"e":12345678901234567}]}}`, []string{`["a.b"]["c d"][0].e`}},
	{"sorted by key", `{"z":12345678901234567,"a":{"k":12345678901234567},"m":[12345678901234567,1]}`, []string{"a.k", "m[0]", "z"}},
	{"digits in a string", `{"s":"12345678901234567"}`, nil},
	{"top-level number", `12345678901234567`, []string{"$"}},
}

func TestStructLossyNumbers(t *testing.T) {
	for _, tc := range structLossyCases {
		t.Run(tc.name, func(t *testing.T) {
			var raw *apiextensionsv1.JSON
			if tc.raw != "" {
				raw = &apiextensionsv1.JSON{Raw: []byte(tc.raw)}
			}
			if got := StructLossyNumbers(raw); !slices.Equal(got, tc.want) {
				t.Errorf("StructLossyNumbers(%s) = %q, want %q", tc.raw, got, tc.want)
			}
		})
	}
}

// TestStructLossyNumbersMatchesStruct checks the table against what really
// happens: the pluginConfig through structpb and protojson, as the renderer
// and istiod pass it on.
func TestStructLossyNumbersMatchesStruct(t *testing.T) {
	compared := 0
	for _, tc := range structLossyCases {
		want, ok := changedByStruct(t, []byte(tc.raw))
		if !ok {
			continue
		}
		compared++
		if got := StructLossyNumbers(&apiextensionsv1.JSON{Raw: []byte(tc.raw)}); !slices.Equal(got, want) {
			t.Errorf("%s: StructLossyNumbers = %q, the Struct changed %q", tc.name, got, want)
		}
	}
	if compared < 9 {
		t.Errorf("only %d cases compared with the Struct", compared)
	}
}

// FuzzStructLossyNumbers: never panics, and wherever a Struct can hold the
// input at all, reports exactly the numbers the Struct changes.
func FuzzStructLossyNumbers(f *testing.F) {
	for _, tc := range structLossyCases {
		f.Add([]byte(tc.raw))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got := StructLossyNumbers(&apiextensionsv1.JSON{Raw: data})
		want, ok := changedByStruct(t, data)
		if ok && !slices.Equal(got, want) {
			t.Errorf("StructLossyNumbers(%q) = %q, the Struct changed %q", data, got, want)
		}
	})
}

// changedByStruct is the oracle: the paths of the numbers whose value
// differs after data went through structpb.NewStruct and protojson. ok is
// false where there is nothing to compare: data is not a JSON object a
// Struct holds, or has a number too long to compare exactly at 4096 bits or
// with an exponent beyond big.Float's.
func changedByStruct(t *testing.T, data []byte) ([]string, bool) {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil || m == nil {
		return nil, false
	}
	s, err := structpb.NewStruct(m)
	if err != nil {
		return nil, false
	}
	out, err := protojson.Marshal(s)
	if err != nil {
		t.Fatalf("protojson.Marshal: %v", err)
	}
	before, after := numbersByPath(t, data), numbersByPath(t, out)
	var changed []string
	for _, p := range before.paths {
		a, b := before.values[p], after.values[p]
		if len(a) > 1000 || hugeExponent.MatchString(string(a)) {
			return nil, false
		}
		x, _, errA := big.ParseFloat(string(a), 10, 4096, big.ToNearestEven)
		y, _, errB := big.ParseFloat(string(b), 10, 4096, big.ToNearestEven)
		if errA != nil || errB != nil {
			return nil, false
		}
		if x.Cmp(y) != 0 {
			changed = append(changed, p)
		}
	}
	return changed, true
}

// hugeExponent matches numbers beyond big.Float's exponent range (about
// 10^±646456992), which it rounds to 0 or infinity.
var hugeExponent = regexp.MustCompile(`[eE][+-]?0*[0-9]{6,}`)

type numbers struct {
	paths  []string
	values map[string]json.Number
}

func numbersByPath(t *testing.T, data []byte) numbers {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("decode %q: %v", data, err)
	}
	ns := numbers{values: map[string]json.Number{}}
	walkNumbers(v, "", func(p string, n json.Number) {
		ns.paths = append(ns.paths, p)
		ns.values[p] = n
	})
	return ns
}
