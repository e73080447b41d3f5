;; legacy_sdk.wat: shaped like a Proxy-Wasm module built with an SDK from
;; before ABI version markers existed: it exports proxy_on_* callbacks,
;; _start and memory, but no proxy_abi_version_* function, so Envoy refuses
;; it ("Missing or unknown Proxy-Wasm ABI version").
(module
  (memory (export "memory") 1)
  (func (export "_start"))
  (func (export "proxy_on_vm_start")
    (param $root_context_id i32) (param $vm_configuration_size i32) (result i32)
    (i32.const 1))
  (func (export "proxy_on_configure")
    (param $root_context_id i32) (param $plugin_configuration_size i32) (result i32)
    (i32.const 1))
  (func (export "proxy_on_context_create")
    (param $context_id i32) (param $parent_context_id i32)))
