;; missing_import.wat: imports env.missing, which no host provides.
(module
  (import "env" "missing" (func $missing (param i32) (result i32)))
  (import "env" "proxy_log" (func $log (param i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "proxy_abi_version_0_2_1"))
  (func (export "malloc") (param i32) (result i32) (call $missing (local.get 0)))
  (func (export "proxy_on_configure") (param i32 i32) (result i32) (i32.const 1)))
