;; wasi_unstable.wat: a Proxy-Wasm (ABI 0.2.0) HTTP filter shaped like the
;; 2020-era modules of TinyGo, C++ and AssemblyScript: it imports WASI from the
;; older module name wasi_unstable instead of wasi_snapshot_preview1, exports
;; _start and allocates with malloc.
;;
;; _start calls wasi_unstable.environ_sizes_get, environ_get and
;; args_sizes_get and writes "wasi_unstable: started" to stdout with fd_write.
;; proxy_on_configure returns 0, logging why at error level, when _start did
;; not run or one of those calls returned an errno other than 0; otherwise it
;; returns 1. proc_exit, fd_close, fd_seek and args_get are imported but not
;; called: the host must still provide them.
;;
;; Signatures follow https://github.com/proxy-wasm/spec/tree/main/abi-versions/v0.2.0
;; Log levels: 0 trace, 1 debug, 2 info, 3 warn, 4 error, 5 critical.
(module
  (import "env" "proxy_log"
    (func $proxy_log (param i32 i32 i32) (result i32)))
  (import "wasi_unstable" "fd_write"
    (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_unstable" "fd_close"
    (func $fd_close (param i32) (result i32)))
  (import "wasi_unstable" "fd_seek"
    (func $fd_seek (param i32 i64 i32 i32) (result i32)))
  (import "wasi_unstable" "environ_sizes_get"
    (func $environ_sizes_get (param i32 i32) (result i32)))
  (import "wasi_unstable" "environ_get"
    (func $environ_get (param i32 i32) (result i32)))
  (import "wasi_unstable" "args_sizes_get"
    (func $args_sizes_get (param i32 i32) (result i32)))
  (import "wasi_unstable" "args_get"
    (func $args_get (param i32 i32) (result i32)))
  (import "wasi_unstable" "proc_exit"
    (func $proc_exit (param i32)))

  (memory (export "memory") 1)

  ;; Bytes 16..31 receive environ_sizes_get's and args_sizes_get's results,
  ;; 32..39 are the iovec for fd_write, 40..43 its written-bytes result.
  (data (i32.const 256) "wasi_unstable: started\n\00")
  (data (i32.const 320) "wasi_unstable: _start did not run\00")
  (data (i32.const 384) "wasi_unstable: a wasi_unstable call in _start returned an errno other than 0\00")
  (data (i32.const 512) "wasi_unstable: configured\00")

  ;; 0 before _start, 1 after it, 2 when a WASI call in it failed.
  (global $state (mut i32) (i32.const 0))

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

  (func (export "proxy_abi_version_0_2_0"))

  ;; $check(errno) records a failed WASI call.
  (func $check (param $errno i32)
    (if (local.get $errno) (then (global.set $state (i32.const 2)))))

  (func (export "_start")
    (local $environ i32) (local $buf i32)
    (global.set $state (i32.const 1))
    (call $check (call $environ_sizes_get (i32.const 16) (i32.const 20)))
    (local.set $environ (call $alloc (i32.shl (i32.load (i32.const 16)) (i32.const 2))))
    (local.set $buf (call $alloc (i32.load (i32.const 20))))
    (call $check (call $environ_get (local.get $environ) (local.get $buf)))
    (call $check (call $args_sizes_get (i32.const 24) (i32.const 28)))
    (i32.store (i32.const 32) (i32.const 256))
    (i32.store (i32.const 36) (call $strlen (i32.const 256)))
    (call $check (call $fd_write (i32.const 1) (i32.const 32) (i32.const 1) (i32.const 40))))

  (func (export "malloc") (param $size i32) (result i32)
    (call $alloc (local.get $size)))

  (func (export "proxy_on_context_create")
    (param $context_id i32) (param $parent_context_id i32))

  (func (export "proxy_on_vm_start")
    (param $root_context_id i32) (param $vm_configuration_size i32) (result i32)
    (i32.const 1))

  (func (export "proxy_on_configure")
    (param $root_context_id i32) (param $plugin_configuration_size i32) (result i32)
    (if (i32.eqz (global.get $state))
      (then
        (call $log (i32.const 4) (i32.const 320))
        (return (i32.const 0))))
    (if (i32.eq (global.get $state) (i32.const 2))
      (then
        (call $log (i32.const 4) (i32.const 384))
        (return (i32.const 0))))
    (call $log (i32.const 2) (i32.const 512))
    (i32.const 1))

  ;; Returns Action::Continue.
  (func (export "proxy_on_request_headers")
    (param $context_id i32) (param $num_headers i32) (param $end_of_stream i32)
    (result i32)
    (i32.const 0)))
