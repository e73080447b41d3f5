;; malloc_only.wat: a Proxy-Wasm (ABI 0.2.1) HTTP filter whose only allocator
;; is malloc, as in modules from the C++ (Emscripten) and AssemblyScript SDKs:
;; it does not export proxy_on_memory_allocate. It starts with _initialize.
;;
;; proxy_on_configure asks for the property plugin_name, which the host copies
;; into memory it gets from malloc, and logs "malloc_only: plugin_name=<name>"
;; at info level (or, when the host has no such property, a warning); then it
;; logs the plugin configuration, if any, and returns 1.
;;
;; Signatures follow https://github.com/proxy-wasm/spec/tree/main/abi-versions/v0.2.1
;; Log levels: 0 trace, 1 debug, 2 info, 3 warn, 4 error, 5 critical.
;; Buffer type 7 is PluginConfiguration.
(module
  (import "env" "proxy_log"
    (func $proxy_log (param i32 i32 i32) (result i32)))
  (import "env" "proxy_get_buffer_bytes"
    (func $proxy_get_buffer_bytes (param i32 i32 i32 i32 i32) (result i32)))
  ;; proxy_get_property(path_data, path_size, return_value_data, return_value_size)
  (import "env" "proxy_get_property"
    (func $proxy_get_property (param i32 i32 i32 i32) (result i32)))

  (memory (export "memory") 1)

  ;; Bytes 8..15 are the return slots for proxy_get_buffer_bytes and
  ;; proxy_get_property.
  (data (i32.const 32) "plugin_name")
  (data (i32.const 64) "malloc_only: plugin_name=")
  (data (i32.const 128) "malloc_only: the host has no property plugin_name\00")
  (data (i32.const 192) "malloc_only: malloc returned no memory\00")

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

  (func (export "malloc") (param $size i32) (result i32)
    (call $alloc (local.get $size)))

  (func (export "proxy_on_context_create")
    (param $context_id i32) (param $parent_context_id i32))

  (func (export "proxy_on_vm_start")
    (param $root_context_id i32) (param $vm_configuration_size i32) (result i32)
    (i32.const 1))

  ;; $log_plugin_name logs "malloc_only: plugin_name=" and the property's value.
  (func $log_plugin_name
    (local $msg i32) (local $size i32)
    (if (call $proxy_get_property (i32.const 32) (i32.const 11) (i32.const 8) (i32.const 12))
      (then
        (call $log (i32.const 3) (i32.const 128))
        (return)))
    (local.set $size (i32.add (i32.const 25) (i32.load (i32.const 12))))
    (local.set $msg (call $alloc (local.get $size)))
    (if (i32.eqz (local.get $msg))
      (then
        (call $log (i32.const 4) (i32.const 192))
        (return)))
    (memory.copy (local.get $msg) (i32.const 64) (i32.const 25))
    (memory.copy (i32.add (local.get $msg) (i32.const 25))
                 (i32.load (i32.const 8)) (i32.load (i32.const 12)))
    (drop (call $proxy_log (i32.const 2) (local.get $msg) (local.get $size))))

  (func (export "proxy_on_configure")
    (param $root_context_id i32) (param $plugin_configuration_size i32) (result i32)
    (call $log_plugin_name)
    (if (i32.gt_u (local.get $plugin_configuration_size) (i32.const 0))
      (then
        (if (i32.eqz (call $proxy_get_buffer_bytes
                       (i32.const 7) (i32.const 0) (local.get $plugin_configuration_size)
                       (i32.const 8) (i32.const 12)))
          (then
            (drop (call $proxy_log
                    (i32.const 2) (i32.load (i32.const 8)) (i32.load (i32.const 12))))))))
    (i32.const 1))

  ;; Returns Action::Continue.
  (func (export "proxy_on_request_headers")
    (param $context_id i32) (param $num_headers i32) (param $end_of_stream i32)
    (result i32)
    (i32.const 0)))
