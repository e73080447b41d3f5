;; memory_initial.wat: declares 300 pages (18.75 MiB) of initial memory.
(module
  (memory (export "memory") 300)
  (func (export "proxy_abi_version_0_2_1"))
  (func (export "malloc") (param i32) (result i32) (i32.const 0))
  (func (export "proxy_on_configure") (param i32 i32) (result i32) (i32.const 1)))
