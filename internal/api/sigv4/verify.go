package sigv4

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/coffer/coffer/internal/clock"
)

// DefaultMaxSkew is how far a request's signing time may be from the
// server's clock, either way, as AWS allows.
const DefaultMaxSkew = 15 * time.Minute

// DefaultService is the signing name of AWS Backup.
const DefaultService = "backup"

// maxPresignExpires is the longest X-Amz-Expires accepted (7 days, as AWS).
const maxPresignExpires = 7 * 24 * 3600

// Date formats.
const (
	amzDateFormat  = "20060102T150405Z"
	unsignedPay    = "UNSIGNED-PAYLOAD"
	emptySHA256Hex = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
)

// Identity is who signed a request and for which region.
type Identity struct {
	// AccessKeyID is the access key the request was signed with.
	AccessKeyID string
	// Region is the region named in the credential scope: the region the
	// client addressed. The API layer serves the request in that region.
	Region string
	// SigningTime is the request's X-Amz-Date (or Date).
	SigningTime time.Time
	// Presigned is true if the signature came in the query string.
	Presigned bool
}

// Options configures a Verifier.
type Options struct {
	// Credentials resolves access keys to secrets. Required.
	Credentials CredentialStore
	// Clock tells the time for the skew check; nil means clock.Real{}.
	Clock clock.Clock
	// Service is the signing name expected in the scope; "" means "backup".
	Service string
	// Regions are the regions this endpoint serves. A request scoped to
	// another region is refused. Empty means any region is accepted.
	Regions []string
	// MaxSkew is the allowed distance between the signing time and now;
	// 0 means DefaultMaxSkew.
	MaxSkew time.Duration
}

// Verifier checks SigV4 signatures. It is safe for concurrent use.
type Verifier struct {
	creds      CredentialStore
	clock      clock.Clock
	service    string
	regions    map[string]bool
	regionList string // sorted, comma-separated, for messages
	maxSkew    time.Duration

	keys    sync.Map // keyCacheKey -> *signingKey
	keysLen sync.Mutex
	nkeys   int

	bufs sync.Pool // *[]byte scratch for the canonical request
}

// keyCacheKey identifies one derived signing key. The secret is part of it
// so that a rotated secret never reuses a stale key.
type keyCacheKey struct {
	secret, date, region string
}

// signingKey holds the HMAC inner and outer pads of a derived key, so
// that each request costs two SHA-256 runs and no allocation.
type signingKey struct {
	ipad, opad [sha256.BlockSize]byte
}

// maxCachedKeys bounds the key cache; a key lives for one day, so the
// cache holds about keys × regions entries. When full it is emptied.
const maxCachedKeys = 4096

// NewVerifier returns a Verifier for opts. It reports an error only for
// unusable options (no credential store, negative skew).
func NewVerifier(opts Options) (*Verifier, error) {
	if opts.Credentials == nil {
		return nil, fmt.Errorf("sigv4: Options.Credentials is required")
	}
	if opts.MaxSkew < 0 {
		return nil, fmt.Errorf("sigv4: Options.MaxSkew %v is negative", opts.MaxSkew)
	}
	v := &Verifier{
		creds:   opts.Credentials,
		clock:   opts.Clock,
		service: opts.Service,
		maxSkew: opts.MaxSkew,
	}
	if v.clock == nil {
		v.clock = clock.Real{}
	}
	if v.service == "" {
		v.service = DefaultService
	}
	if v.maxSkew == 0 {
		v.maxSkew = DefaultMaxSkew
	}
	if len(opts.Regions) > 0 {
		v.regions = make(map[string]bool, len(opts.Regions))
		for _, r := range opts.Regions {
			v.regions[r] = true
		}
		list := slices.Clone(opts.Regions)
		slices.Sort(list)
		v.regionList = strings.Join(slices.Compact(list), ", ")
	}
	v.bufs.New = func() any { b := make([]byte, 0, 1024); return &b }
	return v, nil
}

