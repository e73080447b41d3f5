//go:build wasip1

// Command gowasip1 is a Proxy-Wasm (ABI 0.2.1) HTTP filter built with the
// standard Go toolchain (GOOS=wasip1 GOARCH=wasm, -buildmode=c-shared, so
// the module is a reactor started with _initialize) and //go:wasmexport.
//
// Its plugin configuration is empty or a JSON object
// {"header": "x-name", "value": "v"}; proxy_on_configure refuses anything
// else (invalid JSON, an unknown key, a header without a value), logging
// "gowasip1: invalid plugin configuration: <why>" at error level and
// returning 0. proxy_on_request_headers logs the request's :path and adds
// the configured header.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
)

// config is the plugin configuration.
type config struct {
	Header string `json:"header"`
	Value  string `json:"value"`
}

// current is the configuration proxy_on_configure accepted last.
var current config

func main() {}

// parseConfig decodes a plugin configuration; empty means the zero config.
func parseConfig(b []byte) (config, error) {
	var c config
	if len(bytes.TrimSpace(b)) == 0 {
		return c, nil
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return c, err
	}
	if dec.More() {
		return c, errors.New("data after the JSON object")
	}
	if (c.Header == "") != (c.Value == "") {
		return c, errors.New(`"header" and "value" must be set together`)
	}
	return c, nil
}

//go:wasmexport proxy_on_context_create
func proxyOnContextCreate(contextID, parentContextID uint32) {}

//go:wasmexport proxy_on_vm_start
func proxyOnVMStart(rootContextID, vmConfigurationSize uint32) uint32 {
	return 1
}

//go:wasmexport proxy_on_configure
func proxyOnConfigure(rootContextID, pluginConfigurationSize uint32) uint32 {
	raw, status := pluginConfiguration(pluginConfigurationSize)
	if status != 0 {
		logf(logError, "gowasip1: reading the plugin configuration failed with status "+strconv.Itoa(int(status)))
		return 0
	}
	c, err := parseConfig(raw)
	if err != nil {
		logf(logError, "gowasip1: invalid plugin configuration: "+err.Error())
		return 0
	}
	current = c
	logf(logInfo, "gowasip1: configured (header "+strconv.Quote(c.Header)+")")
	return 1
}

//go:wasmexport proxy_on_request_headers
func proxyOnRequestHeaders(contextID, numHeaders, endOfStream uint32) uint32 {
	path, status := requestHeader(":path")
	if status == 0 {
		logf(logDebug, "gowasip1: request "+path)
	}
	if current.Header != "" {
		if status := addRequestHeader(current.Header, current.Value); status != 0 {
			logf(logError, "gowasip1: adding "+current.Header+" failed with status "+strconv.Itoa(int(status)))
		}
	}
	return 0 // Action::Continue
}

//go:wasmexport proxy_on_done
func proxyOnDone(contextID uint32) uint32 { return 1 }

//go:wasmexport proxy_on_delete
func proxyOnDelete(contextID uint32) {}
