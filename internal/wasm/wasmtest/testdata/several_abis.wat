;; several_abis.wat: a Proxy-Wasm-shaped module exporting four ABI markers,
;; in this export order: proxy_abi_version_0_3_0 (unknown to Envoy),
;; proxy_abi_version_0_2_0, proxy_abi_version_0_2_1, proxy_abi_version_0_1_0.
;; Envoy takes the first known one in export order, 0_2_0: neither the
;; highest (0_2_1) nor the first by name (0_1_0).
(module
  (memory (export "memory") 1)
  (func (export "proxy_abi_version_0_3_0"))
  (func (export "proxy_abi_version_0_2_0"))
  (func (export "proxy_abi_version_0_2_1"))
  (func (export "proxy_abi_version_0_1_0"))
  (func (export "proxy_on_configure")
    (param $root_context_id i32) (param $plugin_configuration_size i32) (result i32)
    (i32.const 1)))