// Verify checks the signature of r, whose body the caller has already read
// into body (r.Body is not touched). It returns the signer's Identity, or an
// *awsproto.ProtocolError whose code and status follow the table in
// errors.go.
//
// Header authentication requires SignedHeaders to list host and
// x-amz-date (or date). Presigned requests need X-Amz-Algorithm,
// X-Amz-Credential, X-Amz-Date, X-Amz-SignedHeaders (with host) and
// X-Amz-Signature; X-Amz-Expires (1..604800 s) is optional and defaults
// to the skew window. x-amz-security-token may be signed (or sent as
// X-Amz-Security-Token in a presigned query); session tokens are not
// otherwise checked.
//
// The payload hash is always the SHA-256 of body. If the client sent
// x-amz-content-sha256 it must equal that hash: UNSIGNED-PAYLOAD and the
// STREAMING-* forms are refused, because no AWS Backup client uses them
// and accepting them would let a captured request be replayed with a
// different body while its signature is still fresh.
func (v *Verifier) Verify(r *http.Request, body []byte) (Identity, error) {
	var id Identity
	var rawQuery string
	if r.URL != nil {
		rawQuery = r.URL.RawQuery
	}
	var paramsBuf [16]queryParam
	params, ps, err := parseQuery(paramsBuf[:0], rawQuery)
	if err != nil {
		return id, err
	}
	authz := r.Header["Authorization"]
	if len(authz) > 1 {
		return id, errIncomplete("The request has more than one Authorization header.")
	}

	// Gather the signature parameters from the header or the query.
	var (
		cred          credential
		signedHeaders string
		signature     string
		amzDate       string
		t             time.Time
	)
	switch {
	case len(authz) == 1 && ps.present:
		return id, errIncomplete("Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization header should be specified.")
	case len(authz) == 1:
		a, err := parseAuthorization(authz[0])
		if err != nil {
			return id, err
		}
		cred, signedHeaders, signature = a.Credential, a.SignedHeaders, a.Signature
		amzDate, t, err = headerDate(r)
		if err != nil {
			return id, err
		}
	case ps.present:
		id.Presigned = true
		if ps.dups != "" {
			return id, errIncomplete("The query string has more than one '" + ps.dups + "' parameter.")
		}
		var missing []string
		for _, m := range []struct{ name, val string }{
			{"X-Amz-Algorithm", ps.algorithm}, {"X-Amz-Credential", ps.credential},
			{"X-Amz-Signature", ps.signature}, {"X-Amz-Date", ps.date},
			{"X-Amz-SignedHeaders", ps.signedHeaders},
		} {
			if m.val == "" {
				missing = append(missing, "'"+m.name+"'")
			}
		}
		if len(missing) > 0 {
			return id, errIncomplete("AWS query-string parameters must include 'X-Amz-Algorithm', 'X-Amz-Credential', 'X-Amz-Signature', 'X-Amz-Date', 'X-Amz-SignedHeaders'; missing " + strings.Join(missing, ", ") + ".")
		}
		if ps.algorithm != Algorithm {
			return id, errIncomplete(fmt.Sprintf("Unsupported X-Amz-Algorithm %q: this endpoint accepts only %s (Signature Version 4).", truncate(ps.algorithm, 64), Algorithm))
		}
		cred, err = parseCredential(ps.credential)
		if err != nil {
			return id, err
		}
		if err := checkSignedHeaders(ps.signedHeaders, false); err != nil {
			return id, err
		}
		signedHeaders, signature, amzDate = ps.signedHeaders, ps.signature, ps.date
		t, err = parseAmzDate(amzDate)
		if err != nil {
			return id, errIncomplete(fmt.Sprintf("X-Amz-Date must be in ISO-8601 basic format (yyyyMMdd'T'HHmmss'Z'), got '%s'.", truncate(amzDate, 64)))
		}
	default:
		return id, errMissing()
	}

	// Scope and time.
	if cred.Date != amzDate[:8] {
		return id, errInvalid(fmt.Sprintf("Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '%s' != '%s', from '%s'.", cred.Date, amzDate[:8], amzDate))
	}
	if cred.Service != v.service {
		return id, errInvalid(fmt.Sprintf("Credential should be scoped to correct service: '%s', not '%s'.", v.service, truncate(cred.Service, 64)))
	}
	if v.regions != nil && !v.regions[cred.Region] {
		return id, errInvalid(fmt.Sprintf("Credential should be scoped to a valid region, not '%s'. This endpoint serves: %s.", truncate(cred.Region, 64), v.regionList))
	}
	now := v.clock.Now().UTC()
	if err := v.checkTime(t, now, id.Presigned, ps.expires); err != nil {
		return id, err
	}

	secret, ok := v.creds.Secret(cred.AccessKeyID)
	if !ok {
		return id, errUnrecognized()
	}

	payloadHash, err := payloadHash(r, body)
	if err != nil {
		return id, err
	}

	want, ok := decodeSignature(signature)
	key := v.signingKey(secret, cred.Date, cred.Region)

	bp := v.bufs.Get().(*[]byte)
	defer v.bufs.Put(bp)
	path := requestPath(r)
	normalized := removeDotSegments(path)

	buf, ok2 := v.check(*bp, key, want, r, normalized, params, signedHeaders, payloadHash, amzDate, cred.Scope, id.Presigned)
	*bp = buf[:0]
	if ok && ok2 {
		return v.identity(id, cred, t), nil
	}
	// aws-sdk-go-v2 does not normalise the path before signing; botocore
	// does. Accept either when they differ (only for paths with "//", "."
	// or "..").
	if raw := nonEmptyPath(path); raw != normalized && ok {
		buf, ok2 = v.check(*bp, key, want, r, raw, params, signedHeaders, payloadHash, amzDate, cred.Scope, id.Presigned)
		*bp = buf[:0]
		if ok2 {
			return v.identity(id, cred, t), nil
		}
	}
	// Rebuild the canonical request for the message (failure path only).
	canon := string(buildCanonical(nil, r, normalized, params, signedHeaders, payloadHash, id.Presigned))
	sts := stringToSign(nil, amzDate, cred.Scope, canon)
	return id, errInvalid(msgSignatureMismatch + "\n\nThe Canonical String for this request should have been\n'" +
		canon + "'\n\nThe String-to-Sign should have been\n'" + string(sts) + "'\n")
}

