;; proc_exit_nonzero.wat: _start exits with code 3.
(module
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory (export "memory") 1)
  (func (export "proxy_abi_version_0_2_1"))
  (func (export "_start") (call $exit (i32.const 3)))
  (func (export "malloc") (param i32) (result i32) (i32.const 0))
  (func (export "proxy_on_configure") (param i32 i32) (result i32) (i32.const 1)))
