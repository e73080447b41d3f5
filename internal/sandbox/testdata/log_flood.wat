;; log_flood.wat: proxy_on_configure logs 1 GiB: a 64 KiB message 8192
;; times through proxy_log and 8192 times through fd_write to stderr, then
;; returns 1.
(module
  (import "env" "proxy_log" (func $log (param i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 2)
  (func (export "proxy_abi_version_0_2_1"))
  (func (export "_initialize")
    (memory.fill (i32.const 65536) (i32.const 0x41) (i32.const 65536)))
  (func (export "malloc") (param i32) (result i32) (i32.const 0))
  (func (export "proxy_on_configure") (param i32 i32) (result i32)
    (local $i i32)
    (i32.store (i32.const 16) (i32.const 65536))
    (i32.store (i32.const 20) (i32.const 65536))
    (loop $more
      (drop (call $log (i32.const 2) (i32.const 65536) (i32.const 65536)))
      (drop (call $fd_write (i32.const 2) (i32.const 16) (i32.const 1) (i32.const 24)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $more (i32.lt_u (local.get $i) (i32.const 8192))))
    (i32.const 1)))
