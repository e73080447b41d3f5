package testenv

import (
	"errors"
	"fmt"
	"path/filepath"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// StartConfigured is Start with a hook that may change the envtest
// environment before the control plane starts, e.g. to add kube-apiserver
// flags a test needs:
//
//	env.ControlPlane.GetAPIServer().Configure().Append("enable-admission-plugins", "OwnerReferencesPermissionEnforcement")
//
// A nil configure behaves as Start.
func StartConfigured(opts Options, configure func(*envtest.Environment)) (*Env, error) {
	root, err := RepoRoot()
	if err != nil {
		return nil, err
	}
	assets, err := binaryAssets(root)
	if err != nil {
		return nil, err
	}
	var crds []*apiextensionsv1.CustomResourceDefinition
	if !opts.NoIstioCRDs {
		if crds, err = istioCRDs(root, opts.SkipIstioCRDs); err != nil {
			return nil, err
		}
	}
	timeout := opts.StartTimeout
	if timeout == 0 {
		timeout = 60 * time.Second
	}
	env := &envtest.Environment{
		BinaryAssetsDirectory:    assets,
		ControlPlaneStartTimeout: timeout,
		AttachControlPlaneOutput: opts.AttachControlPlaneOutput,
		ErrorIfCRDPathMissing:    true,
		CRDDirectoryPaths:        append([]string{filepath.Join(root, "config", "crd", "bases")}, opts.ExtraCRDPaths...),
		CRDs:                     crds,
		// The default (10s) is too short for ~16 large CRDs on a loaded machine.
		CRDInstallOptions: envtest.CRDInstallOptions{MaxTime: 2 * time.Minute},
	}
	if configure != nil {
		configure(env)
	}
	cfg, err := env.Start()
	if err != nil {
		_ = env.Stop() // stops whatever part of the control plane did start
		return nil, fmt.Errorf("starting envtest (binaries from %s): %w", assets, err)
	}
	e := &Env{Config: cfg, RepoRoot: root, CRDs: env.CRDs, Environment: env}
	if err := e.writeKubeconfig(); err != nil {
		return nil, errors.Join(err, e.Stop())
	}
	return e, nil
}
