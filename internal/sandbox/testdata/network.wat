;; network.wat: a NETWORK (TCP) filter: each callback logs its name; the
;; downstream data callback reads the data and logs it.
(module
  (import "env" "proxy_log" (func $log (param i32 i32 i32) (result i32)))
  (import "env" "proxy_get_buffer_bytes" (func $get_buffer (param i32 i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 64) "new_connection")   ;; 14
  (data (i32.const 80) "connection_close") ;; 16
  (global $heap (mut i32) (i32.const 4096))
  (func (export "proxy_abi_version_0_2_0"))
  (func (export "_initialize"))
  (func (export "proxy_on_memory_allocate") (param $size i32) (result i32)
    (local $p i32)
    (local.set $p (global.get $heap))
    (global.set $heap (i32.add (local.get $p) (local.get $size)))
    (local.get $p))
  (func (export "proxy_on_configure") (param i32 i32) (result i32) (i32.const 1))
  (func (export "proxy_on_new_connection") (param i32) (result i32)
    (drop (call $log (i32.const 2) (i32.const 64) (i32.const 14)))
    (i32.const 0))
  (func (export "proxy_on_downstream_data") (param $ctx i32) (param $size i32) (param $end i32) (result i32)
    ;; buffer type 2: downstream data
    (if (i32.eqz (call $get_buffer (i32.const 2) (i32.const 0) (local.get $size) (i32.const 8) (i32.const 12)))
      (then (drop (call $log (i32.const 2) (i32.load (i32.const 8)) (i32.load (i32.const 12))))))
    (i32.const 0))
  (func (export "proxy_on_downstream_connection_close") (param i32 i32)
    (drop (call $log (i32.const 2) (i32.const 80) (i32.const 16)))))
