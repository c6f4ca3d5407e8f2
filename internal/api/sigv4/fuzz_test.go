package sigv4

import (
	"errors"
	"net/http"
	"testing"

	"github.com/coffer/coffer/internal/api/awsproto"
)

// FuzzParseAuthorization checks that any Authorization header either
// parses into a value that renders and re-parses to itself, or fails with
// a 400 IncompleteSignatureException — never a panic or another error.
// Seeds live in testdata/fuzz/FuzzParseAuthorization.
func FuzzParseAuthorization(f *testing.F) {
	f.Add("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260102/us-east-1/backup/aws4_request, SignedHeaders=host;x-amz-date, Signature=ee8cfce651731a788893c146d7f4e6b2821ae150ee915b9f015e6a65d3d1e03a")
	f.Fuzz(func(t *testing.T, h string) {
		a, err := parseAuthorization(h)
		if err != nil {
			var pe *awsproto.ProtocolError
			if !errors.As(err, &pe) || pe.Code != CodeIncompleteSignature || pe.Status != http.StatusBadRequest {
				t.Fatalf("parseAuthorization(%q): got error %v, want IncompleteSignatureException/400", h, err)
			}
			return
		}
		if a.Credential.AccessKeyID == "" || a.Signature == "" || a.SignedHeaders == "" || len(a.Credential.Date) != 8 {
			t.Fatalf("parseAuthorization(%q): accepted incomplete %+v", h, a)
		}
		b, err := parseAuthorization(a.String())
		if err != nil {
			t.Fatalf("re-parse of %q: %v", a.String(), err)
		}
		if b != a {
			t.Fatalf("round trip of %q: got %+v, want %+v", h, b, a)
		}
	})
}
