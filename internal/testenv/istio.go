package testenv

import (
	"fmt"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
)

// IstioCRD returns one of the real Istio CRDs (by name, e.g.
// CRDTrafficExtension), for tests that install it while the operator runs.
func IstioCRD(name string) (*apiextensionsv1.CustomResourceDefinition, error) {
	root, err := RepoRoot()
	if err != nil {
		return nil, err
	}
	crds, err := istioCRDs(root, nil)
	if err != nil {
		return nil, err
	}
	for _, c := range crds {
		if c.Name == name {
			c.ResourceVersion = ""
			return c, nil
		}
	}
	return nil, fmt.Errorf("no Istio CRD named %s", name)
}
