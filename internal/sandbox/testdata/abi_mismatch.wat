;; abi_mismatch.wat: declares ABI 0.2.1 but imports proxy_get_configuration,
;; which Envoy registers only for ABI 0.1.0 modules.
(module
  (import "env" "proxy_get_configuration" (func $get_configuration (param i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "proxy_abi_version_0_2_1"))
  (func (export "malloc") (param i32) (result i32) (i32.const 0))
  (func (export "proxy_on_configure") (param i32 i32) (result i32)
    (drop (call $get_configuration (i32.const 8) (i32.const 12)))
    (i32.const 1)))
