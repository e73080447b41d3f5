package crash

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/wasmext/wasmext/internal/scheme"
	"github.com/wasmext/wasmext/internal/testenv"
	"github.com/wasmext/wasmext/internal/testenv/ci"
	"github.com/wasmext/wasmext/internal/testenv/proc"
	"github.com/wasmext/wasmext/internal/testenv/proc/distribution"
	"github.com/wasmext/wasmext/test/demo/operator"
)

// leaseNamespace holds the leader election Lease, as the operator's own
// namespace does in a cluster.
const leaseNamespace = "wasmext-system"

// harness is what the test started: control plane, registry, operator.
type harness struct {
	t      *testing.T
	work   string // logs, registry storage, module cache, key
	env    *testenv.Env
	c      client.WithWatch
	reg    *distribution.Registry
	binary string
	// args are the operator's flags, the same at every start.
	args         []string
	probeAddr    string
	metricsAddr  string
	moduleServer string // base URL of the module server
	op           *operator.Process
	starts       int
}

// newHarness skips (fails with CI=true) without the envtest binaries, the
// registry binary or kubectl; otherwise it builds the operator while the
// control plane and the registry start. Everything stops when t ends; the
// work dir is kept when t failed.
func newHarness(ctx context.Context, t *testing.T) *harness {
	t.Helper()
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		ci.Skipf(t, "KUBEBUILDER_ASSETS is not set (make test sets it)")
	}
	regBin := os.Getenv(distribution.EnvBinary)
	if regBin == "" {
		ci.Skipf(t, "%s is not set (make test sets it)", distribution.EnvBinary)
	}
	if _, err := exec.LookPath("kubectl"); err != nil {
		ci.Skipf(t, "kubectl not found: %v", err)
	}
	h := &harness{t: t}
	var err error
	if h.work, err = os.MkdirTemp("", "wasmext-crash-"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.removeWork)
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	h.binary = filepath.Join(h.work, "manager")
	built := make(chan error, 1)
	go func() { built <- operator.Build(ctx, root, h.binary) }()
	h.startControlPlane(t)
	if h.reg, err = distribution.Start(ctx, regBin, filepath.Join(h.work, "registry"), 30*time.Second); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.reg.Stop(5 * time.Second) })
	if err := <-built; err != nil {
		t.Fatal(err)
	}
	if err := h.prepareOperator(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.stopOperator)
	return h
}

func (h *harness) removeWork() {
	if h.t.Failed() || os.Getenv("WASMEXT_CRASH_KEEP") != "" {
		h.t.Logf("logs kept in %s", h.work)
		return
	}
	_ = os.RemoveAll(h.work)
}

func (h *harness) startControlPlane(t *testing.T) {
	t.Helper()
	env, err := testenv.Start(testenv.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := env.Stop(); err != nil {
			t.Errorf("stopping the control plane: %v", err)
		}
	})
	h.env = env
	s, err := scheme.New()
	if err != nil {
		t.Fatal(err)
	}
	cfg := *env.Config
	cfg.QPS, cfg.Burst, cfg.UserAgent = 200, 400, "wasmext-crash-test"
	if h.c, err = client.NewWithWatch(&cfg, client.Options{Scheme: s}); err != nil {
		t.Fatal(err)
	}
}

// prepareOperator writes the module-server key and picks the addresses:
// the flags a production install sets, kept across restarts as a pod's
// would be (the module cache directory plays an emptyDir, which survives a
// container's restart).
func (h *harness) prepareOperator(ctx context.Context) error {
	key := filepath.Join(h.work, "module-server-key")
	if err := os.WriteFile(key, []byte(rand.Text()+rand.Text()), 0o600); err != nil {
		return err
	}
	addrs := make([]string, 3)
	for i := range addrs {
		var err error
		if addrs[i], err = proc.FreeAddr(); err != nil {
			return err
		}
	}
	h.probeAddr, h.metricsAddr = addrs[0], addrs[1]
	h.moduleServer = "http://" + addrs[2]
	h.args = []string{
		"--leader-elect=true",
		"--leader-election-namespace=" + leaseNamespace,
		"--metrics-bind-address=" + h.metricsAddr,
		"--module-server-bind-address=" + addrs[2],
		"--module-server-url=" + h.moduleServer,
		"--module-server-key-file=" + key,
		"--module-cache-dir=" + filepath.Join(h.work, "module-cache"),
		"--allowed-registries=" + h.reg.Host,
		"--insecure-registries=" + h.reg.Host,
		// No network here: no public-good Sigstore root (no extension asks for keyless).
		"--sigstore-tuf=false",
	}
	return h.c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: leaseNamespace}})
}

// startOperator starts the operator and waits for its /readyz; each start
// logs to a file of its own.
func (h *harness) startOperator(ctx context.Context) error {
	h.starts++
	op, err := operator.Start(ctx, operator.Options{
		Binary: h.binary, Kubeconfig: h.env.Kubeconfig, ProbeAddr: h.probeAddr, Args: h.args,
		LogFile: filepath.Join(h.work, fmt.Sprintf("operator-%02d.log", h.starts)), ReadyTimeout: 60 * time.Second,
	})
	if err != nil {
		return fmt.Errorf("operator start %d: %w", h.starts, err)
	}
	h.op = op
	return nil
}

// kill9 sends SIGKILL to the operator and waits until it is gone. It fails
// when the operator had exited by itself.
func (h *harness) kill9() error {
	select {
	case <-h.op.Exited():
		return fmt.Errorf("operator start %d exited by itself (%v) before the kill\n%s", h.starts, h.op.Err(), h.op.Tail(30))
	default:
	}
	if err := syscall.Kill(h.op.Pid, syscall.SIGKILL); err != nil {
		return fmt.Errorf("kill -9 %d: %w", h.op.Pid, err)
	}
	select {
	case <-h.op.Exited():
	case <-time.After(30 * time.Second):
		return fmt.Errorf("operator pid %d still running 30s after SIGKILL", h.op.Pid)
	}
	var ee *exec.ExitError
	if ws, ok := h.op.Cmd.ProcessState.Sys().(syscall.WaitStatus); !errors.As(h.op.Err(), &ee) || !ok || ws.Signal() != syscall.SIGKILL {
		return fmt.Errorf("operator start %d ended with %v, not by the SIGKILL\n%s", h.starts, h.op.Err(), h.op.Tail(30))
	}
	return nil
}

// expireLease deletes the leader election Lease of a killed operator, whose
// holder is provably dead, so that the next start need not wait out its
// 15s duration.
func (h *harness) expireLease(ctx context.Context) error {
	return h.c.DeleteAllOf(ctx, &coordinationv1.Lease{}, client.InNamespace(leaseNamespace))
}

func (h *harness) stopOperator() {
	if h.op == nil {
		return
	}
	if err := h.op.Stop(10 * time.Second); err != nil {
		h.t.Errorf("stopping the operator: %v", err)
	}
}

// kubectl runs kubectl with the control plane's kubeconfig.
func (h *harness) kubectl(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "kubectl", append([]string{"--kubeconfig=" + h.env.Kubeconfig}, args...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("kubectl %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	return string(out), nil
}
