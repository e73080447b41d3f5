package chart

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
)

// customValues changes every value a user is likely to touch.
const customValues = `
replicaCount: 3
secretNamespaces: [tenant-a, tenant-b]
clusterWideSecrets: false
policy:
  allowedRegistries: [registry.example.com/acme, registry.internal:5000]
  insecureRegistries: [registry.internal:5000]
  requireSignature: true
  removeUnverified: true
  sigstoreTUF: false
moduleServer:
  port: 9090
  grace: 5m
  cacheBytes: 256Mi
  cacheDir: {enabled: false}
limits: {maxModuleSize: 64Mi, moduleCacheSize: 64}
controller: {concurrent: 4, kubeAPIQPS: 20.5, kubeAPIBurst: 40, eventQPS: 2.5, eventBurst: 7}
istio: {rootNamespace: mesh-root, clusterDomain: corp.example}
log: {level: debug, encoder: console}
metrics: {secure: false, port: 8080, serviceMonitor: {enabled: true, labels: {release: prom}}}
podDisruptionBudget: {maxUnavailable: 2}
topologySpreadKeys: []
resources: {limits: {memory: 256Mi}, requests: {cpu: 50m, memory: 128Mi}}
goMemLimit: 200MiB
tolerations: [{key: dedicated, operator: Equal, value: ops, effect: NoSchedule}]
nodeSelector: {kubernetes.io/os: linux}
extraArgs: [--zap-stacktrace-level=panic]
dryRun: {timeout: 3s, memoryLimit: 64Mi, maxLogBytes: 100, concurrency: 2, compiler: true}
`

// templateCase is one set of values rendered, checked and created in the apiserver.
type templateCase struct {
	name, release, namespace string
	args                     []string // more helm args
	check                    func(t *testing.T, objs rendered, d *appsv1.Deployment)
}

// TestTemplateCreated renders the chart with default and with non-default values, checks what
// the Deployment and its companions say, and creates every rendered object in envtest.
func TestTemplateCreated(t *testing.T) {
	needHelm(t)
	for _, tc := range []templateCase{
		{name: "default values", release: "wasmext", namespace: "wasmext-system", check: checkDefault},
		{name: "custom values", release: "custom", namespace: "custom-system",
			args: []string{"--values", valuesFile(t, customValues)}, check: checkCustom},
	} {
		t.Run(tc.name, func(t *testing.T) {
			objs := render(t, tc.release, tc.namespace, tc.args...)
			var d appsv1.Deployment
			typed(t, objs.get(t, "Deployment", tc.namespace, fullname(tc.release)), &d)
			checkPodSecurity(t, &d)
			checkModuleServer(t, objs, &d)
			tc.check(t, objs, &d)
			createAll(t, objs)
		})
	}
}

// fullname is the chart's prefix for a release (the release name when it contains "wasmext").
func fullname(release string) string {
	if strings.Contains(release, "wasmext") {
		return release
	}
	return release + "-wasmext"
}

func checkDefault(t *testing.T, objs rendered, d *appsv1.Deployment) {
	c := d.Spec.Template.Spec.Containers[0]
	expectArgs(t, c.Args, []string{"--leader-elect=true", "--module-cache-dir=/var/cache/wasmext/modules",
		"--metrics-bind-address=:8443", "--metrics-secure=true", "--health-probe-bind-address=:8081"}, []string{"--secret-namespaces"})
	if *d.Spec.Replicas != 2 {
		t.Errorf("replicas %d; want 2", *d.Spec.Replicas)
	}
	if m := envVar(c, "GOMEMLIMIT"); m == nil || m.Value != "" || m.ValueFrom == nil || m.ValueFrom.ResourceFieldRef == nil ||
		m.ValueFrom.ResourceFieldRef.Resource != "limits.memory" {
		t.Errorf("GOMEMLIMIT %+v; want it from resourceFieldRef limits.memory by default", m)
	}
	if mount := mountPath(c, "module-cache"); mount != "/var/cache/wasmext" || volume(d, "module-cache").EmptyDir == nil {
		t.Errorf("module cache mounted at %q from %+v; want an emptyDir at /var/cache/wasmext", mount, volume(d, "module-cache"))
	}
	if n := len(d.Spec.Template.Spec.TopologySpreadConstraints); n != 2 {
		t.Errorf("%d topology spread constraints; want 2 (hostname, zone)", n)
	}
	objs.get(t, "PodDisruptionBudget", d.Namespace, d.Name)
	objs.get(t, "Service", d.Namespace, d.Name+"-metrics")
	if sm := objs.ofKind("ServiceMonitor"); len(sm) != 0 {
		t.Errorf("ServiceMonitor rendered by default: %s", sm)
	}
}

