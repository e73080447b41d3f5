;; network_filter.wat: a Proxy-Wasm (ABI 0.2.1) NETWORK (TCP) filter: it
;; exports the stream callbacks of a network filter (proxy_on_new_connection,
;; proxy_on_downstream_data, proxy_on_downstream_connection_close and their
;; upstream counterparts) and no HTTP callback. It starts with _initialize and
;; allocates with proxy_on_memory_allocate.
;;
;; proxy_on_configure logs "network_filter: configured" and returns 1. Each
;; stream callback logs what it saw at info level:
;; "network_filter: new connection", "network_filter: downstream data" (then
;; the data, if the host has any), "network_filter: downstream connection
;; closed"; proxy_on_new_connection logs an error instead when
;; proxy_on_context_create did not create its context under a root context.
;; Every callback returns Action::Continue.
;;
;; Signatures follow https://github.com/proxy-wasm/spec/tree/main/abi-versions/v0.2.1
;; Log levels: 0 trace, 1 debug, 2 info, 3 warn, 4 error, 5 critical.
;; Buffer type 2 is DownstreamData.
(module
  (import "env" "proxy_log"
    (func $proxy_log (param i32 i32 i32) (result i32)))
  (import "env" "proxy_get_buffer_bytes"
    (func $proxy_get_buffer_bytes (param i32 i32 i32 i32 i32) (result i32)))

  (memory (export "memory") 1)

  ;; Bytes 8..15 are the return slots for proxy_get_buffer_bytes.
  (data (i32.const 64) "network_filter: configured\00")
  (data (i32.const 128) "network_filter: new connection\00")
  (data (i32.const 192) "network_filter: downstream data\00")
  (data (i32.const 256) "network_filter: downstream connection closed\00")
  (data (i32.const 320) "network_filter: upstream data\00")
  (data (i32.const 384) "network_filter: upstream connection closed\00")
  (data (i32.const 448) "network_filter: proxy_on_new_connection for a context proxy_on_context_create did not create under a root context\00")

  ;; The last context proxy_on_context_create created with a parent.
  (global $stream (mut i32) (i32.const 0))

  ;; Bump allocator state: the next free byte. Nothing is ever freed.
  (global $heap (mut i32) (i32.const 4096))

  ;; $alloc(size) -> ptr, or 0 when memory cannot grow.
  (func $alloc (param $size i32) (result i32)
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

  ;; $strlen(cstr) -> the length of the NUL-terminated string at cstr.
  (func $strlen (param $s i32) (result i32)
    (local $p i32)
    (local.set $p (local.get $s))
    (block $done
      (loop $next
        (br_if $done (i32.eqz (i32.load8_u (local.get $p))))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (br $next)))
    (i32.sub (local.get $p) (local.get $s)))

  ;; $log(level, cstr) logs the NUL-terminated string at cstr.
  (func $log (param $level i32) (param $s i32)
    (drop (call $proxy_log (local.get $level) (local.get $s) (call $strlen (local.get $s)))))

  (func (export "proxy_abi_version_0_2_1"))

  (func (export "_initialize"))

  (func (export "proxy_on_memory_allocate") (param $size i32) (result i32)
    (call $alloc (local.get $size)))

  (func (export "proxy_on_context_create")
    (param $context_id i32) (param $parent_context_id i32)
    (if (local.get $parent_context_id)
      (then (global.set $stream (local.get $context_id)))))

  (func (export "proxy_on_vm_start")
    (param $root_context_id i32) (param $vm_configuration_size i32) (result i32)
    (i32.const 1))

  (func (export "proxy_on_configure")
    (param $root_context_id i32) (param $plugin_configuration_size i32) (result i32)
    (call $log (i32.const 2) (i32.const 64))
    (i32.const 1))

  (func (export "proxy_on_new_connection") (param $context_id i32) (result i32)
    (if (i32.ne (local.get $context_id) (global.get $stream))
      (then (call $log (i32.const 4) (i32.const 448)))
      (else (call $log (i32.const 2) (i32.const 128))))
    (i32.const 0))

  (func (export "proxy_on_downstream_data")
    (param $context_id i32) (param $data_size i32) (param $end_of_stream i32) (result i32)
    (call $log (i32.const 2) (i32.const 192))
    (if (i32.gt_u (local.get $data_size) (i32.const 0))
      (then
        (if (i32.eqz (call $proxy_get_buffer_bytes
                       (i32.const 2) (i32.const 0) (local.get $data_size)
                       (i32.const 8) (i32.const 12)))
          (then
            (drop (call $proxy_log
                    (i32.const 2) (i32.load (i32.const 8)) (i32.load (i32.const 12))))))))
    (i32.const 0))

  (func (export "proxy_on_downstream_connection_close")
    (param $context_id i32) (param $peer_type i32)
    (call $log (i32.const 2) (i32.const 256)))

  (func (export "proxy_on_upstream_data")
    (param $context_id i32) (param $data_size i32) (param $end_of_stream i32) (result i32)
    (call $log (i32.const 2) (i32.const 320))
    (i32.const 0))

  (func (export "proxy_on_upstream_connection_close")
    (param $context_id i32) (param $peer_type i32)
    (call $log (i32.const 2) (i32.const 384))))
