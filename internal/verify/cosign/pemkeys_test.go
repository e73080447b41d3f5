package cosign_test

import (
	"encoding/pem"
	"testing"

	"github.com/wasmext/wasmext/internal/oci"
	"github.com/wasmext/wasmext/internal/verify/cosign"
	"github.com/wasmext/wasmext/internal/verify/verifytest"
)

// pemBlock encodes one PEM block of type typ around body.
func pemBlock(typ, body string) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: []byte(body)})
}

func pemJoin(parts ...[]byte) []byte {
	var out []byte
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func TestPublicKeysFromData(t *testing.T) {
	pubA, pubB, pubC := pemBlock("PUBLIC KEY", "a"), pemBlock("PUBLIC KEY", "b"), pemBlock("PUBLIC KEY", "c")
	withHeader := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Headers: map[string]string{"Comment": "ci"}, Bytes: []byte("h")})
	private := pemBlock("ENCRYPTED SIGSTORE PRIVATE KEY", "secret")
	cert := pemBlock("CERTIFICATE", "cert")
	tests := []struct {
		name string
		data map[string][]byte
		want [][]byte
	}{
		{"nil", nil, nil},
		{"empty", map[string][]byte{}, nil},
		{
			"cosign generate-key-pair Secret",
			map[string][]byte{"cosign.key": private, "cosign.password": []byte("hunter2"), "cosign.pub": pubA},
			[][]byte{pubA},
		},
		{"sorted by name", map[string][]byte{"b.pub": pubB, "a.pub": pubA, "c.pub": pubC}, [][]byte{pubA, pubB, pubC}},
		{"not PEM", map[string][]byte{"k": []byte("PUBLIC KEY"), "e": nil}, nil},
		{"first block not a public key", map[string][]byte{"ca.crt": pemJoin(cert, pubA), "k": pemJoin(private, pubB)}, nil},
		{"other PEM type", map[string][]byte{"rsa": pemBlock("RSA PUBLIC KEY", "r")}, nil},
		{"key ring: one element per block", map[string][]byte{"ring": pemJoin(pubB, []byte("\n"), pubA), "z": pubC}, [][]byte{pubB, pubA, pubC}},
		{"other blocks in a ring skipped", map[string][]byte{"ring": pemJoin(pubA, cert, private, pubB)}, [][]byte{pubA, pubB}},
		{"text around blocks dropped", map[string][]byte{"k": pemJoin([]byte("# team key\n"), pubA, []byte("trailing\n"))}, [][]byte{pubA}},
		{"headers kept", map[string][]byte{"k": withHeader}, [][]byte{withHeader}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := cosign.PublicKeysFromData(tt.data)
			if len(got) != len(tt.want) {
				t.Fatalf("PublicKeysFromData() = %q, want %q", got, tt.want)
			}
			for i := range got {
				if string(got[i]) != string(tt.want[i]) {
					t.Errorf("key %d = %q, want %q", i, got[i], tt.want[i])
				}
			}
		})
	}
}

// TestPublicKeysFromDataFeedsNewKeyVerifier checks that what it picks from a
// realistic Secret is what NewKeyVerifier accepts.
func TestPublicKeysFromDataFeedsNewKeyVerifier(t *testing.T) {
	_, pub1 := newKey(t, verifytest.ECDSAP256)
	_, pub2 := newKey(t, verifytest.Ed25519)
	data := map[string][]byte{
		"cosign.key":      pemBlock("ENCRYPTED SIGSTORE PRIVATE KEY", "secret"),
		"cosign.password": []byte("hunter2"),
		"cosign.pub":      pemJoin(pub1, pub2),
	}
	keys := cosign.PublicKeysFromData(data)
	if len(keys) != 2 || fingerprint(t, keys[0]) != fingerprint(t, pub1) || fingerprint(t, keys[1]) != fingerprint(t, pub2) {
		t.Fatalf("PublicKeysFromData() = %q, want the two keys of cosign.pub in order", keys)
	}
	if _, err := cosign.NewKeyVerifier(oci.NewFetcher(oci.Options{}), keys); err != nil {
		t.Fatalf("NewKeyVerifier(picked keys) = %v", err)
	}
}
