package cosign

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"time"

	"github.com/sigstore/sigstore-go/pkg/root"
	sgverify "github.com/sigstore/sigstore-go/pkg/verify"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
	"github.com/sigstore/sigstore/pkg/cryptoutils/goodkey"
	"github.com/sigstore/sigstore/pkg/signature"

	"github.com/wasmext/wasmext/internal/verify"
)

// MaxKeys caps the public keys one policy may list.
const MaxKeys = 16

// publicKey is one trusted public key with the verifiers to try it with.
type publicKey struct {
	// fingerprint is "SHA256:" + unpadded base64 of sha256(PKIX DER), the
	// form ssh-keygen -l prints.
	fingerprint string
	// sig verifies raw signatures, one entry per hash/scheme the key may
	// have been used with (see verifiersFor).
	sig []signature.Verifier
	// bundle holds one sigstore-go verifier per entry of sig, each trusting
	// only that key whatever key hint a bundle carries.
	bundle []*sgverify.Verifier
}

// parsePublicKeys parses PEM public keys; each element holds one or more
// PEM blocks, one key each. Errors wrap verify.ErrInvalidPolicy.
func parsePublicKeys(pems [][]byte) ([]publicKey, error) {
	var keys []publicKey
	for i, p := range pems {
		rest := bytes.TrimSpace(p)
		if len(rest) == 0 {
			return nil, fmt.Errorf("%w: public key %d is empty", verify.ErrInvalidPolicy, i+1)
		}
		for len(rest) > 0 {
			var block *pem.Block
			if block, rest = pem.Decode(rest); block == nil {
				return nil, fmt.Errorf("%w: public key %d: not PEM", verify.ErrInvalidPolicy, i+1)
			}
			rest = bytes.TrimSpace(rest)
			if len(keys) == MaxKeys {
				return nil, fmt.Errorf("%w: more than %d public keys", verify.ErrInvalidPolicy, MaxKeys)
			}
			k, err := parsePublicKey(pem.EncodeToMemory(block))
			if err != nil {
				return nil, fmt.Errorf("%w: public key %d: %v", verify.ErrInvalidPolicy, i+1, err)
			}
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("%w: no public key given", verify.ErrInvalidPolicy)
	}
	return keys, nil
}

func parsePublicKey(pemBytes []byte) (publicKey, error) {
	pub, err := cryptoutils.UnmarshalPEMToPublicKey(pemBytes)
	if err != nil {
		return publicKey{}, err
	}
	if err := goodkey.ValidatePubKey(pub); err != nil {
		return publicKey{}, err
	}
	der, err := cryptoutils.MarshalPublicKeyToDER(pub)
	if err != nil {
		return publicKey{}, err
	}
	sum := sha256.Sum256(der)
	k := publicKey{fingerprint: "SHA256:" + base64.RawStdEncoding.EncodeToString(sum[:])}
	if k.sig, err = verifiersFor(pub); err != nil {
		return publicKey{}, err
	}
	for _, sv := range k.sig {
		key := root.NewExpiringKey(sv, time.Time{}, time.Time{})
		tm := root.NewTrustedPublicKeyMaterial(func(string) (root.TimeConstrainedVerifier, error) { return key, nil })
		v, err := sgverify.NewVerifier(tm, sgverify.WithNoObserverTimestamps(), sgverify.WithoutStatementPredicate())
		if err != nil {
			return publicKey{}, err
		}
		k.bundle = append(k.bundle, v)
	}
	return k, nil
}

// verifiersFor returns the signature schemes a key of pub's type is used
// with by cosign and sigstore-go: the curve's own hash for ECDSA plus the
// SHA-256 older cosign used for every curve; PKCS#1 v1.5 with SHA-256 for
// RSA; pure Ed25519 (DSSE, simple signing) and Ed25519ph (hashedrekord).
func verifiersFor(pub crypto.PublicKey) ([]signature.Verifier, error) {
	var out []signature.Verifier
	add := func(v signature.Verifier, err error) error {
		if err == nil {
			out = append(out, v)
		}
		return err
	}
	var err error
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		hashes := []crypto.Hash{crypto.SHA256}
		switch k.Curve {
		case elliptic.P384():
			hashes = []crypto.Hash{crypto.SHA384, crypto.SHA256}
		case elliptic.P521():
			hashes = []crypto.Hash{crypto.SHA512, crypto.SHA256}
		}
		for _, h := range hashes {
			if err = add(signature.LoadECDSAVerifier(k, h)); err != nil {
				break
			}
		}
	case *rsa.PublicKey:
		err = add(signature.LoadRSAPKCS1v15Verifier(k, crypto.SHA256))
	case ed25519.PublicKey:
		if err = add(signature.LoadED25519Verifier(k)); err == nil {
			err = add(signature.LoadED25519phVerifier(k))
		}
	default:
		err = fmt.Errorf("unsupported public key type %T", pub)
	}
	return out, err
}
