// Package chart tests the Helm chart charts/wasmext with the helm binary `make helm` builds
// ($HELM_BIN, set by `make test`): `helm lint` is clean, values.schema.json refuses bad values,
// every object `helm template` renders (default and non-default values) is created in a real
// kube-apiserver (envtest), the RBAC it grants is exactly what the operator's markers generate,
// every flag it passes exists in the operator's --help, and `helm install`, `upgrade` and
// `uninstall` against that apiserver keep the module server key and the CRDs.
//
// It owns only tests; it must not start the operator or change the chart.
package chart
