;; duplicate_imports.wat: a Proxy-Wasm (ABI 0.2.1) module that imports
;; wasi_snapshot_preview1.fd_write twice, as modules built by Go for wasip1
;; do, and its imports out of name order.
(module
  (import "wasi_snapshot_preview1" "fd_write"
    (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_log"
    (func $proxy_log (param i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write"
    (func $fd_write_again (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "proxy_abi_version_0_2_1"))
  (func (export "proxy_on_configure")
    (param $root_context_id i32) (param $plugin_configuration_size i32) (result i32)
    (drop (call $proxy_log (i32.const 2) (i32.const 0) (i32.const 0)))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 0) (i32.const 0)))
    (drop (call $fd_write_again (i32.const 2) (i32.const 0) (i32.const 0) (i32.const 0)))
    (i32.const 1)))
