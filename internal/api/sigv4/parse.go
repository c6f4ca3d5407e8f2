package sigv4

import (
	"fmt"
	"net/http"
	"strings"
)

// Algorithm is the only signing algorithm accepted.
const Algorithm = "AWS4-HMAC-SHA256"

// scopeTerminator ends every credential scope.
const scopeTerminator = "aws4_request"

// maxAuthorizationLen bounds the Authorization header we parse; real ones
// are a few hundred bytes.
const maxAuthorizationLen = 8 << 10

// credential is the parsed Credential element:
// "<akid>/<yyyymmdd>/<region>/<service>/aws4_request".
type credential struct {
	AccessKeyID string
	Date        string // yyyymmdd
	Region      string
	Service     string
	// Scope is "<date>/<region>/<service>/aws4_request", a substring of the
	// original credential.
	Scope string
}

// authorization is a parsed SigV4 Authorization header.
type authorization struct {
	Credential    credential
	SignedHeaders string // raw ";"-separated lower-case list, as signed
	Signature     string // hex, as sent
}

// String renders a in the form clients send.
func (a authorization) String() string {
	return Algorithm + " Credential=" + a.Credential.AccessKeyID + "/" + a.Credential.Scope +
		", SignedHeaders=" + a.SignedHeaders + ", Signature=" + a.Signature
}

// parseAuthorization parses an Authorization header value of the form
//
//	AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/backup/aws4_request, SignedHeaders=host;x-amz-date, Signature=hex
//
// Parameters are separated by commas with optional spaces; unknown
// parameters are ignored. It checks the syntax only: the scope's shape,
// and that SignedHeaders names host and x-amz-date (or date). Every error
// is an IncompleteSignatureException.
func parseAuthorization(h string) (authorization, error) {
	var a authorization
	if len(h) > maxAuthorizationLen {
		return a, errIncomplete(fmt.Sprintf("Authorization header is %d bytes long; at most %d are accepted.", len(h), maxAuthorizationLen))
	}
	h = strings.TrimSpace(h)
	alg, rest, _ := strings.Cut(h, " ")
	if alg != Algorithm {
		return a, errIncomplete(fmt.Sprintf("Unsupported Authorization algorithm %q: this endpoint accepts only %s (Signature Version 4).", truncate(alg, 64), Algorithm))
	}
	var haveCred, haveSigned, haveSig bool
	var credStr string
	for rest != "" {
		var part string
		part, rest, _ = strings.Cut(rest, ",")
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		k, v, ok := strings.Cut(part, "=")
		if !ok {
			return a, errIncomplete(fmt.Sprintf("'%s' not a valid key=value pair (missing equal-sign) in Authorization header: '%s'.", truncate(part, 128), truncate(h, 512)))
		}
		var seen *bool
		switch k {
		case "Credential":
			seen, credStr = &haveCred, v
		case "SignedHeaders":
			seen, a.SignedHeaders = &haveSigned, v
		case "Signature":
			seen, a.Signature = &haveSig, v
		default:
			continue // unknown parameters are ignored, as AWS does
		}
		if *seen {
			return a, errIncomplete(fmt.Sprintf("Authorization header has more than one '%s' parameter.", k))
		}
		*seen = true
	}
	var missing []string
	if !haveCred || credStr == "" {
		missing = append(missing, "Authorization header requires 'Credential' parameter.")
	}
	if !haveSig || a.Signature == "" {
		missing = append(missing, "Authorization header requires 'Signature' parameter.")
	}
	if !haveSigned || a.SignedHeaders == "" {
		missing = append(missing, "Authorization header requires 'SignedHeaders' parameter.")
	}
	if len(missing) > 0 {
		return a, errIncomplete(strings.Join(missing, " ") + " Authorization=" + truncate(h, 512))
	}
	c, err := parseCredential(credStr)
	if err != nil {
		return a, err
	}
	a.Credential = c
	if err := checkSignedHeaders(a.SignedHeaders, true); err != nil {
		return a, err
	}
	return a, nil
}

// parseCredential splits "<akid>/<date>/<region>/<service>/aws4_request".
func parseCredential(s string) (credential, error) {
	var c credential
	parts := strings.SplitN(s, "/", 6)
	if len(parts) != 5 {
		return c, errIncomplete(fmt.Sprintf("Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got '%s'", truncate(s, 256)))
	}
	for i, p := range parts[:4] {
		if p == "" {
			name := [...]string{"access key id", "date", "region", "service"}[i]
			return c, errIncomplete(fmt.Sprintf("Credential has an empty %s element: '%s'", name, truncate(s, 256)))
		}
	}
	if parts[4] != scopeTerminator {
		return c, errIncomplete(fmt.Sprintf("Credential should be scoped with a valid terminator: '%s', not '%s'.", scopeTerminator, truncate(parts[4], 64)))
	}
	if !isDigits(parts[1], 8) {
		return c, errIncomplete(fmt.Sprintf("Credential date must be in the form YYYYMMDD, got '%s'.", truncate(parts[1], 64)))
	}
	c.AccessKeyID, c.Date, c.Region, c.Service = parts[0], parts[1], parts[2], parts[3]
	c.Scope = s[len(parts[0])+1:]
	return c, nil
}

// checkSignedHeaders checks the ";"-separated list: no empty names, host
// present and, if needDate, x-amz-date or date present.
func checkSignedHeaders(list string, needDate bool) error {
	var host, date bool
	for rest := list; ; {
		name, more, found := strings.Cut(rest, ";")
		if name == "" {
			return errIncomplete(fmt.Sprintf("SignedHeaders has an empty header name: '%s'.", truncate(list, 256)))
		}
		switch strings.ToLower(name) {
		case "host", ":authority":
			host = true
		case "x-amz-date", "date":
			date = true
		}
		if !found {
			break
		}
		rest = more
	}
	if !host {
		return errIncomplete("'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.")
	}
	if needDate && !date {
		return errIncomplete("Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header, and SignedHeaders must name it.")
	}
	return nil
}

func isDigits(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// truncate shortens s for use in an error message.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// ClaimedIdentity returns the identity r claims in its Authorization header
// or presign query (access key, scope region, signing time) WITHOUT
// verifying the signature. It is for servers running with authentication
// disabled (tests, local development), which still need the region the
// client addressed. ok is false if r carries no parsable SigV4 credential.
func ClaimedIdentity(r *http.Request) (id Identity, ok bool) {
	var credStr, date string
	if h := r.Header.Get("Authorization"); h != "" {
		a, err := parseAuthorization(h)
		if err != nil {
			return id, false
		}
		id.AccessKeyID, id.Region = a.Credential.AccessKeyID, a.Credential.Region
		if d, t, err := headerDate(r); err == nil && d != "" {
			id.SigningTime = t
		}
		return id, true
	}
	if r.URL == nil {
		return id, false
	}
	q := r.URL.Query()
	credStr, date = q.Get("X-Amz-Credential"), q.Get("X-Amz-Date")
	if credStr == "" {
		return id, false
	}
	c, err := parseCredential(credStr)
	if err != nil {
		return id, false
	}
	id.AccessKeyID, id.Region, id.Presigned = c.AccessKeyID, c.Region, true
	if t, err := parseAmzDate(date); err == nil {
		id.SigningTime = t
	}
	return id, true
}
