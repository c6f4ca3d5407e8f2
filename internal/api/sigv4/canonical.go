package sigv4

import (
	"net/http"
	"net/textproto"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// queryParam is one query parameter in canonical (RFC 3986 encoded) form.
type queryParam struct {
	key, value string
}

// presignParams are the X-Amz-* query parameters of a presigned request,
// decoded. present reports whether any of the defining ones appeared.
type presignParams struct {
	present       bool
	algorithm     string
	credential    string
	date          string
	expires       string
	signedHeaders string
	signature     string
	dups          string // name of a parameter that appeared twice
	seen          uint8  // bit set of the parameters seen
}

// parseQuery splits rawQuery into canonical parameters (appended to dst,
// unsorted) and collects the presign parameters. A parameter without "="
// has an empty value. A bad %-escape or a ';' separator is an error: the
// two SDKs never send either, and the API router must not see parameters
// the signature does not cover.
func parseQuery(dst []queryParam, rawQuery string) ([]queryParam, presignParams, error) {
	var ps presignParams
	for rest := rawQuery; rest != ""; {
		var pair string
		pair, rest, _ = strings.Cut(rest, "&")
		if pair == "" {
			continue
		}
		if strings.IndexByte(pair, ';') >= 0 {
			return nil, ps, errMalformedQuery("The query string contains a ';' separator; use '&' between parameters and percent-encode ';' as %3B.")
		}
		rk, rv, _ := strings.Cut(pair, "=")
		k, err := canonicalQueryComponent(rk)
		if err != nil {
			return nil, ps, err
		}
		v, err := canonicalQueryComponent(rv)
		if err != nil {
			return nil, ps, err
		}
		if len(k) > 6 && k[:6] == "X-Amz-" {
			if err := ps.set(k, rv); err != nil {
				return nil, ps, err
			}
		}
		dst = append(dst, queryParam{key: k, value: v})
	}
	return dst, ps, nil
}

// set records a presign parameter; raw is the value as sent.
func (ps *presignParams) set(key, raw string) error {
	var field *string
	var bit uint8
	switch key {
	case "X-Amz-Algorithm":
		field, bit, ps.present = &ps.algorithm, 1, true
	case "X-Amz-Credential":
		field, bit, ps.present = &ps.credential, 2, true
	case "X-Amz-Signature":
		field, bit, ps.present = &ps.signature, 4, true
	case "X-Amz-Date":
		field, bit = &ps.date, 8
	case "X-Amz-Expires":
		field, bit = &ps.expires, 16
	case "X-Amz-SignedHeaders":
		field, bit = &ps.signedHeaders, 32
	default:
		return nil
	}
	v, err := url.QueryUnescape(raw)
	if err != nil {
		return errMalformedQuery("The query string has an invalid percent-encoding in parameter " + key + ".")
	}
	if ps.seen&bit != 0 {
		ps.dups = key
	}
	ps.seen |= bit
	*field = v
	return nil
}

// canonicalQueryComponent decodes a raw query key or value ("+" is a
// space) and re-encodes it per RFC 3986 with "%20" for a space, as
// aws-sdk-go-v2 and botocore both do.
func canonicalQueryComponent(raw string) (string, error) {
	if isUnreserved(raw) {
		return raw, nil
	}
	dec, err := url.QueryUnescape(raw)
	if err != nil {
		return "", errMalformedQuery("The query string has an invalid percent-encoding: '" + truncate(raw, 64) + "'.")
	}
	return string(appendEscaped(make([]byte, 0, len(dec)+16), dec, false)), nil
}

// canonicalQuery sorts params by key, then value, and appends
// "k=v&k=v..." to dst, leaving out X-Amz-Signature when skipSignature.
func canonicalQuery(dst []byte, params []queryParam, skipSignature bool) []byte {
	slices.SortFunc(params, func(a, b queryParam) int {
		if c := strings.Compare(a.key, b.key); c != 0 {
			return c
		}
		return strings.Compare(a.value, b.value)
	})
	first := true
	for _, p := range params {
		if skipSignature && p.key == "X-Amz-Signature" {
			continue
		}
		if !first {
			dst = append(dst, '&')
		}
		first = false
		dst = append(dst, p.key...)
		dst = append(dst, '=')
		dst = append(dst, p.value...)
	}
	return dst
}

// requestPath returns the request path exactly as the client sent it
// (still percent-encoded). For server requests that is the path part of
// RequestURI; for client-built requests (tests) it is URL.EscapedPath.
func requestPath(r *http.Request) string {
	if u := r.RequestURI; u != "" && u[0] == '/' {
		if i := strings.IndexByte(u, '?'); i >= 0 {
			u = u[:i]
		}
		return u
	}
	if r.URL == nil {
		return "/"
	}
	if r.URL.Opaque != "" {
		// "//host/path" form: the path starts at the first "/" after the host.
		o := strings.TrimPrefix(r.URL.Opaque, "//")
		if i := strings.IndexByte(o, '/'); i >= 0 {
			return o[i:]
		}
		return "/"
	}
	return r.URL.EscapedPath()
}

// removeDotSegments normalises a path the way botocore does before
// signing: RFC 3986 §5.2.4 dot-segment removal, plus dropping empty
// segments ("a//b" -> "a/b"); a trailing "/" is kept. "" becomes "/".
func removeDotSegments(p string) string {
	if p == "" {
		return "/"
	}
	if !strings.Contains(p, "//") && !strings.Contains(p, "/.") && p[0] != '.' {
		return p // fast path: nothing to normalise
	}
	segs := strings.Split(p, "/")
	out := segs[:0]
	for _, s := range segs {
		switch s {
		case "", ".":
		case "..":
			if len(out) > 0 {
				out = out[:len(out)-1]
			}
		default:
			out = append(out, s)
		}
	}
	var b strings.Builder
	if p[0] == '/' {
		b.WriteByte('/')
	}
	b.WriteString(strings.Join(out, "/"))
	if p[len(p)-1] == '/' && len(out) > 0 {
		b.WriteByte('/')
	}
	return b.String()
}

// appendEscaped percent-encodes s per RFC 3986 (uppercase hex), leaving
// unreserved characters and, if keepSlash, "/" as they are.
func appendEscaped(dst []byte, s string, keepSlash bool) []byte {
	const hexUpper = "0123456789ABCDEF"
	for i := 0; i < len(s); i++ {
		c := s[i]
		if unreserved(c) || (keepSlash && c == '/') {
			dst = append(dst, c)
			continue
		}
		dst = append(dst, '%', hexUpper[c>>4], hexUpper[c&15])
	}
	return dst
}

func unreserved(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' ||
		c == '-' || c == '_' || c == '.' || c == '~'
}

func isUnreserved(s string) bool {
	for i := 0; i < len(s); i++ {
		if !unreserved(s[i]) {
			return false
		}
	}
	return true
}

// commonHeaderKeys maps the lower-case names clients usually sign to their
// canonical MIME form, so the hot path does not allocate converting them.
var commonHeaderKeys = map[string]string{
	"content-type":          "Content-Type",
	"content-length":        "Content-Length",
	"content-md5":           "Content-Md5",
	"date":                  "Date",
	"x-amz-date":            "X-Amz-Date",
	"x-amz-security-token":  "X-Amz-Security-Token",
	"x-amz-content-sha256":  "X-Amz-Content-Sha256",
	"x-amz-target":          "X-Amz-Target",
	"x-amz-user-agent":      "X-Amz-User-Agent",
	"amz-sdk-invocation-id": "Amz-Sdk-Invocation-Id",
	"amz-sdk-request":       "Amz-Sdk-Request",
	"x-amz-api-version":     "X-Amz-Api-Version",
	"user-agent":            "User-Agent",
}

// headerValues returns the values of the header named (lower-case) name.
func headerValues(h http.Header, name string) []string {
	key, ok := commonHeaderKeys[name]
	if !ok {
		key = textproto.CanonicalMIMEHeaderKey(name)
	}
	if v, ok := h[key]; ok {
		return v
	}
	// A name net/http did not canonicalise (e.g. with characters that are
	// not token characters) is stored as sent: look case-insensitively.
	for k, v := range h {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return nil
}

// canonicalHeaders appends "name:value\n" for every name in the
// ";"-separated signedHeaders list, in the order listed. host (and
// :authority) come from r.Host. Values are trimmed, runs of spaces and
// tabs collapse to one space, and repeated headers are joined with ",".
func canonicalHeaders(dst []byte, r *http.Request, signedHeaders string) []byte {
	for rest := signedHeaders; rest != ""; {
		var name string
		name, rest, _ = strings.Cut(rest, ";")
		dst = append(dst, name...)
		dst = append(dst, ':')
		lname := name
		if !isLower(name) {
			lname = strings.ToLower(name)
		}
		switch lname {
		case "host", ":authority":
			host := r.Host
			if host == "" && r.URL != nil {
				host = r.URL.Host
			}
			dst = appendTrimmed(dst, host)
		default:
			vals := headerValues(r.Header, lname)
			if vals == nil && lname == "content-length" && r.ContentLength >= 0 {
				dst = strconv.AppendInt(dst, r.ContentLength, 10)
			}
			for i, v := range vals {
				if i > 0 {
					dst = append(dst, ',')
				}
				dst = appendTrimmed(dst, v)
			}
		}
		dst = append(dst, '\n')
	}
	return dst
}

func isLower(s string) bool {
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' {
			return false
		}
	}
	return true
}

// appendTrimmed appends v without leading and trailing whitespace and
// with inner runs of spaces/tabs collapsed to a single space.
func appendTrimmed(dst []byte, v string) []byte {
	v = strings.Trim(v, " \t")
	space := false
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c == ' ' || c == '\t' {
			space = true
			continue
		}
		if space {
			dst = append(dst, ' ')
			space = false
		}
		dst = append(dst, c)
	}
	return dst
}
