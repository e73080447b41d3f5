package rbac

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"testing"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/wasmext/wasmext/internal/cache"
	"github.com/wasmext/wasmext/internal/oci"
	"github.com/wasmext/wasmext/internal/oci/ocitest"
	"github.com/wasmext/wasmext/internal/scheme"
	"github.com/wasmext/wasmext/internal/testenv"
	"github.com/wasmext/wasmext/internal/verify/verifytest"
	"github.com/wasmext/wasmext/internal/wasm/wasmtest"
)

// operatorNS is the operator's namespace: the chart's release namespace,
// holding its ServiceAccount, the leader election Role and the Lease.
const operatorNS = "wasmext-system"

// Registry credentials of the private registry.
const regUser, regPass = "robot", "s3cret"

// harness is what every run shares: the control plane, the registries with
// their modules, the operator's grants as rendered, a scraper's token.
type harness struct {
	env    *testenv.Env
	c      client.Client // the administrator
	scheme *runtime.Scheme
	base   *grants
	perms  []perm

	moduleKey cache.Key
	private   *ocitest.Registry // needs regUser/regPass
	public    *ocitest.Registry
	pulled    string // private image
	signed    string // private image, signed by the key pub
	plain     string // public image
	pub       []byte
	scraper   string // a token allowed to get /metrics
	stranger  string // a token of a ServiceAccount without that grant
}

// startControlPlane starts envtest with every CRD, configured as the most
// demanding cluster the operator must run on:
//   - the admission plugin OwnerReferencesPermissionEnforcement (on in
//     OpenShift and other hardened clusters) asks for `update` on
//     wasmextensions/finalizers before an object may name an extension as
//     a blocking owner;
//   - without streaming lists (feature WatchList off, as on apiservers that
//     do not serve them), informers list and then watch. With streaming on,
//     client-go's informers only watch, and fall back to list where the
//     apiserver does not stream: `list` is needed there.
func startControlPlane(t *testing.T) *harness {
	t.Helper()
	env, err := testenv.StartConfigured(testenv.Options{}, func(e *envtest.Environment) {
		args := e.ControlPlane.GetAPIServer().Configure()
		args.Append("enable-admission-plugins", "OwnerReferencesPermissionEnforcement")
		args.Append("feature-gates", "WatchList=false")
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Stop() })
	h := &harness{env: env, moduleKey: cache.Key("rbac-test-module-url-key-0123456789abcdef")}
	if h.scheme, err = scheme.New(); err != nil {
		t.Fatal(err)
	}
	if h.c, err = client.New(env.Config, client.Options{Scheme: h.scheme}); err != nil {
		t.Fatal(err)
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: operatorNS}}
	if err := h.c.Create(context.Background(), ns); err != nil {
		t.Fatal(err)
	}
	return h
}

// pushModules pushes three modules, signs one, then locks the private
// registry behind a password.
func (h *harness) pushModules(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	h.private, h.public = ocitest.NewRegistry(t), ocitest.NewRegistry(t)
	if _, err := ocitest.Push(ctx, h.private.Host, "private/pulled:v1", oci.FormatCNCF, wasmtest.Variant(71)); err != nil {
		t.Fatal(err)
	}
	d, err := ocitest.Push(ctx, h.private.Host, "private/signed:v1", oci.FormatCNCF, wasmtest.Variant(72))
	if err != nil {
		t.Fatal(err)
	}
	signer, pub, err := verifytest.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	if err := verifytest.SignKeyBundle(ctx, h.private.Host, "private/signed", d, signer); err != nil {
		t.Fatal(err)
	}
	if _, err := ocitest.Push(ctx, h.public.Host, "acme/plain:v1", oci.FormatCNCF, wasmtest.Variant(73)); err != nil {
		t.Fatal(err)
	}
	h.private.RequireAuth(regUser, regPass)
	h.pulled, h.signed, h.plain, h.pub = h.private.Ref("private/pulled:v1"), h.private.Ref("private/signed:v1"), h.public.Ref("acme/plain:v1"), pub
}

// createScraper makes a ServiceAccount allowed to get /metrics, as a
// Prometheus would be, and one without that grant, and keeps a token of
// each.
func (h *harness) createScraper(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	objs := []client.Object{
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: operatorNS, Name: "scraper"}},
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: operatorNS, Name: "stranger"}},
		&rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "rbac-test-scraper"},
			Rules: []rbacv1.PolicyRule{{NonResourceURLs: []string{"/metrics"}, Verbs: []string{"get"}}}},
		&rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "rbac-test-scraper"},
			RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "rbac-test-scraper"},
			Subjects: []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: operatorNS, Name: "scraper"}}},
	}
	for _, o := range objs {
		if err := h.c.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	cs, err := kubernetes.NewForConfig(h.env.Config)
	if err != nil {
		t.Fatal(err)
	}
	for sa, token := range map[string]*string{"scraper": &h.scraper, "stranger": &h.stranger} {
		tr, err := cs.CoreV1().ServiceAccounts(operatorNS).CreateToken(ctx, sa,
			&authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr.To[int64](3600)}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		*token = tr.Status.Token
	}
}

// dockerSecret is a pull Secret for the private registry.
func (h *harness) dockerSecret(ns string) *corev1.Secret {
	cfg := fmt.Sprintf(`{"auths":{%q:{"auth":%q}}}`, h.private.Host, base64.StdEncoding.EncodeToString([]byte(regUser+":"+regPass)))
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "regcred"},
		Type:       corev1.SecretTypeDockerConfigJson,
		Data:       map[string][]byte{corev1.DockerConfigJsonKey: []byte(cfg)},
	}
}

// keySecret holds the cosign public key.
func (h *harness) keySecret(ns string) *corev1.Secret {
	return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "cosign-pub"}, Data: map[string][]byte{"key0.pub": h.pub}}
}

func hexSHA(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
