;; unknown_abi.wat: a Proxy-Wasm-shaped module whose only ABI markers,
;; proxy_abi_version_0_3_0 and proxy_abi_version_9, are not among those
;; Envoy knows, so Envoy refuses it.
(module
  (memory (export "memory") 1)
  (func (export "proxy_abi_version_0_3_0"))
  (func (export "proxy_abi_version_9"))
  (func (export "proxy_on_vm_start")
    (param $root_context_id i32) (param $vm_configuration_size i32) (result i32)
    (i32.const 1))
  (func (export "proxy_on_configure")
    (param $root_context_id i32) (param $plugin_configuration_size i32) (result i32)
    (i32.const 1)))
