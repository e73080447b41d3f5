;; abi_v010.wat: an ABI 0.1.0 filter: proxy_on_configure reads its
;; configuration with proxy_get_configuration (0.1.0 only) and logs it; the
;; header callbacks take (context_id, headers) without end_of_stream and
;; log their header count.
(module
  (import "env" "proxy_log" (func $log (param i32 i32 i32) (result i32)))
  (import "env" "proxy_get_configuration" (func $get_configuration (param i32 i32) (result i32)))
  (import "env" "proxy_continue_request" (func $continue_request (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 64) "request_headers")  ;; 15
  (data (i32.const 80) "response_headers") ;; 16
  (global $heap (mut i32) (i32.const 4096))
  (func (export "proxy_abi_version_0_1_0"))
  (func (export "_start"))
  (func (export "malloc") (param $size i32) (result i32)
    (local $p i32)
    (local.set $p (global.get $heap))
    (global.set $heap (i32.add (local.get $p) (local.get $size)))
    (local.get $p))
  (func (export "proxy_on_configure") (param i32 i32) (result i32)
    (if (i32.eqz (call $get_configuration (i32.const 8) (i32.const 12)))
      (then (drop (call $log (i32.const 2) (i32.load (i32.const 8)) (i32.load (i32.const 12))))))
    (i32.const 1))
  (func (export "proxy_on_request_headers") (param i32 i32) (result i32)
    (drop (call $log (i32.const 2) (i32.const 64) (i32.const 15)))
    (drop (call $continue_request))
    (i32.const 0))
  (func (export "proxy_on_response_headers") (param i32 i32) (result i32)
    (drop (call $log (i32.const 2) (i32.const 80) (i32.const 16)))
    (i32.const 0)))
