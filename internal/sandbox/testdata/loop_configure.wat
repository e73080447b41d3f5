;; loop_configure.wat: proxy_on_configure never returns.
(module
  (memory (export "memory") 1)
  (func (export "proxy_abi_version_0_2_1"))
  (func (export "_initialize"))
  (func (export "malloc") (param i32) (result i32) (i32.const 0))
  (func (export "proxy_on_configure") (param i32 i32) (result i32)
    (loop $forever (br $forever))
    (i32.const 1)))