func (v *Verifier) identity(id Identity, cred credential, t time.Time) Identity {
	id.AccessKeyID = cred.AccessKeyID
	id.Region = cred.Region
	id.SigningTime = t
	return id
}

// check builds the canonical request with canonical URI from path and
// reports whether its signature equals want. It returns the scratch buffer
// for reuse.
func (v *Verifier) check(buf []byte, key *signingKey, want [sha256.Size]byte, r *http.Request, path string,
	params []queryParam, signedHeaders, payloadHash, amzDate, scope string, presigned bool) ([]byte, bool) {
	buf = buildCanonical(buf[:0], r, path, params, signedHeaders, payloadHash, presigned)
	canonHash := sha256.Sum256(buf)
	// The string to sign goes right after the HMAC inner pad in buf.
	buf = append(buf[:0], key.ipad[:]...)
	buf = append(buf, Algorithm...)
	buf = append(buf, '\n')
	buf = append(buf, amzDate...)
	buf = append(buf, '\n')
	buf = append(buf, scope...)
	buf = append(buf, '\n')
	buf = hex.AppendEncode(buf, canonHash[:])
	inner := sha256.Sum256(buf)
	var outerIn [sha256.BlockSize + sha256.Size]byte
	copy(outerIn[:], key.opad[:])
	copy(outerIn[sha256.BlockSize:], inner[:])
	got := sha256.Sum256(outerIn[:])
	return buf, subtle.ConstantTimeCompare(got[:], want[:]) == 1
}

