package chart

import (
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
)

// TestOutboundAddressValues: policy.deniedCIDRs and policy.allowLinkLocal
// reach --denied-cidrs and --allow-link-local; by default no CIDR is passed
// and link-local stays refused; the schema refuses what is no CIDR.
func TestOutboundAddressValues(t *testing.T) {
	needHelm(t)
	args := func(extra ...string) []string {
		var d appsv1.Deployment
		typed(t, render(t, "guard", "ops", extra...).get(t, "Deployment", "ops", "guard-wasmext"), &d)
		return d.Spec.Template.Spec.Containers[0].Args
	}
	expectArgs(t, args(), []string{"--allow-link-local=false"}, []string{"--denied-cidrs"})
	custom := valuesFile(t, "policy: {deniedCIDRs: [10.0.0.0/8, 'fd00::/8', 192.0.2.7], allowLinkLocal: true}\n")
	expectArgs(t, args("--values", custom), []string{"--denied-cidrs=10.0.0.0/8,fd00::/8,192.0.2.7", "--allow-link-local=true"}, nil)

	for _, bad := range []string{"policy: {deniedCIDRs: [metadata.google.internal]}\n", "policy: {deniedCIDRs: 10.0.0.0/8}\n", "policy: {allowLinkLocal: yes please}\n"} {
		out, err := helm(t, "template", "bad", chart, "--values", valuesFile(t, bad))
		if err == nil || !strings.Contains(err.Error()+out, "schema") {
			t.Errorf("helm template accepted %q: %v\n%s", bad, err, out)
		}
	}
}
