;; start_section.wat: no _initialize or _start; a start section (as
;; AssemblyScript emits) sets the state proxy_on_configure checks.
(module
  (memory (export "memory") 1)
  (global $ready (mut i32) (i32.const 0))
  (func $init (global.set $ready (i32.const 1)))
  (start $init)
  (func (export "proxy_abi_version_0_2_1"))
  (func (export "malloc") (param i32) (result i32) (i32.const 0))
  (func (export "proxy_on_configure") (param i32 i32) (result i32) (global.get $ready)))
