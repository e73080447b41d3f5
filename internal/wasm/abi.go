package wasm

import (
	"fmt"
	"slices"
	"strings"
)

// abiPrefix starts the name of the export that declares the Proxy-Wasm ABI.
const abiPrefix = "proxy_abi_version_"

// knownABIs are the ABI markers Envoy's Wasm host, proxy-wasm-cpp-host,
// knows: the names BytecodeUtil::getAbiVersion (src/bytecode_util.cc)
// compares function exports with, one per value of the AbiVersion enum
// (include/proxy-wasm/wasm_vm.h) other than Unknown. They are also the
// versions the Proxy-Wasm spec defines (proxy-wasm/spec, abi-versions/).
var knownABIs = []string{"proxy_abi_version_0_1_0", "proxy_abi_version_0_2_0", "proxy_abi_version_0_2_1"}

// abiMarker picks the ABI marker from a module's function exports, given in
// export-section order, the way getAbiVersion does: the first export whose
// name is a known marker wins, even when a later one names a higher version,
// and proxy_abi_version_* exports it does not know are skipped. When no
// known marker is found, unknown lists the skipped ones.
func abiMarker(exports []string) (abi string, unknown []string) {
	for _, name := range exports {
		switch {
		case slices.Contains(knownABIs, name):
			return name, nil
		case strings.HasPrefix(name, abiPrefix):
			unknown = append(unknown, name)
		}
	}
	return "", unknown
}

// functionExports returns the names of the module's function exports in the
// order of its export section, which wazero does not keep. It runs once
// wazero has accepted the module, so its reads do not fail; should one fail,
// it returns nil and Inspect reports no ABI marker.
func functionExports(b []byte) []string {
	w := walker{b: b, pos: len(wasmHeader)}
	for w.pos < len(b) {
		id, err := w.nextSection()
		if err != nil {
			return nil
		}
		if id != secExport {
			w.pos = w.end
			continue
		}
		var names []string
		err = w.repeat("exports", 3, func() error {
			name, kind, err := w.export()
			if err == nil && kind == 0 {
				names = append(names, string(name))
			}
			return err
		})
		if err != nil {
			return nil
		}
		return names
	}
	return nil
}

// notProxyWasm explains why a valid module has no ABI marker Envoy knows.
// exports are its function exports and memories its memory exports, both
// sorted; unknown are the markers abiMarker skipped.
func notProxyWasm(exports, memories, unknown []string) error {
	if len(unknown) > 0 {
		return fmt.Errorf("%w: it exports only ABI markers that Envoy does not know (%s); Envoy knows %s",
			ErrNotProxyWasm, listNames(unknown), strings.Join(knownABIs, ", "))
	}
	names := slices.Clone(exports)
	for _, m := range memories {
		names = append(names, m+" (memory)")
	}
	slices.Sort(names)
	return fmt.Errorf("%w: no exported function named %s*; it exports %s%s",
		ErrNotProxyWasm, abiPrefix, listNames(names), hint(exports))
}

// hint names a likely cause when a module exports no ABI marker at all.
// Proxy-Wasm callbacks come first: a plugin may well export _start too.
func hint(exports []string) string {
	switch {
	case slices.ContainsFunc(exports, func(n string) bool { return strings.HasPrefix(n, "proxy_on_") }):
		return " (its proxy_on_* exports look like a Proxy-Wasm module built with an SDK from before ABI markers existed;" +
			" rebuild it with a current Proxy-Wasm SDK)"
	case slices.Contains(exports, "_start"):
		return " (looks like a WASI command, not a Proxy-Wasm plugin)"
	}
	return ""
}

// maxListed is how many names an ErrNotProxyWasm message lists.
const maxListed = 8

// listNames renders the first maxListed names for an error message.
func listNames(names []string) string {
	switch {
	case len(names) == 0:
		return "nothing"
	case len(names) > maxListed:
		return fmt.Sprintf("%s and %d more", strings.Join(names[:maxListed], ", "), len(names)-maxListed)
	default:
		return strings.Join(names, ", ")
	}
}