// buildCanonical appends the canonical request to dst.
func buildCanonical(dst []byte, r *http.Request, path string, params []queryParam, signedHeaders, payloadHash string, presigned bool) []byte {
	dst = append(dst, r.Method...)
	dst = append(dst, '\n')
	dst = appendEscaped(dst, path, true)
	dst = append(dst, '\n')
	dst = canonicalQuery(dst, params, presigned)
	dst = append(dst, '\n')
	dst = canonicalHeaders(dst, r, signedHeaders)
	dst = append(dst, '\n')
	dst = append(dst, signedHeaders...)
	dst = append(dst, '\n')
	dst = append(dst, payloadHash...)
	return dst
}

func stringToSign(dst []byte, amzDate, scope, canonical string) []byte {
	h := sha256.Sum256([]byte(canonical))
	dst = append(dst, Algorithm+"\n"...)
	dst = append(dst, amzDate...)
	dst = append(dst, '\n')
	dst = append(dst, scope...)
	dst = append(dst, '\n')
	return hex.AppendEncode(dst, h[:])
}

func nonEmptyPath(p string) string {
	if p == "" {
		return "/"
	}
	return p
}

// headerDate returns the request time from X-Amz-Date or, failing that,
// Date, as the ISO-8601 basic string used in the string to sign.
func headerDate(r *http.Request) (string, time.Time, error) {
	if d := r.Header.Get("X-Amz-Date"); d != "" {
		t, err := parseAmzDate(d)
		if err != nil {
			return "", t, errIncomplete(fmt.Sprintf("Date must be in ISO-8601 'basic format'. Got '%s'. See http://en.wikipedia.org/wiki/ISO_8601", truncate(d, 64)))
		}
		return d, t, nil
	}
	if d := r.Header.Get("Date"); d != "" {
		t, err := parseHTTPDate(d)
		if err != nil {
			return "", t, errIncomplete(fmt.Sprintf("Date header '%s' is not an HTTP date.", truncate(d, 64)))
		}
		t = t.UTC()
		return t.Format(amzDateFormat), t, nil
	}
	return "", time.Time{}, errIncomplete("Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.")
}

// parseHTTPDate parses a Date header: the HTTP formats, RFC 1123 with a
// numeric zone (botocore sends "Fri, 02 Jan 2026 03:04:05 -0000") or
// ISO-8601 basic.
func parseHTTPDate(d string) (time.Time, error) {
	if t, err := http.ParseTime(d); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.RFC1123Z, d); err == nil {
		return t, nil
	}
	return parseAmzDate(d)
}

// parseAmzDate parses "20060102T150405Z", strictly 16 characters.
func parseAmzDate(s string) (time.Time, error) {
	if len(s) != len(amzDateFormat) {
		return time.Time{}, fmt.Errorf("sigv4: date %q is not yyyyMMddTHHmmssZ", s)
	}
	return time.Parse(amzDateFormat, s)
}

// checkTime enforces the skew window, and a presigned URL's expiry.
func (v *Verifier) checkTime(t, now time.Time, presigned bool, expires string) error {
	if t.After(now.Add(v.maxSkew)) {
		return errInvalid(fmt.Sprintf("Signature not yet current: %s is still later than %s (%s + %s.)",
			t.Format(amzDateFormat), now.Add(v.maxSkew).Format(amzDateFormat), now.Format(amzDateFormat), skewText(v.maxSkew)))
	}
	if !presigned || expires == "" {
		if t.Before(now.Add(-v.maxSkew)) {
			return errInvalid(fmt.Sprintf("Signature expired: %s is now earlier than %s (%s - %s.)",
				t.Format(amzDateFormat), now.Add(-v.maxSkew).Format(amzDateFormat), now.Format(amzDateFormat), skewText(v.maxSkew)))
		}
		return nil
	}
	secs, err := strconv.Atoi(expires)
	if err != nil || secs < 1 || secs > maxPresignExpires {
		return errIncomplete(fmt.Sprintf("X-Amz-Expires must be a whole number of seconds from 1 to %d (a week), got '%s'.", maxPresignExpires, truncate(expires, 32)))
	}
	end := t.Add(time.Duration(secs) * time.Second)
	if now.After(end) {
		return errInvalid(fmt.Sprintf("Signature expired: the presigned request signed at %s was valid for %d seconds, until %s; it is now %s.",
			t.Format(amzDateFormat), secs, end.Format(amzDateFormat), now.Format(amzDateFormat)))
	}
	return nil
}

