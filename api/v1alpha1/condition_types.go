package v1alpha1

// Condition types. Ready, Reconciling and Stalled follow kstatus, so
// `kubectl wait --for=condition=Ready`, Flux and Argo CD health checks work.
// The others report one pipeline step each.
const (
	// ConditionReady is True when the module was fetched, validated and the
	// Istio resource for the current generation is rendered and applied:
	// the mesh runs what you asked for, last confirmed at
	// status.module.confirmedAt. A registry outage does not change that:
	// Ready stays True (Reason RegistryUnavailable, the message says what is
	// served, since when the registry is unavailable and when the source
	// last confirmed the digest), ModuleFetched is False, and Reconciling
	// stays absent, so kstatus computes Current (Reconciling True would be
	// InProgress, and `kubectl wait`, Flux and Argo CD would wait out the
	// outage for a resource whose actual state matches its spec). Only
	// while Ready was True for the current generation: a spec change or a
	// first deployment during an outage is Ready False with Reconciling
	// True, retried.
	ConditionReady = "Ready"
	// ConditionReconciling is True while the operator works towards the
	// current generation (kstatus "abnormal-true" condition).
	ConditionReconciling = "Reconciling"
	// ConditionStalled is True when progress needs a change from a person:
	// the spec, a Secret or the registry content (kstatus "abnormal-true").
	ConditionStalled = "Stalled"
	// ConditionModuleFetched reports whether the module bytes were pulled
	// from the registry and passed the size and digest checks.
	ConditionModuleFetched = "ModuleFetched"
	// ConditionModuleVerified reports whether the module's signature was
	// verified (present only when spec.verify is set).
	ConditionModuleVerified = "ModuleVerified"
	// ConditionModuleValidated reports whether the bytes are a valid
	// Proxy-Wasm module Envoy can load, and whether it passed the dry run
	// (see Validation) with this extension's pluginConfig.
	ConditionModuleValidated = "ModuleValidated"
	// ConditionRendered reports whether the Istio resource was rendered and
	// applied to the cluster.
	ConditionRendered = "Rendered"
)

// Condition reasons. Each names one cause a person can act on.
const (
	// ReasonSucceeded marks a step or the whole extension as done.
	ReasonSucceeded = "Succeeded"
	// ReasonInvalidReference: module.image is not a valid OCI reference.
	ReasonInvalidReference = "InvalidReference"
	// ReasonPullSecretNotFound: module.pullSecretRef names a Secret that does not exist.
	ReasonPullSecretNotFound = "PullSecretNotFound"
	// ReasonPullSecretInvalid: the pull Secret is not a usable kubernetes.io/dockerconfigjson Secret.
	ReasonPullSecretInvalid = "PullSecretInvalid"
	// ReasonUnauthorized: the registry refused the credentials (HTTP 401/403).
	ReasonUnauthorized = "Unauthorized"
	// ReasonNotFound: the repository, tag or digest does not exist in the registry.
	ReasonNotFound = "NotFound"
	// ReasonUnsupportedFormat: the artifact is none of the Wasm formats wasmext reads.
	ReasonUnsupportedFormat = "UnsupportedFormat"
	// ReasonModuleTooLarge: the module or a layer exceeds the operator's size cap.
	ReasonModuleTooLarge = "ModuleTooLarge"
	// ReasonDigestMismatch: downloaded content (a manifest, a layer or the
	// .wasm bytes) does not hash to the digest that names it.
	ReasonDigestMismatch = "DigestMismatch"
	// ReasonPinnedDigestMismatch: module.image resolved to a manifest digest
	// other than module.digest; the tag moved, or the pin is wrong.
	ReasonPinnedDigestMismatch = "PinnedDigestMismatch"
	// ReasonRegistryNotTLS: the registry speaks plain HTTP and the source is
	// not marked insecure.
	ReasonRegistryNotTLS = "RegistryNotTLS"
	// ReasonFetchFailed: a transient fetch failure other than an outage
	// (an unexpected answer from the registry); retried with backoff. A
	// registry that does not answer, times out or answers 5xx or 429 is
	// RegistryUnavailable.
	ReasonFetchFailed = "FetchFailed"
	// ReasonSecretUnavailable: a transient failure reading a Secret (pull
	// Secret, public keys, trusted root) from the API server; retried with
	// backoff. A Secret that does not exist has its own Reason.
	ReasonSecretUnavailable = "SecretUnavailable"
	// ReasonInvalidWasm: the bytes are not a valid WebAssembly module.
	ReasonInvalidWasm = "InvalidWasm"
	// ReasonNotProxyWasm: a valid Wasm module that exports none of the ABI markers Envoy knows
	// (proxy_abi_version_0_1_0, _0_2_0, _0_2_1), or only unknown ones.
	ReasonNotProxyWasm = "NotProxyWasm"
	// ReasonRenderFailed: the spec cannot be expressed as the Istio resource.
	ReasonRenderFailed = "RenderFailed"
	// ReasonApplyFailed: the API server refused the rendered resource.
	ReasonApplyFailed = "ApplyFailed"
)

