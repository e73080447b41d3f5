package cosign

import (
	"crypto/x509"
	"errors"
	"fmt"
	"regexp"

	"github.com/sigstore/sigstore-go/pkg/fulcio/certificate"
	"github.com/sigstore/sigstore-go/pkg/root"
	sgverify "github.com/sigstore/sigstore-go/pkg/verify"

	"github.com/wasmext/wasmext/internal/verify"
)

// Identity is who must have signed, keyless: the OIDC issuer and the
// subject (the certificate's SAN: an email, a workflow URI, …). Set exactly
// one of Issuer and IssuerRegExp and exactly one of Subject and
// SubjectRegExp. Regular expressions (RE2) must match the whole value: they
// are anchored, unlike cosign's --certificate-identity-regexp, so that
// "https://github.com/acme/.*" cannot match a URI that merely contains it.
type Identity struct {
	Issuer, IssuerRegExp   string
	Subject, SubjectRegExp string
}

// String renders the expectation for messages, e.g.
// `issuer "https://accounts.example" and subject matching "^(?:.*@acme\.io)$"`.
func (id Identity) String() string {
	part := func(name, exact, re string) string {
		if re != "" {
			return fmt.Sprintf("%s matching %q", name, anchor(re))
		}
		return fmt.Sprintf("%s %q", name, exact)
	}
	return part("issuer", id.Issuer, id.IssuerRegExp) + " and " + part("subject", id.Subject, id.SubjectRegExp)
}

func anchor(re string) string { return "^(?:" + re + ")$" }

// certificateIdentity checks id and turns it into sigstore-go's form.
// Errors wrap verify.ErrInvalidPolicy.
func (id Identity) certificateIdentity() (sgverify.CertificateIdentity, error) {
	if (id.Issuer == "") == (id.IssuerRegExp == "") {
		return sgverify.CertificateIdentity{}, fmt.Errorf("%w: set exactly one of issuer and issuerRegExp", verify.ErrInvalidPolicy)
	}
	if (id.Subject == "") == (id.SubjectRegExp == "") {
		return sgverify.CertificateIdentity{}, fmt.Errorf("%w: set exactly one of subject and subjectRegExp", verify.ErrInvalidPolicy)
	}
	issuerRE, subjectRE := id.IssuerRegExp, id.SubjectRegExp
	for _, re := range []*string{&issuerRE, &subjectRE} {
		if *re == "" {
			continue
		}
		if _, err := regexp.Compile(*re); err != nil {
			return sgverify.CertificateIdentity{}, fmt.Errorf("%w: %v", verify.ErrInvalidPolicy, err)
		}
		*re = anchor(*re)
	}
	ci, err := sgverify.NewShortCertificateIdentity(id.Issuer, issuerRE, id.Subject, subjectRE)
	if err != nil {
		return sgverify.CertificateIdentity{}, fmt.Errorf("%w: %v", verify.ErrInvalidPolicy, err)
	}
	return ci, nil
}

// TrustedRootFromJSON parses a Sigstore trusted_root.json (media type
// application/vnd.dev.sigstore.trustedroot+json;version=0.1), e.g. the one
// `cosign trusted-root create` writes or the public-good instance's. Errors
// wrap verify.ErrInvalidPolicy.
func TrustedRootFromJSON(b []byte) (root.TrustedMaterial, error) {
	tr, err := root.NewTrustedRootFromJSON(b)
	if err != nil {
		return nil, fmt.Errorf("%w: trusted root: %v", verify.ErrInvalidPolicy, err)
	}
	return tr, nil
}

// keylessVerifier returns a sigstore-go verifier for trusted that requires
// what the trusted material can vouch for: an observer timestamp always
// (a log's integrated time or an RFC 3161 timestamp, needed to check a
// short-lived certificate), a transparency log entry when the material
// lists logs, and an SCT in the certificate when it lists CT logs.
func keylessVerifier(trusted root.TrustedMaterial) (*sgverify.Verifier, error) {
	if trusted == nil || len(trusted.FulcioCertificateAuthorities()) == 0 {
		return nil, fmt.Errorf("%w: trusted root has no certificate authority", verify.ErrInvalidPolicy)
	}
	logs, tsas := len(trusted.RekorLogs()), len(trusted.TimestampingAuthorities())
	if logs == 0 && tsas == 0 {
		return nil, fmt.Errorf("%w: trusted root has neither a transparency log nor a timestamp authority", verify.ErrInvalidPolicy)
	}
	opts := []sgverify.VerifierOption{sgverify.WithObserverTimestamps(1), sgverify.WithoutStatementPredicate()}
	if logs > 0 {
		opts = append(opts, sgverify.WithTransparencyLog(1))
	}
	if len(trusted.CTLogs()) > 0 {
		opts = append(opts, sgverify.WithSignedCertificateTimestamps(1))
	}
	v, err := sgverify.NewVerifier(trusted, opts...)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", verify.ErrInvalidPolicy, err)
	}
	return v, nil
}

// identityError turns sigstore-go's identity failure into one wrapping
// verify.ErrIdentityMismatch that names what the certificate says; it
// returns err unchanged for any other failure.
func identityError(err error, leaf *x509.Certificate, want Identity) error {
	var nm *sgverify.ErrNoMatchingCertificateIdentity
	if !errors.As(err, &nm) {
		return err
	}
	found := "an unreadable certificate"
	if leaf != nil {
		if s, serr := certificate.SummarizeCertificate(leaf); serr == nil {
			found = fmt.Sprintf("issuer %q and subject %q", s.Issuer, s.SubjectAlternativeName)
		}
	}
	return fmt.Errorf("%w: signed by %s, want %s", verify.ErrIdentityMismatch, found, want)
}

// keylessBy renders Result.VerifiedBy for a certificate summary.
func keylessBy(s *certificate.Summary) string {
	if s == nil {
		return "keyless"
	}
	return fmt.Sprintf("keyless issuer=%s subject=%s", s.Issuer, s.SubjectAlternativeName)
}

// leafCertificate returns e's signing certificate, or nil.
func leafCertificate(e sgverify.SignedEntity) *x509.Certificate {
	vc, err := e.VerificationContent()
	if err != nil || vc == nil {
		return nil
	}
	return vc.Certificate()
}