func skewText(d time.Duration) string {
	if d%time.Minute == 0 {
		return strconv.Itoa(int(d/time.Minute)) + " min"
	}
	return d.String()
}

// payloadHash returns the hex SHA-256 of body, checking it against
// x-amz-content-sha256 when the client sent one.
func payloadHash(r *http.Request, body []byte) (string, error) {
	var sum string
	if len(body) == 0 {
		sum = emptySHA256Hex
	} else {
		h := sha256.Sum256(body)
		sum = hex.EncodeToString(h[:])
	}
	claimed, ok := r.Header["X-Amz-Content-Sha256"]
	if !ok {
		return sum, nil
	}
	if len(claimed) != 1 {
		return "", errInvalid("The request has more than one x-amz-content-sha256 header.")
	}
	switch c := claimed[0]; {
	case c == unsignedPay, strings.HasPrefix(c, "STREAMING-"):
		return "", errInvalid(fmt.Sprintf("x-amz-content-sha256 '%s' is not accepted by this endpoint: sign the payload (send its hex SHA-256, or omit the header).", truncate(c, 64)))
	case c != sum:
		return "", errInvalid("The provided 'x-amz-content-sha256' header does not match what was computed.")
	}
	return sum, nil
}

// decodeSignature decodes a 64-digit hex signature; ok is false if s is
// not one (the comparison then fails).
func decodeSignature(s string) (sig [sha256.Size]byte, ok bool) {
	if len(s) != 2*sha256.Size {
		return sig, false
	}
	for i := 0; i < sha256.Size; i++ {
		hi, ok1 := fromHex(s[2*i])
		lo, ok2 := fromHex(s[2*i+1])
		if !ok1 || !ok2 {
			return sig, false
		}
		sig[i] = hi<<4 | lo
	}
	return sig, true
}

func fromHex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// signingKey returns the derived key for (secret, date, region), from the
// cache when possible.
func (v *Verifier) signingKey(secret, date, region string) *signingKey {
	ck := keyCacheKey{secret: secret, date: date, region: region}
	if k, ok := v.keys.Load(ck); ok {
		return k.(*signingKey)
	}
	k := deriveKey(secret, date, region, v.service)
	v.keysLen.Lock()
	if v.nkeys >= maxCachedKeys {
		v.keys.Clear()
		v.nkeys = 0
	}
	if _, loaded := v.keys.LoadOrStore(ck, k); !loaded {
		v.nkeys++
	}
	v.keysLen.Unlock()
	return k
}

// deriveKey computes the SigV4 signing key and its HMAC pads.
func deriveKey(secret, date, region, service string) *signingKey {
	mac := func(key []byte, data string) []byte {
		h := hmac.New(sha256.New, key)
		h.Write([]byte(data))
		return h.Sum(nil)
	}
	k := mac([]byte("AWS4"+secret), date)
	k = mac(k, region)
	k = mac(k, service)
	k = mac(k, scopeTerminator)
	sk := &signingKey{}
	for i := range sk.ipad {
		sk.ipad[i], sk.opad[i] = 0x36, 0x5c
	}
	for i, b := range k { // 32 bytes < block size: no pre-hashing
		sk.ipad[i] ^= b
		sk.opad[i] ^= b
	}
	return sk
}