// ReasonNameConflict: an object with the rendered name exists and belongs to
// someone else; rename the extension or remove that object.
const ReasonNameConflict = "NameConflict"

// Verification and policy reasons.
const (
	// ReasonSignatureMissing: no signature is attached to the module's digest.
	ReasonSignatureMissing = "SignatureMissing"
	// ReasonSignatureInvalid: signatures exist but none verifies with the configured keys or root.
	ReasonSignatureInvalid = "SignatureInvalid"
	// ReasonIdentityMismatch: a keyless signature is valid but made by another issuer or subject.
	ReasonIdentityMismatch = "IdentityMismatch"
	// ReasonVerificationConfigInvalid: the keys, trusted root or identity of spec.verify are unusable.
	ReasonVerificationConfigInvalid = "VerificationConfigInvalid"
	// ReasonVerificationFailed: a transient failure while verifying, such as
	// a registry error fetching the signatures; retried with backoff.
	ReasonVerificationFailed = "VerificationFailed"
	// ReasonPolicyViolation: the operator's cluster policy refuses the extension
	// (registry not allowed, or a signature is required and spec.verify is missing).
	ReasonPolicyViolation = "PolicyViolation"
)

// ReasonSuspended: spec.suspend is true; the operator changes nothing and
// the rendered objects stay as they are.
const ReasonSuspended = "Suspended"

// Output reasons.
const (
	// ReasonFormatNotLoadableByProxy: delivery Registry with a module format
	// istio-agent cannot load; use delivery Cache.
	ReasonFormatNotLoadableByProxy = "FormatNotLoadableByProxy"
	// ReasonDeliveryUnavailable: delivery Cache (or output EnvoyFilter) but
	// the operator runs no module server (--module-server-url).
	ReasonDeliveryUnavailable = "DeliveryUnavailable"
	// ReasonOutputUnavailable: the chosen output's CRD is not served by the cluster.
	ReasonOutputUnavailable = "OutputUnavailable"
)

// Dry-run reasons (condition ModuleValidated): the module did not pass the
// operator's Proxy-Wasm sandbox (see Validation). Nothing rendered changes.
const (
	// ReasonMissingImport: the module imports a function Envoy's Wasm host
	// does not provide, so Envoy would refuse to load it.
	ReasonMissingImport = "MissingImport"
	// ReasonInvalidABI: a Proxy-Wasm callback or allocator is exported with
	// the wrong signature (or no allocator is exported).
	ReasonInvalidABI = "InvalidABI"
	// ReasonConfigureFailed: proxy_on_vm_start or proxy_on_configure
	// returned false for this pluginConfig; the module's own log lines say
	// why.
	ReasonConfigureFailed = "ConfigureFailed"
	// ReasonModuleTrapped: the module trapped (crashed); the message names
	// the function.
	ReasonModuleTrapped = "ModuleTrapped"
	// ReasonTimeout: the dry run did not finish within the operator's time
	// limit (--dry-run-timeout); retried with backoff, since a busy node
	// can be the cause.
	ReasonTimeout = "Timeout"
	// ReasonMemoryLimit: the module needs more memory than the operator's
	// limit (--dry-run-memory-limit).
	ReasonMemoryLimit = "MemoryLimit"
	// ReasonDryRunSkipped: spec.validation disabled the dry run; the module
	// was only inspected (condition True, with the skipReason).
	ReasonDryRunSkipped = "DryRunSkipped"
)

// Source reasons (condition ModuleFetched).
const (
	// ReasonRegistryUnavailable: the registry (or HTTP source) did not
	// answer, answered 5xx or 429 or was too slow. The rendered objects keep
	// the digest in use, the module server keeps serving it and Ready stays
	// True for it (see ConditionReady); retried with backoff capped at five
	// minutes, so recovery needs nobody.
	ReasonRegistryUnavailable = "RegistryUnavailable"
	// ReasonInvalidSemver: module.semver is not a valid range.
	ReasonInvalidSemver = "InvalidSemver"
	// ReasonNoMatchingTag: no tag of the repository matches module.semver.
	ReasonNoMatchingTag = "NoMatchingTag"
	// ReasonAddressRefused: a registry, token realm, redirect or HTTP source
	// resolved to a link-local, cloud-metadata or policy-denied address,
	// which the operator never connects to.
	ReasonAddressRefused = "AddressRefused"
)
