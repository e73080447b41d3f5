// A Proxy-Wasm plugin built with the standard Go toolchain for the
// wasmext dry-run fixtures; its own module so the main module's
// `go build ./...` and `go vet ./...` never see it. See ../README.md.
module wasmext.test/gowasip1

go 1.24
