;; proc_exit.wat: _start ends with wasi_unstable.proc_exit(0), as TinyGo and
;; 2020-era C++ modules start, then traps if execution continues past it.
;; proxy_on_configure afterwards proves the module is still usable: it logs
;; the first environment variable and a counter _start set.
(module
  (import "wasi_unstable" "proc_exit" (func $exit (param i32)))
  (import "wasi_unstable" "environ_sizes_get" (func $env_sizes (param i32 i32) (result i32)))
  (import "wasi_unstable" "environ_get" (func $env_get (param i32 i32) (result i32)))
  (import "env" "proxy_log" (func $log (param i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (global $started (mut i32) (i32.const 0))
  (data (i32.const 64) "started")
  (func (export "proxy_abi_version_0_1_0"))
  (func (export "_start")
    (global.set $started (i32.const 1))
    (call $exit (i32.const 0))
    unreachable)
  (func (export "malloc") (param i32) (result i32) (i32.const 0))
  (func (export "proxy_on_configure") (param i32 i32) (result i32)
    (if (i32.eqz (global.get $started)) (then unreachable))
    (drop (call $log (i32.const 2) (i32.const 64) (i32.const 7)))
    ;; environ: count at 8, buffer size at 12; pointers at 256, strings at 512
    (drop (call $env_sizes (i32.const 8) (i32.const 12)))
    (if (i32.gt_u (i32.load (i32.const 8)) (i32.const 0))
      (then
        (drop (call $env_get (i32.const 256) (i32.const 512)))
        (drop (call $log (i32.const 2) (i32.const 512) (i32.sub (i32.load (i32.const 12)) (i32.const 1))))))
    (i32.const 1)))
