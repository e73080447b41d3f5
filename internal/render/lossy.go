package render

import (
	"bytes"
	"encoding/json"
	"math/big"
	"regexp"
	"slices"
	"strconv"
	"strings"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
)

// StructLossyNumbers returns the JSON paths of the numbers in raw (a
// pluginConfig) that a google.protobuf.Struct does not pass on unchanged:
// WasmPlugin and TrafficExtension carry pluginConfig as a Struct, whose
// numbers are float64, and Istio hands the plugin that Struct as JSON, each
// number in the shortest form that reads back as the same float64. A
// number is reported when that form has another decimal value than the one
// written: integers beyond 2^53 that are not a float64 (12345678901234567
// arrives as 12345678901234568; 2^53+2 arrives intact), digits past
// float64's precision (0.30000000000000001 arrives as 0.3), and numbers out
// of float64's range. Formatting alone (1.50 as 1.5, 1e2 as 100) is not a
// change. EnvoyFilter output passes the JSON text on and loses nothing.
//
// Paths are like limits.max and ids[2]; a key that is not an identifier is
// quoted, as in ["a.b"]; a number at the top level is "$". They are sorted
// by object key, array elements in order. raw that is absent or not JSON
// has none (the renderers refuse what is not a JSON object).
func StructLossyNumbers(raw *apiextensionsv1.JSON) []string {
	if raw == nil {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw.Raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil
	}
	var lossy []string
	walkNumbers(v, "", func(path string, n json.Number) {
		if !float64Keeps(string(n)) {
			lossy = append(lossy, path)
		}
	})
	return lossy
}

// walkNumbers calls visit with the path of every number in v, a value
// decoded with UseNumber, in the order StructLossyNumbers documents.
func walkNumbers(v any, path string, visit func(path string, n json.Number)) {
	switch v := v.(type) {
	case json.Number:
		if path == "" {
			path = "$"
		}
		visit(path, v)
	case []any:
		for i, e := range v {
			walkNumbers(e, path+"["+strconv.Itoa(i)+"]", visit)
		}
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			walkNumbers(v[k], memberPath(path, k), visit)
		}
	}
}

var identifier = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_-]*$`)

func memberPath(path, key string) string {
	if !identifier.MatchString(key) {
		q, _ := json.Marshal(key) // a string always marshals
		return path + "[" + string(q) + "]"
	}
	if path == "" {
		return key
	}
	return path + "." + key
}

// float64Keeps reports whether the JSON number lit reads as a float64 whose
// shortest decimal form has lit's value.
func float64Keeps(lit string) bool {
	f, err := strconv.ParseFloat(lit, 64)
	if err != nil {
		return false // out of range: a Struct cannot hold it at all
	}
	a, okA := parseDecimal(lit)
	b, okB := parseDecimal(strconv.FormatFloat(f, 'g', -1, 64))
	return okA && okB && a.equal(b)
}

// decimal is a number as digits × 10^exp, with digits free of leading and
// trailing zeros ("" for zero, whose sign does not count). The exponent is
// a big.Int, so that 1e-99999999999999999999 costs no more than 1e-9.
type decimal struct {
	neg    bool
	digits string
	exp    *big.Int
}

// parseDecimal reads a JSON number (or strconv's 'g' format of a float64).
func parseDecimal(s string) (decimal, bool) {
	d := decimal{exp: new(big.Int)}
	if rest, ok := strings.CutPrefix(s, "-"); ok {
		d.neg, s = true, rest
	}
	mant, expPart, hasExp := strings.Cut(strings.ToLower(s), "e")
	if hasExp {
		if _, ok := d.exp.SetString(expPart, 10); !ok {
			return decimal{}, false
		}
	}
	intPart, frac, _ := strings.Cut(mant, ".")
	d.exp.Sub(d.exp, big.NewInt(int64(len(frac))))
	digits := strings.TrimLeft(intPart+frac, "0")
	trimmed := strings.TrimRight(digits, "0")
	d.exp.Add(d.exp, big.NewInt(int64(len(digits)-len(trimmed))))
	d.digits = trimmed
	if d.digits == "" {
		return decimal{exp: new(big.Int)}, true
	}
	return d, true
}

func (d decimal) equal(o decimal) bool {
	return d.neg == o.neg && d.digits == o.digits && d.exp.Cmp(o.exp) == 0
}
