package v1alpha1

import (
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The last two rules below refuse at admission what the renderer refuses
// later (internal/render: gatewayTargets and insertionPoints): an EnvoyFilter
// cannot attach to a waypoint, and gateway listeners never see mode Server
// traffic. istiod gives gateway listeners the workload mode CLIENT
// (istio/istio pilot/pkg/model/extensions.go, workloadModeForListenerClass
// and matchMode), so mode Server on Gateway or GatewayClass targets selects
// nothing for a WasmPlugin or TrafficExtension either and is refused for
// every output. (Not in the doc comment, so not in `kubectl explain`.)

// WasmExtensionSpec is what a user asks for: which Wasm module to run, where
// in the mesh, and how.
//
// +kubebuilder:validation:XValidation:rule="!(has(self.selector) && has(self.targetRefs))",message="set at most one of selector and targetRefs"
// +kubebuilder:validation:XValidation:rule="!has(self.envoy) || self.output == 'EnvoyFilter'",message="envoy is only allowed with output EnvoyFilter"
// +kubebuilder:validation:XValidation:rule="!(has(self.delivery) && self.delivery == 'Registry' && self.output == 'EnvoyFilter')",message="output EnvoyFilter always loads the module from the operator's module server: remove delivery Registry or choose output WasmPlugin or TrafficExtension"
// +kubebuilder:validation:XValidation:rule="self.output != 'EnvoyFilter' || !has(self.targetRefs) || self.targetRefs.all(r, r.kind in ['Gateway', 'GatewayClass'])",message="output EnvoyFilter attaches only to Gateway and GatewayClass targets; a Service or ServiceEntry target attaches to a waypoint: use output WasmPlugin or TrafficExtension"
// +kubebuilder:validation:XValidation:rule="!(has(self.targetRefs) && size(self.targetRefs) > 0 && self.targetRefs.all(r, r.kind in ['Gateway', 'GatewayClass']) && has(self.match) && size(self.match) > 0 && self.match.all(m, has(m.mode) && m.mode == 'Server'))",message="match selects no gateway traffic: mode Server is sidecar inbound only; on Gateway and GatewayClass targets use mode Client, ClientAndServer or no mode"
type WasmExtensionSpec struct {
	// module names the Proxy-Wasm module to run and how to pull it.
	// +required
	Module ModuleSource `json:"module"`

	// suspend, when true, makes the operator change nothing for this
	// extension: no tag resolve, no pull, no verification, no apply. The
	// rendered objects stay as they are and status keeps saying what is
	// rendered. Set it back to false (or remove it) to resume.
	// +optional
	Suspend bool `json:"suspend,omitempty"`

	// verify requires a valid signature on the module before anything is
	// rendered. The operator verifies the resolved manifest digest once and
	// renders only that digest.
	// +optional
	Verify *Verification `json:"verify,omitempty"`

	// output chooses the Istio resource to render: Auto (default) picks
	// TrafficExtension when the cluster serves it, else WasmPlugin, else
	// EnvoyFilter.
	// +optional
	// +kubebuilder:default=Auto
	Output OutputKind `json:"output,omitempty"`

	// delivery says how the selected proxies obtain the module. Cache (the
	// default whenever the operator runs its module server): they fetch the
	// verified .wasm from the operator's in-cluster module server over HTTP,
	// pinned by its sha256; every module format loads, no registry
	// credentials reach the proxies, and the registry sees one pull per
	// module instead of one per pod. Registry: they pull the digest-pinned
	// oci:// reference themselves (istio-agent), which works only for the
	// formats istio-agent reads (a Docker image or an OCI image whose one
	// layer is tar+gzip holding plugin.wasm, or the two-layer solo.io image);
	// any other format is refused with Reason FormatNotLoadableByProxy,
	// because istio-agent would replace the plugin with a deny-all (FailClose)
	// or allow-all (FailOpen) filter. Output EnvoyFilter always uses Cache.
	// +optional
	Delivery Delivery `json:"delivery,omitempty"`

	// validation says how the module is proven to run before any proxy
	// loads it. By default the operator dry-runs it in its Proxy-Wasm
	// sandbox with this extension's pluginConfig, pluginName and type (see
	// Validation).
	// +optional
	Validation *Validation `json:"validation,omitempty"`

	// selector picks the workloads, by pod labels, in the extension's
	// namespace (mesh-wide when the extension lives in Istio's root
	// namespace). Omit both selector and targetRefs to select every
	// workload of the namespace. Mutually exclusive with targetRefs.
	// +optional
	Selector *WorkloadSelector `json:"selector,omitempty"`

	// targetRefs attaches the extension to Gateway API resources or
	// Services instead of pods. Mutually exclusive with selector.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=16
	TargetRefs []PolicyTargetReference `json:"targetRefs,omitempty"`

	// type is the kind of Envoy filter the module implements: HTTP (an HTTP
	// filter, default) or NETWORK (a TCP network filter).
	// +optional
	// +kubebuilder:default=HTTP
	Type PluginType `json:"type,omitempty"`

	// phase places the filter in the proxy's filter chain as Istio does:
	// AUTHN (after metadata exchange, before Istio's JWT authentication),
	// AUTHZ (after JWT authentication, before Istio's RBAC authorization),
	// STATS (after RBAC, before Istio's gRPC stats, fault, CORS and
	// telemetry filters). Omitted, the filter goes right after the STATS
	// filters, still before those Istio filters and the router.
	// +optional
	Phase PluginPhase `json:"phase,omitempty"`

	// Tie-breaking as istio/istio pilot/pkg/model/push_context.go does it:
	// WasmPluginsByListenerInfo collects the proxy's own namespace, then the
	// root namespace, each in initWasmPlugins' sortConfigByCreationTime order
	// (creation time, then name), and stable-sorts by priority, higher first.

	// priority orders extensions within the same phase: higher runs first.
	// Defaults to 0; the operator always writes it, so Istio's "unset runs
	// last" never applies. Ties are broken as istiod breaks them: the
	// workload's own namespace before Istio's root namespace, then the
	// rendered object created first (then by name). Only distinct priorities
	// give an order that does not depend on creation time. EnvoyFilter output
	// is ordered among EnvoyFilters only, not against WasmPlugins.
	// +optional
	Priority *int32 `json:"priority,omitempty"`

	// failStrategy says what the proxy does when the plugin fails fatally:
	// FailClose (default; requests fail), FailOpen (the plugin is bypassed)
	// or FailReload (the VM is reloaded).
	// +optional
	// +kubebuilder:default=FailClose
	FailStrategy FailStrategy `json:"failStrategy,omitempty"`

	// pluginName is the plugin name (root id) passed to the module; some
	// modules use it to choose which plugin to run.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=256
	PluginName string `json:"pluginName,omitempty"`

	// pluginConfig is the configuration handed to the plugin, as a JSON
	// object. Any fields are kept as written.
	// +optional
	// +kubebuilder:validation:Type=object
	// +kubebuilder:validation:Schemaless
	// +kubebuilder:pruning:PreserveUnknownFields
	PluginConfig *apiextensionsv1.JSON `json:"pluginConfig,omitempty"`

	// env sets environment variables of the Wasm VM, inline or copied from
	// the proxy's host environment.
	// +optional
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=64
	Env []EnvVar `json:"env,omitempty"`

	// imagePullPolicy is passed on to the proxies with delivery from the
	// registry (WasmPlugin and TrafficExtension output). The rendered URL is
	// pinned to a digest, so IfNotPresent (the default, as in Istio) is
	// always correct; Always makes proxies re-check the registry when they
	// reload. EnvoyFilter output ignores it.
	// +optional
	// +kubebuilder:default=IfNotPresent
	// +kubebuilder:validation:Enum=IfNotPresent;Always
	ImagePullPolicy PullPolicy `json:"imagePullPolicy,omitempty"`

	// envoy sets Wasm filter fields that WasmPlugin and TrafficExtension
	// cannot express. Allowed only with output EnvoyFilter.
	// +optional
	Envoy *EnvoyOptions `json:"envoy,omitempty"`

	// match restricts the traffic the plugin sees: by workload mode
	// (client, server or both) and ports. Traffic matching any entry passes
	// through the plugin. Empty means all traffic.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=16
	Match []TrafficSelector `json:"match,omitempty"`
}

// ModuleSource names the Wasm module: an OCI artifact (image, optionally
// tracking the highest tag matching semver) or an HTTP(S) URL with its
// sha256 (http).
//
// +kubebuilder:validation:XValidation:rule="has(self.image) != has(self.http)",message="set exactly one of image and http"
// +kubebuilder:validation:XValidation:rule="!has(self.semver) || (has(self.image) && !self.image.contains('@') && !self.image.split('/')[size(self.image.split('/')) - 1].contains(':'))",message="with semver, image names the repository without a tag or digest, e.g. registry.example.com/acme/filter"
// +kubebuilder:validation:XValidation:rule="!has(self.semver) || !has(self.digest)",message="semver picks the tag and digest; remove digest"
// +kubebuilder:validation:XValidation:rule="!has(self.http) || (!has(self.digest) && !has(self.pullSecretRef))",message="digest and pullSecretRef apply to image; an http source is pinned by http.sha256"
type ModuleSource struct {
	// image is the OCI reference of the module, by tag
	// (`registry.example.com/acme/filter:1.2.0`) or by digest
	// (`registry.example.com/acme/filter@sha256:…`), or with semver the
	// repository alone. A tag is resolved to a digest by the operator, and
	// only that digest is rendered.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=1024
	// +kubebuilder:validation:XValidation:rule="!self.startsWith('oci://') && !self.contains('://')",message="image is an OCI reference without a scheme, e.g. registry.example.com/acme/filter:1.0"
	Image string `json:"image,omitempty"`

	// semver tracks the highest tag of image's repository that matches
	// this range (github.com/Masterminds/semver/v3 syntax, e.g.
	// ">=1.2.0 <2.0.0" or "~1.4"). The tags are listed each interval; a new
	// highest match goes through the whole pipeline (verify, inspect, dry
	// run) before anything rendered changes. status.module.tag says which
	// tag is rendered. A tag is a version when it reads MAJOR.MINOR.PATCH,
	// optionally with a leading "v" and a prerelease; other tags (latest,
	// the floating 1.2) are ignored, and prereleases match only when the
	// range names one (">=1.3.0-0"). At most 10,000 tags are read. A new
	// highest match refused by fetching, inspection or the dry run is
	// named in a TagRefused Warning Event while the previous version keeps
	// serving, and is neither pulled nor run again for this generation.
	// There is no fallback to a lower tag: a higher tag, a new digest
	// pushed to that tag or a spec change is tried. Verification failures
	// are checked again each interval (signatures often follow images).
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=256
	Semver string `json:"semver,omitempty"`

	// http fetches the .wasm from an HTTP(S) URL instead of a registry,
	// once, pinned by its sha256, and serves it from the module cache like
	// any module.
	// +optional
	HTTP *HTTPSource `json:"http,omitempty"`

	// digest pins the manifest digest the image must resolve to
	// (sha256:<64 hex>). Anything else is refused with PinnedDigestMismatch.
	// +optional
	// +kubebuilder:validation:Pattern="^sha256:[a-f0-9]{64}$"
	Digest string `json:"digest,omitempty"`

	// pullSecretRef names a kubernetes.io/dockerconfigjson Secret in the
	// extension's namespace, used to pull the image. The operator passes its
	// name on to the rendered resource so proxies can pull too.
	// +optional
	PullSecretRef *LocalObjectReference `json:"pullSecretRef,omitempty"`

	// insecure allows plain HTTP to the registry. Use it only for local
	// registries.
	// +optional
	Insecure bool `json:"insecure,omitempty"`

	// interval is how often a tag is resolved again to notice a new digest,
	// a Go duration such as 10m or 1h30m. Defaults to 10m; at least 10s, so
	// that no extension turns into a registry poll loop. Ignored when image
	// is pinned by digest. To resolve now, set the
	// reconcile.wasmext.io/requestedAt annotation.
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:Pattern="^([0-9]+(\\.[0-9]+)?(ms|s|m|h))+$"
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('10s')",message="interval must be at least 10s; to resolve the tag now, set the reconcile.wasmext.io/requestedAt annotation"
	Interval *metav1.Duration `json:"interval,omitempty"`
}

// Verification says how a module's signature is checked.
type Verification struct {
	// cosign verifies Sigstore / cosign signatures attached to the module's
	// manifest digest: a sigstore bundle attached as an OCI 1.1 referrer,
	// or the legacy `sha256-<digest>.sig` tag.
	// +required
	Cosign CosignVerification `json:"cosign"`
}

// CosignVerification names the keys or the keyless identity to trust.
// +kubebuilder:validation:XValidation:rule="has(self.publicKeySecretRef) != has(self.keyless)",message="set exactly one of publicKeySecretRef and keyless"
type CosignVerification struct {
	// publicKeySecretRef names a Secret of the extension's namespace whose
	// data values are PEM public keys. A signature by any of them is accepted.
	// +optional
	PublicKeySecretRef *LocalObjectReference `json:"publicKeySecretRef,omitempty"`

	// keyless accepts signatures made with a short-lived Sigstore
	// certificate for the given OIDC issuer and subject.
	// +optional
	Keyless *KeylessVerification `json:"keyless,omitempty"`
}

// KeylessVerification is the identity a keyless signature must carry.
// +kubebuilder:validation:XValidation:rule="has(self.issuer) != has(self.issuerRegExp)",message="set exactly one of issuer and issuerRegExp"
// +kubebuilder:validation:XValidation:rule="has(self.subject) != has(self.subjectRegExp)",message="set exactly one of subject and subjectRegExp"
type KeylessVerification struct {
	// issuer is the exact OIDC issuer URL of the signing certificate.
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	Issuer string `json:"issuer,omitempty"`
	// issuerRegExp is a regular expression the issuer must match.
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	IssuerRegExp string `json:"issuerRegExp,omitempty"`
	// subject is the exact subject (SAN: e-mail or URI) of the certificate.
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	Subject string `json:"subject,omitempty"`
	// subjectRegExp is a regular expression the subject must match.
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	SubjectRegExp string `json:"subjectRegExp,omitempty"`
	// trustedRootSecretRef names a Secret of the extension's namespace with
	// a Sigstore `trusted_root.json` key, for private Sigstore deployments
	// and air-gapped clusters. Omitted, the public-good Sigstore root the
	// operator obtained through TUF at start-up is used.
	// +optional
	TrustedRootSecretRef *LocalObjectReference `json:"trustedRootSecretRef,omitempty"`
}

// OutputKind is the Istio resource an extension is rendered to.
// +kubebuilder:validation:Enum=Auto;WasmPlugin;TrafficExtension;EnvoyFilter
type OutputKind string

// Output kinds.
const (
	OutputAuto             OutputKind = "Auto"
	OutputWasmPlugin       OutputKind = "WasmPlugin"
	OutputTrafficExtension OutputKind = "TrafficExtension"
	OutputEnvoyFilter      OutputKind = "EnvoyFilter"
)

// Delivery is how proxies obtain the module.
// +kubebuilder:validation:Enum=Cache;Registry
type Delivery string

// Deliveries.
const (
	DeliveryCache    Delivery = "Cache"
	DeliveryRegistry Delivery = "Registry"
)

// PullPolicy is the proxies' image pull policy.
type PullPolicy string

// Pull policies.
const (
	PullIfNotPresent PullPolicy = "IfNotPresent"
	PullAlways       PullPolicy = "Always"
)

// EnvoyOptions are Envoy Wasm filter settings beyond WasmPlugin's.
type EnvoyOptions struct {
	// allowOnHeadersStopIteration lets the plugin return StopIteration from
	// its on-headers callbacks (Envoy's PluginConfig field of that name).
	// +optional
	AllowOnHeadersStopIteration *bool `json:"allowOnHeadersStopIteration,omitempty"`
}

// LocalObjectReference names an object in the same namespace.
type LocalObjectReference struct {
	// name of the referent.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`
}

// WorkloadSelector selects pods by labels.
type WorkloadSelector struct {
	// matchLabels are the pod labels a workload must carry, all of them.
	// +optional
	// +kubebuilder:validation:MaxProperties=4096
	MatchLabels map[string]string `json:"matchLabels,omitempty"`
}

// The group/kind pairs of the rule below are the ones istiod accepts
// (istio/istio pkg/config/validation: allowedTargetRefs in
// validatePolicyTargetReference): core Service, networking.istio.io
// ServiceEntry, gateway.networking.k8s.io Gateway and GatewayClass. A wrong
// group would render an object that Istio's webhook refuses or that attaches
// to nothing.

// PolicyTargetReference names a resource the extension attaches to.
//
// +kubebuilder:validation:XValidation:rule="self.kind == 'Service' ? (!has(self.group) || size(self.group) == 0) : (has(self.group) && self.group == (self.kind == 'ServiceEntry' ? 'networking.istio.io' : 'gateway.networking.k8s.io'))",message="group must be gateway.networking.k8s.io for kind Gateway and GatewayClass, networking.istio.io for ServiceEntry, and empty for Service"
type PolicyTargetReference struct {
	// group of the target: `gateway.networking.k8s.io` for Gateway and
	// GatewayClass, `networking.istio.io` for ServiceEntry, empty for Service.
	// Required for every kind but Service.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	Group string `json:"group,omitempty"`

	// kind of the target.
	// +required
	// +kubebuilder:validation:Enum=Gateway;GatewayClass;Service;ServiceEntry
	Kind string `json:"kind"`

	// name of the target.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`
}

// PluginType is the kind of Envoy filter a module implements.
// +kubebuilder:validation:Enum=HTTP;NETWORK
type PluginType string

// Plugin types.
const (
	PluginTypeHTTP    PluginType = "HTTP"
	PluginTypeNetwork PluginType = "NETWORK"
)

// PluginPhase places a filter in the filter chain.
// +kubebuilder:validation:Enum=AUTHN;AUTHZ;STATS
type PluginPhase string

// Plugin phases.
const (
	PhaseAuthn PluginPhase = "AUTHN"
	PhaseAuthz PluginPhase = "AUTHZ"
	PhaseStats PluginPhase = "STATS"
)

// FailStrategy is what a proxy does when a plugin fails fatally.
// +kubebuilder:validation:Enum=FailClose;FailOpen;FailReload
type FailStrategy string

// Fail strategies.
const (
	FailClose  FailStrategy = "FailClose"
	FailOpen   FailStrategy = "FailOpen"
	FailReload FailStrategy = "FailReload"
)

// EnvVar is an environment variable of the Wasm VM.
// +kubebuilder:validation:XValidation:rule="self.valueFrom == 'Host' ? !has(self.value) : true",message="value must be empty when valueFrom is Host"
type EnvVar struct {
	// name of the variable.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=256
	Name string `json:"name"`

	// valueFrom says where the value comes from: Inline (value, the
	// default) or Host (the proxy's own environment variable of that name).
	// +optional
	// +kubebuilder:default=Inline
	// +kubebuilder:validation:Enum=Inline;Host
	ValueFrom EnvValueSource `json:"valueFrom,omitempty"`

	// value of the variable, for valueFrom Inline.
	// +optional
	// +kubebuilder:validation:MaxLength=4096
	Value string `json:"value,omitempty"`
}

// EnvValueSource says where an environment variable's value comes from.
type EnvValueSource string

// Environment value sources.
const (
	EnvInline EnvValueSource = "Inline"
	EnvHost   EnvValueSource = "Host"
)

// TrafficSelector selects traffic by workload mode and ports.
type TrafficSelector struct {
	// mode is the traffic direction: Client (outbound), Server (inbound) or
	// ClientAndServer. Omitted, both.
	// +optional
	// +kubebuilder:validation:Enum=Client;Server;ClientAndServer
	Mode WorkloadMode `json:"mode,omitempty"`

	// ports restricts the plugin to these port numbers.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=64
	Ports []PortNumber `json:"ports,omitempty"`
}

// PortNumber is a TCP port number.
// +kubebuilder:validation:Minimum=1
// +kubebuilder:validation:Maximum=65535
type PortNumber int32

// WorkloadMode is the direction of traffic a plugin sees.
type WorkloadMode string

// Workload modes.
const (
	ModeClient          WorkloadMode = "Client"
	ModeServer          WorkloadMode = "Server"
	ModeClientAndServer WorkloadMode = "ClientAndServer"
)

// WasmExtensionStatus is what the operator observed and did.
type WasmExtensionStatus struct {
	// observedGeneration is the generation whose outcome the conditions report.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// conditions: Ready, Reconciling and Stalled (kstatus) and one per
	// pipeline step: ModuleFetched, ModuleVerified (only when spec.verify is
	// set), ModuleValidated, Rendered.
	// +optional
	// +listType=map
	// +listMapKey=type
	// +patchStrategy=merge
	// +patchMergeKey=type
	// +kubebuilder:validation:MaxItems=16
	Conditions []metav1.Condition `json:"conditions,omitempty" patchStrategy:"merge" patchMergeKey:"type"`

	// module describes the module that is rendered now (the last known
	// good one while a newer version fails).
	// +optional
	Module *ModuleStatus `json:"module,omitempty"`

	// rendered lists the objects the operator created for this extension.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=8
	Rendered []RenderedObject `json:"rendered,omitempty"`

	// Not length-capped: it echoes an annotation value verbatim, and a cap
	// would make the status write fail instead of recording it.

	// lastHandledReconcileAt is the value of the
	// reconcile.wasmext.io/requestedAt annotation the operator last acted
	// on (Flux's reconcile.fluxcd.io/requestedAt convention). Setting the
	// annotation to a new value, e.g. the current time, makes the operator
	// resolve the tag again now; this field then shows that it did.
	// +optional
	LastHandledReconcileAt string `json:"lastHandledReconcileAt,omitempty"`
}

// ModuleStatus describes a fetched and validated module.
type ModuleStatus struct {
	// repository is the repository the module came from, without tag or
	// digest; for an http source its URL without user info or query.
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	Repository string `json:"repository,omitempty"`
	// digest is the manifest digest the tag resolved to; it is what is
	// rendered. For an http source, sha256:<hex> of the .wasm bytes.
	// +optional
	// +kubebuilder:validation:MaxLength=128
	Digest string `json:"digest,omitempty"`
	// sha256 is the hex SHA-256 of the .wasm bytes.
	// +optional
	// +kubebuilder:validation:MaxLength=64
	SHA256 string `json:"sha256,omitempty"`
	// size of the .wasm bytes.
	// +optional
	Size int64 `json:"size,omitempty"`
	// format is the packaging the module was found in: cncf, wasm-to-oci,
	// solo, docker-image, oci-image, or http (a .wasm file from module.http).
	// +optional
	// +kubebuilder:validation:MaxLength=32
	Format string `json:"format,omitempty"`
	// abi is the Proxy-Wasm ABI version the module exports, e.g. proxy_abi_version_0_2_1.
	// +optional
	// +kubebuilder:validation:MaxLength=64
	ABI string `json:"abi,omitempty"`
	// verifiedBy names what vouched for the module: a key fingerprint or a
	// keyless issuer and subject. Empty when the extension asks for no
	// verification.
	// +optional
	// +kubebuilder:validation:MaxLength=2048
	VerifiedBy string `json:"verifiedBy,omitempty"`
	// verifiedAt is when the signature was verified.
	// +optional
	VerifiedAt *metav1.Time `json:"verifiedAt,omitempty"`
	// delivery is how the proxies obtain the module: Cache or Registry.
	// +optional
	Delivery Delivery `json:"delivery,omitempty"`
	// url is what the rendered objects tell the proxies to load: the
	// module server's URL for Cache, the digest-pinned oci:// reference for
	// Registry.
	// +optional
	// +kubebuilder:validation:MaxLength=2048
	URL string `json:"url,omitempty"`
	// tag is the tag semver chose (empty without semver).
	// +optional
	// +kubebuilder:validation:MaxLength=128
	Tag string `json:"tag,omitempty"`
	// confirmedAt is when the source last confirmed that it still points
	// at this digest. While the source is unreachable it says how fresh
	// Ready is: the mesh keeps running this module (see the Ready
	// condition). It is written only along with writes that happen anyway
	// (a new digest, a fetch that succeeds again, the start of an outage,
	// from the operator's last successful resolve), never once per
	// interval, so at steady state it can be older than the last check.
	// +optional
	ConfirmedAt *metav1.Time `json:"confirmedAt,omitempty"`
	// dryRun records the dry run that passed for what is rendered.
	// +optional
	DryRun *DryRunStatus `json:"dryRun,omitempty"`
}

// RenderedObject names an object rendered for an extension.
type RenderedObject struct {
	// apiVersion of the object.
	// +required
	// +kubebuilder:validation:MaxLength=253
	APIVersion string `json:"apiVersion"`
	// kind of the object.
	// +required
	// +kubebuilder:validation:MaxLength=63
	Kind string `json:"kind"`
	// name of the object, in the extension's namespace.
	// +required
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`
}

// WasmExtension ships a Proxy-Wasm module to the Envoy proxies of selected
// workloads: the operator pulls it once, verifies and inspects it, and
// renders the Istio resource that makes the proxies load it.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=wasmext,categories=istio-io
// +kubebuilder:printcolumn:name="Image",type=string,JSONPath=`.spec.module.image`
// +kubebuilder:printcolumn:name="Digest",type=string,JSONPath=`.status.module.digest`,priority=0
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type WasmExtension struct {
	metav1.TypeMeta `json:",inline"`
	// metadata is the standard object metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is the desired extension.
	// +required
	Spec WasmExtensionSpec `json:"spec"`

	// status is what the operator observed.
	// +optional
	Status WasmExtensionStatus `json:"status,omitempty"`
}

// WasmExtensionList is a list of WasmExtensions.
//
// +kubebuilder:object:root=true
type WasmExtensionList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []WasmExtension `json:"items"`
}