func checkCustom(t *testing.T, objs rendered, d *appsv1.Deployment) {
	c := d.Spec.Template.Spec.Containers[0]
	expectArgs(t, c.Args, []string{
		"--secret-namespaces=tenant-a,tenant-b", "--allowed-registries=registry.example.com/acme,registry.internal:5000",
		"--insecure-registries=registry.internal:5000", "--require-signature=true", "--remove-unverified=true",
		"--sigstore-tuf=false", "--module-server-grace=5m", "--module-cache-bytes=256Mi", "--max-module-size=64Mi",
		"--module-cache-size=64", "--concurrent=4", "--kube-api-qps=20.5", "--kube-api-burst=40", "--event-qps=2.5", "--event-burst=7",
		"--istio-root-namespace=mesh-root", "--cluster-domain=corp.example", "--zap-log-level=debug",
		"--zap-encoder=console", "--metrics-secure=false", "--metrics-bind-address=:8080", "--zap-stacktrace-level=panic",
		"--dry-run-timeout=3s", "--dry-run-memory-limit=64Mi", "--dry-run-max-log-bytes=100", "--dry-run-concurrency=2",
		"--dry-run-compiler=true",
	}, []string{"--module-cache-dir"})
	if *d.Spec.Replicas != 3 {
		t.Errorf("replicas %d; want 3", *d.Spec.Replicas)
	}
	if m := envVar(c, "GOMEMLIMIT"); m == nil || m.Value != "200MiB" || m.ValueFrom != nil {
		t.Errorf("GOMEMLIMIT %+v; want goMemLimit's 200MiB", m)
	}
	if v := volume(d, "module-cache"); v != nil {
		t.Errorf("module-cache volume %+v with cacheDir disabled", v)
	}
	if tsc := d.Spec.Template.Spec.TopologySpreadConstraints; len(tsc) != 0 {
		t.Errorf("topology spread %v with topologySpreadKeys: []", tsc)
	}
	if sm := objs.get(t, "ServiceMonitor", d.Namespace, d.Name); sm.GetLabels()["release"] != "prom" {
		t.Errorf("ServiceMonitor labels %v; want release=prom", sm.GetLabels())
	}
	if d.Spec.Template.Spec.Tolerations[0].Key != "dedicated" || d.Spec.Template.Spec.NodeSelector["kubernetes.io/os"] != "linux" {
		t.Errorf("tolerations %v, nodeSelector %v; want the values'", d.Spec.Template.Spec.Tolerations, d.Spec.Template.Spec.NodeSelector)
	}
}

