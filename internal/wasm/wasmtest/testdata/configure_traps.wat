;; configure_traps.wat: on_configure logs "configure_traps: about to trap",
;; then executes unreachable (a trap).
;;
;; A minimal Proxy-Wasm (ABI 0.2.1) HTTP filter. Signatures follow
;; https://github.com/proxy-wasm/spec/tree/main/abi-versions/v0.2.1
;; Log levels: 0 trace, 1 debug, 2 info, 3 warn, 4 error, 5 critical.
;; Buffer type 7 is PluginConfiguration.
(module
  ;; proxy_log(level, message_data, message_size) -> WasmResult
  (import "env" "proxy_log"
    (func $proxy_log (param i32 i32 i32) (result i32)))
  ;; proxy_get_buffer_bytes(buffer_type, start, max_size,
  ;;                        return_buffer_data, return_buffer_size) -> WasmResult
  (import "env" "proxy_get_buffer_bytes"
    (func $proxy_get_buffer_bytes (param i32 i32 i32 i32 i32) (result i32)))

  (memory (export "memory") 1)

  ;; Bytes 8..15 are the return slots for proxy_get_buffer_bytes:
  ;; the host writes the data pointer at 8 and the size at 12.
  (data (i32.const 16) "configure_traps: about to trap")

  ;; Bump allocator state: the next free byte. Nothing is ever freed.
  (global $heap (mut i32) (i32.const 1024))

  (func (export "proxy_abi_version_0_2_1"))

  (func (export "_initialize"))

  ;; proxy_on_memory_allocate(size) -> ptr, or 0 when memory cannot grow.
  (func (export "proxy_on_memory_allocate") (param $size i32) (result i32)
    (local $ptr i32) (local $end i32) (local $have i32)
    (local.set $ptr (global.get $heap))
    ;; end = align8(ptr + size); a wrap-around means the request is too big.
    (local.set $end
      (i32.and (i32.add (i32.add (local.get $ptr) (local.get $size)) (i32.const 7))
               (i32.const -8)))
    (if (i32.lt_u (local.get $end) (local.get $ptr))
      (then (return (i32.const 0))))
    (local.set $have (i32.shl (memory.size) (i32.const 16)))
    (if (i32.gt_u (local.get $end) (local.get $have))
      (then
        (if (i32.eq
              (memory.grow
                (i32.shr_u (i32.add (i32.sub (local.get $end) (local.get $have))
                                    (i32.const 65535))
                           (i32.const 16)))
              (i32.const -1))
          (then (return (i32.const 0))))))
    (global.set $heap (local.get $end))
    (local.get $ptr))

  (func (export "proxy_on_context_create")
    (param $context_id i32) (param $parent_context_id i32))

  (func (export "proxy_on_vm_start")
    (param $root_context_id i32) (param $vm_configuration_size i32) (result i32)
    (i32.const 1))

  (func (export "proxy_on_configure")
    (param $root_context_id i32) (param $plugin_configuration_size i32) (result i32)
    (drop (call $proxy_log (i32.const 2) (i32.const 16) (i32.const 30)))
    unreachable)

  ;; Returns Action::Continue.
  (func (export "proxy_on_request_headers")
    (param $context_id i32) (param $num_headers i32) (param $end_of_stream i32)
    (result i32)
    (i32.const 0)))
