;; good.wat: a well-behaved HTTP filter (Proxy-Wasm ABI 0.2.1). _initialize
;; starts it; proxy_on_configure reads plugin_name and the plugin
;; configuration and logs both; every stream callback logs its name and
;; reads a request header, so the test sees the whole smoke stream.
(module
  (import "env" "proxy_log" (func $log (param i32 i32 i32) (result i32)))
  (import "env" "proxy_get_buffer_bytes" (func $get_buffer (param i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_get_property" (func $get_property (param i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_get_header_map_value" (func $get_header (param i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_set_tick_period_milliseconds" (func $set_tick (param i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))

  (memory (export "memory") 1)
  ;; 8/12: return slots; 16: iovec for fd_write
  (data (i32.const 64) "plugin_name")          ;; 11
  (data (i32.const 80) "configured")           ;; 10
  (data (i32.const 96) ":path")                ;; 5
  (data (i32.const 112) "request_headers")     ;; 15
  (data (i32.const 128) "request_body")        ;; 12
  (data (i32.const 144) "response_headers")    ;; 16
  (data (i32.const 176) "done")                ;; 4
  (data (i32.const 192) "log")                 ;; 3
  (data (i32.const 208) "delete")              ;; 6
  (data (i32.const 224) "hello from stdout\n") ;; 18

  (global $heap (mut i32) (i32.const 4096))
  (func (export "proxy_abi_version_0_2_1"))
  (func (export "_initialize")
    ;; fd_write(1, iov at 16 -> (224, 18), 1, nwritten at 24)
    (i32.store (i32.const 16) (i32.const 224))
    (i32.store (i32.const 20) (i32.const 18))
    (drop (call $fd_write (i32.const 1) (i32.const 16) (i32.const 1) (i32.const 24))))
  (func (export "proxy_on_memory_allocate") (param $size i32) (result i32)
    (local $p i32)
    (local.set $p (global.get $heap))
    (global.set $heap (i32.and (i32.add (i32.add (local.get $p) (local.get $size)) (i32.const 7)) (i32.const -8)))
    (if (i32.gt_u (global.get $heap) (i32.shl (memory.size) (i32.const 16)))
      (then (drop (memory.grow (i32.add (i32.shr_u (i32.sub (global.get $heap) (i32.shl (memory.size) (i32.const 16))) (i32.const 16)) (i32.const 1))))))
    (local.get $p))
  (func (export "proxy_on_context_create") (param i32 i32))
  (func (export "proxy_on_vm_start") (param i32 i32) (result i32) (i32.const 1))
  (func (export "proxy_on_configure") (param $ctx i32) (param $size i32) (result i32)
    (if (i32.eqz (call $get_property (i32.const 64) (i32.const 11) (i32.const 8) (i32.const 12)))
      (then (drop (call $log (i32.const 2) (i32.load (i32.const 8)) (i32.load (i32.const 12))))))
    (if (i32.gt_u (local.get $size) (i32.const 0))
      (then
        (if (i32.eqz (call $get_buffer (i32.const 7) (i32.const 0) (i32.const -1) (i32.const 8) (i32.const 12)))
          (then (drop (call $log (i32.const 2) (i32.load (i32.const 8)) (i32.load (i32.const 12))))))))
    (drop (call $set_tick (i32.const 1000)))
    (drop (call $log (i32.const 2) (i32.const 80) (i32.const 10)))
    (i32.const 1))
  (func $path
    (if (i32.eqz (call $get_header (i32.const 0) (i32.const 96) (i32.const 5) (i32.const 8) (i32.const 12)))
      (then (drop (call $log (i32.const 1) (i32.load (i32.const 8)) (i32.load (i32.const 12)))))))
  (func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32)
    (drop (call $log (i32.const 1) (i32.const 112) (i32.const 15)))
    (call $path)
    (i32.const 0))
  (func (export "proxy_on_request_body") (param i32 i32 i32) (result i32)
    (drop (call $log (i32.const 1) (i32.const 128) (i32.const 12)))
    (i32.const 0))
  (func (export "proxy_on_response_headers") (param i32 i32 i32) (result i32)
    (drop (call $log (i32.const 1) (i32.const 144) (i32.const 16)))
    (i32.const 0))
  (func (export "proxy_on_done") (param i32) (result i32)
    (drop (call $log (i32.const 1) (i32.const 176) (i32.const 4)))
    (i32.const 1))
  (func (export "proxy_on_log") (param i32)
    (drop (call $log (i32.const 1) (i32.const 192) (i32.const 3))))
  (func (export "proxy_on_delete") (param i32)
    (drop (call $log (i32.const 1) (i32.const 208) (i32.const 6)))))
