;; start_section.wat: a Proxy-Wasm (ABI 0.2.1) HTTP filter initialized the way
;; AssemblyScript modules are: by a start section, which runs while the module
;; is instantiated. It exports neither _start nor _initialize.
;;
;; proxy_on_configure returns 0, logging why at error level, unless the start
;; function ran; otherwise it returns 1.
;;
;; Signatures follow https://github.com/proxy-wasm/spec/tree/main/abi-versions/v0.2.1
;; Log levels: 0 trace, 1 debug, 2 info, 3 warn, 4 error, 5 critical.
(module
  (import "env" "proxy_log"
    (func $proxy_log (param i32 i32 i32) (result i32)))

  (memory (export "memory") 1)

  (data (i32.const 64) "start_section: the start function did not run\00")
  (data (i32.const 192) "start_section: configured after the start function\00")

  ;; Set by the start function.
  (global $started (mut i32) (i32.const 0))

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

  (func $init
    (global.set $started (i32.const 1)))
  (start $init)

  (func (export "proxy_abi_version_0_2_1"))

  (func (export "proxy_on_memory_allocate") (param $size i32) (result i32)
    (call $alloc (local.get $size)))

  (func (export "proxy_on_context_create")
    (param $context_id i32) (param $parent_context_id i32))

  (func (export "proxy_on_vm_start")
    (param $root_context_id i32) (param $vm_configuration_size i32) (result i32)
    (i32.const 1))

  (func (export "proxy_on_configure")
    (param $root_context_id i32) (param $plugin_configuration_size i32) (result i32)
    (if (i32.eqz (global.get $started))
      (then
        (call $log (i32.const 4) (i32.const 64))
        (return (i32.const 0))))
    (call $log (i32.const 2) (i32.const 192))
    (i32.const 1))

  ;; Returns Action::Continue.
  (func (export "proxy_on_request_headers")
    (param $context_id i32) (param $num_headers i32) (param $end_of_stream i32)
    (result i32)
    (i32.const 0)))
