;; configure_trap.wat: proxy_on_configure calls a function that hits
;; unreachable, as a Rust SDK module panicking on a bad configuration does.
(module
  (import "env" "proxy_log" (func $log (param i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 64) "panicked at 'bad config'") ;; 24
  (func (export "proxy_abi_version_0_2_0"))
  (func (export "_start"))
  (func (export "malloc") (param i32) (result i32) (i32.const 0))
  (func $parse_config
    (drop (call $log (i32.const 4) (i32.const 64) (i32.const 24)))
    unreachable)
  (func (export "proxy_on_configure") (param i32 i32) (result i32)
    (call $parse_config)
    (i32.const 1)))
