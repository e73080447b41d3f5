// Package rbac proves that the operator's RBAC is least privilege and
// sufficient. Its test runs the real manager in-process against a real
// kube-apiserver (internal/testenv), impersonating the operator's
// ServiceAccount bound only to the roles the Helm chart renders
// (charts/wasmext through `helm template`; config/rbac when the chart or
// bin/helm is missing). The core scenarios must pass under those roles;
// then each permission (group, resource, verb) is removed in turn, a fresh
// manager runs under the reduced roles, and some scenario must fail with
// the apiserver refusing exactly that permission. A permission whose
// removal nothing notices is reported as unused and fails the test.
//
// Knobs: WASMEXT_RBAC_ONLY=<text> removes only the permissions whose name
// contains it; WASMEXT_RBAC_CHART=<dir> renders another chart directory
// (e.g. a copy with a reduced role); WASMEXT_TEST_DEBUG=1 logs the managers.
//
// It owns the RBAC proof only: loading and reducing the rendered roles,
// the scenarios and the table of which code path needs which rule. It
// never edits controllers or charts.
package rbac
