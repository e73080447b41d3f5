package v1alpha1

// HTTPSource is a .wasm file served over HTTP(S), pinned by its sha256.
//
// +kubebuilder:validation:XValidation:rule="self.url.startsWith('https://') || self.url.startsWith('http://')",message="url must start with https:// (or http:// for a server inside the cluster)"
type HTTPSource struct {
	// url of the .wasm file (or of a gzip-compressed one). Redirects are
	// followed, each checked by the outbound-address policy.
	// +required
	// +kubebuilder:validation:MinLength=8
	// +kubebuilder:validation:MaxLength=2048
	URL string `json:"url"`
	// sha256 is the hex SHA-256 of the .wasm bytes; bytes with another
	// hash are refused with DigestMismatch. Required: an URL can change
	// under the operator, a hash cannot.
	// +required
	// +kubebuilder:validation:Pattern="^[a-f0-9]{64}$"
	SHA256 string `json:"sha256"`
	// caSecretRef names a Secret in the extension's namespace whose
	// ca.crt (PEM) is trusted, in addition to the system roots, for a
	// private HTTPS server.
	// +optional
	CASecretRef *LocalObjectReference `json:"caSecretRef,omitempty"`
}
