;; bad_allocator.wat: exports malloc as (i64)->i64, a wasm64-style allocator
;; Envoy's 32-bit host cannot call.
(module
  (memory (export "memory") 1)
  (func (export "proxy_abi_version_0_2_1"))
  (func (export "malloc") (param i64) (result i64) (i64.const 0))
  (func (export "proxy_on_configure") (param i32 i32) (result i32) (i32.const 1)))
