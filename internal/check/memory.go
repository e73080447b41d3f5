package check

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/api/resource"
)

// wasmPage is the size of one WebAssembly memory page.
const wasmPage = 64 << 10

// maxPages is the most pages a 32-bit WebAssembly memory can have (4 GiB).
const maxPages = 1 << 16

// ParseMemoryLimit parses a dry-run memory limit: a plain number is MiB
// ("64"), anything else a Kubernetes quantity ("64Mi", "1Gi", "20M"). It
// returns whole 64 KiB pages, rounded down; a limit under one page or over
// 4 GiB (the most a 32-bit Wasm memory has) is an error.
func ParseMemoryLimit(s string) (pages uint32, err error) {
	s = strings.TrimSpace(s)
	var n int64
	if mib, perr := strconv.ParseInt(s, 10, 64); perr == nil {
		if mib < 0 || mib > math.MaxInt64>>20 {
			return 0, fmt.Errorf("memory limit %q is out of range", s)
		}
		n = mib << 20
	} else {
		q, qerr := resource.ParseQuantity(s)
		if qerr != nil {
			return 0, fmt.Errorf("memory limit %q is neither MiB nor a quantity: %w", s, qerr)
		}
		n = q.Value()
	}
	switch p := n / wasmPage; {
	case p < 1:
		return 0, fmt.Errorf("memory limit %q is under one 64 KiB Wasm page", s)
	case p > maxPages:
		return 0, fmt.Errorf("memory limit %q is over 4 GiB, the most a Wasm memory has", s)
	default:
		return uint32(p), nil
	}
}

// FormatPages prints a page count as a quantity ("20Mi", "1088Ki"), for
// flag defaults and messages.
func FormatPages(pages uint32) string {
	return resource.NewQuantity(int64(pages)*wasmPage, resource.BinarySI).String()
}
