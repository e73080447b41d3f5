;; not_proxy_wasm.wat: a valid module shaped like a WASI command. It exports
;; only _start and memory, so it is not a Proxy-Wasm module.
(module
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (memory (export "memory") 1)
  (func (export "_start")
    (call $proc_exit (i32.const 0))))
