;; abi_v0_1_0.wat: a Proxy-Wasm ABI 0.1.0 HTTP filter, as the C++ and Rust
;; SDKs built them in 2020: marker proxy_abi_version_0_1_0, _start, malloc,
;; the plugin configuration read with proxy_get_configuration (which ABI 0.1.0
;; has and later ABIs replaced with proxy_get_buffer_bytes), and the 0.1.0
;; signatures of proxy_on_request_headers and proxy_on_response_headers:
;; (context_id, num_headers) -> action, without end_of_stream.
;;
;; proxy_on_configure accepts an empty configuration and one that starts with
;; "{" (it logs "abi_v0_1_0: configured" and returns 1); for any other
;; configuration it logs "abi_v0_1_0: the plugin configuration is not a JSON
;; object" at error level and returns 0.
;;
;; Signatures follow https://github.com/proxy-wasm/spec/tree/main/abi-versions/v0.1.0
;; Log levels: 0 trace, 1 debug, 2 info, 3 warn, 4 error, 5 critical.
(module
  (import "env" "proxy_log"
    (func $proxy_log (param i32 i32 i32) (result i32)))
  ;; proxy_get_configuration(return_value_data, return_value_size) -> status
  (import "env" "proxy_get_configuration"
    (func $proxy_get_configuration (param i32 i32) (result i32)))

  (memory (export "memory") 1)

  ;; Bytes 8..15 are the return slots for proxy_get_configuration.
  (data (i32.const 64) "abi_v0_1_0: configured\00")
  (data (i32.const 128) "abi_v0_1_0: the plugin configuration is not a JSON object\00")
  (data (i32.const 256) "abi_v0_1_0: proxy_get_configuration failed\00")

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

  (func (export "proxy_abi_version_0_1_0"))

  (func (export "_start"))

  (func (export "malloc") (param $size i32) (result i32)
    (call $alloc (local.get $size)))

  (func (export "proxy_on_context_create")
    (param $context_id i32) (param $parent_context_id i32))

  (func (export "proxy_on_vm_start")
    (param $root_context_id i32) (param $vm_configuration_size i32) (result i32)
    (i32.const 1))

  (func (export "proxy_on_configure")
    (param $root_context_id i32) (param $plugin_configuration_size i32) (result i32)
    (if (i32.eqz (local.get $plugin_configuration_size))
      (then
        (call $log (i32.const 2) (i32.const 64))
        (return (i32.const 1))))
    (if (call $proxy_get_configuration (i32.const 8) (i32.const 12))
      (then
        (call $log (i32.const 4) (i32.const 256))
        (return (i32.const 0))))
    (if (i32.or (i32.eqz (i32.load (i32.const 12)))
                (i32.ne (i32.load8_u (i32.load (i32.const 8))) (i32.const 123))) ;; '{'
      (then
        (call $log (i32.const 4) (i32.const 128))
        (return (i32.const 0))))
    (call $log (i32.const 2) (i32.const 64))
    (i32.const 1))

  ;; ABI 0.1.0: no end_of_stream parameter. Returns Action::Continue.
  (func (export "proxy_on_request_headers")
    (param $context_id i32) (param $num_headers i32) (result i32)
    (i32.const 0))

  (func (export "proxy_on_request_body")
    (param $context_id i32) (param $body_size i32) (param $end_of_stream i32) (result i32)
    (i32.const 0))

  (func (export "proxy_on_response_headers")
    (param $context_id i32) (param $num_headers i32) (result i32)
    (i32.const 0))

  (func (export "proxy_on_done") (param $context_id i32) (result i32)
    (i32.const 1))

  (func (export "proxy_on_log") (param $context_id i32))

  (func (export "proxy_on_delete") (param $context_id i32)))
