;; configure_false.wat: proxy_on_configure logs why it refuses the
;; configuration at error level, then returns 0 (false). ABI 0.2.1, malloc.
(module
  (import "env" "proxy_log" (func $log (param i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 64) "parsing the configuration")                ;; 25
  (data (i32.const 128) "invalid configuration: missing field \22upstream\22") ;; 47
  (func (export "proxy_abi_version_0_2_1"))
  (func (export "_initialize"))
  (func (export "malloc") (param i32) (result i32) (i32.const 0))
  (func (export "proxy_on_configure") (param i32 i32) (result i32)
    (drop (call $log (i32.const 2) (i32.const 64) (i32.const 25)))
    (drop (call $log (i32.const 4) (i32.const 128) (i32.const 47)))
    (i32.const 0)))
