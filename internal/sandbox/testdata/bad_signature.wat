;; bad_signature.wat: exports proxy_on_configure as (i32,i32,i32,i32)->i32
;; instead of (i32,i32)->i32.
(module
  (memory (export "memory") 1)
  (func (export "proxy_abi_version_0_2_1"))
  (func (export "_initialize"))
  (func (export "malloc") (param i32) (result i32) (i32.const 0))
  (func (export "proxy_on_configure") (param i32 i32 i32 i32) (result i32) (i32.const 1)))
