;; memory_bomb.wat: proxy_on_configure grows memory 16 pages at a time until
;; memory.grow fails, then aborts (unreachable), as an allocator does.
(module
  (memory (export "memory") 1)
  (func (export "proxy_abi_version_0_2_1"))
  (func (export "_initialize"))
  (func (export "malloc") (param i32) (result i32) (i32.const 0))
  (func (export "proxy_on_configure") (param i32 i32) (result i32)
    (loop $more
      (br_if $more (i32.ne (memory.grow (i32.const 16)) (i32.const -1))))
    unreachable))