// checkPodSecurity: the restricted Pod Security Standard, a read-only root, probes on the probe
// port, and GOMEMLIMIT set.
func checkPodSecurity(t *testing.T, d *appsv1.Deployment) {
	t.Helper()
	pod := d.Spec.Template.Spec
	c := pod.Containers[0]
	sc := c.SecurityContext
	if psc := pod.SecurityContext; psc == nil || !*psc.RunAsNonRoot || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("pod securityContext %+v; want runAsNonRoot and seccomp RuntimeDefault", psc)
	}
	if sc == nil || *sc.AllowPrivilegeEscalation || !*sc.ReadOnlyRootFilesystem || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) {
		t.Errorf("container securityContext %+v; want no privilege escalation, read-only root, drop ALL", sc)
	}
	if memlimit := envVar(c, "GOMEMLIMIT"); memlimit == nil || memlimit.Value == "" && (memlimit.ValueFrom == nil || memlimit.ValueFrom.ResourceFieldRef == nil) {
		t.Errorf("GOMEMLIMIT %+v; want it set", memlimit)
	}
	probePort := fmt.Sprintf("--health-probe-bind-address=:%d", containerPort(c, "probes"))
	expectArgs(t, c.Args, []string{probePort}, nil)
	for name, p := range map[string]*corev1.Probe{"liveness": c.LivenessProbe, "readiness": c.ReadinessProbe} {
		if p == nil || p.HTTPGet == nil || p.HTTPGet.Port.String() != "probes" {
			t.Errorf("%s probe %+v; want an HTTP GET on port probes", name, p)
		}
	}
}

// checkModuleServer: the URL the operator renders reaches the modules Service, which selects the
// pods and targets the port the operator listens on; the key file is the mounted key Secret.
func checkModuleServer(t *testing.T, objs rendered, d *appsv1.Deployment) {
	t.Helper()
	c := d.Spec.Template.Spec.Containers[0]
	var svc corev1.Service
	typed(t, objs.get(t, "Service", d.Namespace, d.Name+"-modules"), &svc)
	port := containerPort(c, "modules")
	expectArgs(t, c.Args, []string{
		fmt.Sprintf("--module-server-bind-address=:%d", port),
		fmt.Sprintf("--module-server-url=http://%s.%s.svc:%d", svc.Name, svc.Namespace, svc.Spec.Ports[0].Port),
		"--module-server-key-file=" + mountPath(c, "module-server-key") + "/key",
	}, nil)
	if sp := svc.Spec.Ports[0]; sp.TargetPort.String() != "modules" || sp.Port != port {
		t.Errorf("modules Service port %+v; want port %d to target port modules", sp, port)
	}
	podLabels := d.Spec.Template.Labels
	for k, v := range svc.Spec.Selector {
		if podLabels[k] != v {
			t.Errorf("modules Service selects %v; pods have %v", svc.Spec.Selector, podLabels)
		}
	}
	var key corev1.Secret
	typed(t, objs.get(t, "Secret", d.Namespace, volume(d, "module-server-key").Secret.SecretName), &key)
	if n := len(key.Data["key"]); n < 32 {
		t.Errorf("module server key Secret holds %d bytes under key; want at least 32", n)
	}
}

// expectArgs fails t unless args holds every arg of want and no arg starting with one of absent.
func expectArgs(t *testing.T, args, want, absent []string) {
	t.Helper()
	for _, w := range want {
		if !slices.Contains(args, w) {
			t.Errorf("args %q lack %q", args, w)
		}
	}
	for _, a := range args {
		for _, prefix := range absent {
			if strings.HasPrefix(a, prefix) {
				t.Errorf("args hold %q; want no %s", a, prefix)
			}
		}
	}
}

func containerPort(c corev1.Container, name string) int32 {
	for _, p := range c.Ports {
		if p.Name == name {
			return p.ContainerPort
		}
	}
	return 0
}

func mountPath(c corev1.Container, volume string) string {
	for _, m := range c.VolumeMounts {
		if m.Name == volume {
			return m.MountPath
		}
	}
	return ""
}

func volume(d *appsv1.Deployment, name string) *corev1.Volume {
	for i, v := range d.Spec.Template.Spec.Volumes {
		if v.Name == name {
			return &d.Spec.Template.Spec.Volumes[i]
		}
	}
	return nil
}

// envVar is the container's variable of that name, or nil.
func envVar(c corev1.Container, name string) *corev1.EnvVar {
	for i := range c.Env {
		if c.Env[i].Name == name {
			return &c.Env[i]
		}
	}
	return nil
}
