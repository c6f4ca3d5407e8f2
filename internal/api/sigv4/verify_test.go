package sigv4

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/coffer/coffer/internal/api/awsproto"
	"github.com/coffer/coffer/internal/clock"
)

const (
	testAKID   = "AKIDEXAMPLE"
	testSecret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
	testHost   = "127.0.0.1:8765"
)

var testTime = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func newTestVerifier(t testing.TB, now time.Time) *Verifier {
	t.Helper()
	v, err := NewVerifier(Options{
		Credentials: StaticCredentials{testAKID: testSecret, "AKIAOTHER": "other-secret"},
		Clock:       clock.NewFake(now),
		Regions:     []string{"us-east-1", "us-west-2"},
	})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// clientReq describes a request as a client builds it.
type clientReq struct {
	method  string
	path    string // decoded path
	rawPath string // encoded path, if it differs from the default encoding
	query   string // raw query
	body    string
	headers map[string]string
}

func (c clientReq) build(t testing.TB) *http.Request {
	t.Helper()
	u := &url.URL{Scheme: "http", Host: testHost, Path: c.path, RawPath: c.rawPath, RawQuery: c.query}
	var body io.Reader
	if c.body != "" {
		body = strings.NewReader(c.body)
	}
	r, err := http.NewRequest(c.method, u.String(), body)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range c.headers {
		r.Header.Set(k, v)
	}
	return r
}

func hashHex(b string) string {
	h := sha256.Sum256([]byte(b))
	return hex.EncodeToString(h[:])
}

type signOpts struct {
	akid, secret, token, region, service string
	at                                   time.Time
}

func (o signOpts) fill() signOpts {
	if o.akid == "" {
		o.akid = testAKID
	}
	if o.secret == "" {
		o.secret = testSecret
	}
	if o.region == "" {
		o.region = "us-east-1"
	}
	if o.service == "" {
		o.service = "backup"
	}
	if o.at.IsZero() {
		o.at = testTime
	}
	return o
}

// sign signs r with the aws-sdk-go-v2 signer.
func sign(t testing.TB, r *http.Request, body string, o signOpts) {
	t.Helper()
	o = o.fill()
	creds := aws.Credentials{AccessKeyID: o.akid, SecretAccessKey: o.secret, SessionToken: o.token}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, r, hashHex(body), o.service, o.region, o.at); err != nil {
		t.Fatal(err)
	}
}

// presign presigns r with the aws-sdk-go-v2 signer and returns the URL.
func presign(t testing.TB, r *http.Request, body string, o signOpts) string {
	t.Helper()
	o = o.fill()
	creds := aws.Credentials{AccessKeyID: o.akid, SecretAccessKey: o.secret, SessionToken: o.token}
	u, _, err := v4.NewSigner().PresignHTTP(context.Background(), creds, r, hashHex(body), o.service, o.region, o.at)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// toServer sends r through HTTP/1.1 framing and parses it back the way
// net/http's server does, so the request has RequestURI, Host and headers
// exactly as a handler sees them.
func toServer(t testing.TB, r *http.Request) (*http.Request, []byte) {
	t.Helper()
	var b bytes.Buffer
	if err := r.Write(&b); err != nil {
		t.Fatal(err)
	}
	sr, err := http.ReadRequest(bufio.NewReader(&b))
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(sr.Body)
	if err != nil {
		t.Fatal(err)
	}
	return sr, body
}

func errCode(err error) string {
	var pe *awsproto.ProtocolError
	if errors.As(err, &pe) {
		return pe.Code + "/" + strconv.Itoa(pe.Status)
	}
	if err == nil {
		return "ok"
	}
	return "non-protocol error: " + err.Error()
}

func TestVerifyAcceptsSDKSignedRequests(t *testing.T) {
	t.Parallel()
	arnPath := "/backup-vaults/v1/recovery-points/arn:aws:ec2:us-east-1::snapshot/snap-1"
	arnRaw := "/backup-vaults/v1/recovery-points/arn%3Aaws%3Aec2%3Aus-east-1%3A%3Asnapshot%2Fsnap-1"
	q := url.Values{"space": {"a b"}, "plus": {"x+y"}, "uni": {"ü€/é"}, "k": {"2", "1", "10"}, "empty": {""}}
	tests := []struct {
		name   string
		req    clientReq
		region string
		token  string
		after  map[string]string // headers added after signing
	}{
		{name: "GET no query", req: clientReq{method: "GET", path: "/backup-vaults/"}},
		{name: "GET query encoded with +", req: clientReq{method: "GET", path: "/backup-vaults/", query: q.Encode()}},
		{name: "GET query encoded with %20", req: clientReq{method: "GET", path: "/backup-vaults/", query: "space=a%20b&k=2&k=1&uni=%C3%BC&flag&t=2023-11-14T22%3A13%3A20Z"}},
		{name: "PUT JSON body", req: clientReq{method: "PUT", path: "/backup-vaults/my-vault", body: `{"BackupVaultTags":{"a":"b"}}`,
			headers: map[string]string{"Content-Type": "application/json"}}},
		{name: "POST body with signed extra headers", req: clientReq{method: "POST", path: "/tags/x", body: `{"Tags":{}}`,
			headers: map[string]string{"Content-Type": "application/json", "X-Amz-Target": "a  b   c", "X-Custom": "  padded  "}}},
		{name: "ARN path label", req: clientReq{method: "GET", path: arnPath, rawPath: arnRaw}},
		{name: "ARN path label with query", req: clientReq{method: "DELETE", path: arnPath, rawPath: arnRaw, query: "x=%2F"}},
		{name: "path with double slash and dot (go-v2 does not normalise)", req: clientReq{method: "GET", path: "/a//b/./c/../d"}},
		{name: "unicode path", req: clientReq{method: "GET", path: "/backup-vaults/välut"}},
		{name: "other served region", req: clientReq{method: "GET", path: "/"}, region: "us-west-2"},
		{name: "session token signed", req: clientReq{method: "GET", path: "/backup/plans/"}, token: "FQoGZXIvYXdzEJr//+=="},
		{name: "headers added after signing are ignored", req: clientReq{method: "PUT", path: "/copy-jobs", body: `{}`},
			after: map[string]string{"Amz-Sdk-Invocation-Id": "x", "User-Agent": "changed", "X-Amzn-Trace-Id": "Root=1"}},
	}
	v := newTestVerifier(t, testTime.Add(3*time.Minute))
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.req.build(t)
			sign(t, r, tc.req.body, signOpts{region: tc.region, token: tc.token})
			for k, val := range tc.after {
				r.Header.Set(k, val)
			}
			sr, body := toServer(t, r)
			id, err := v.Verify(sr, body)
			if err != nil {
				t.Fatalf("Verify: got %v, want success", err)
			}
			wantRegion := tc.region
			if wantRegion == "" {
				wantRegion = "us-east-1"
			}
			if id.AccessKeyID != testAKID || id.Region != wantRegion || !id.SigningTime.Equal(testTime) || id.Presigned {
				t.Errorf("identity: got %+v, want %s in %s at %v", id, testAKID, wantRegion, testTime)
			}
			// The client-side request (no RequestURI) verifies too.
			if _, err := v.Verify(r, body); err != nil {
				t.Errorf("Verify(client request): got %v, want success", err)
			}
		})
	}
}

func TestVerifyPresigned(t *testing.T) {
	t.Parallel()
	v := newTestVerifier(t, testTime.Add(4*time.Minute))
	tests := []struct {
		name    string
		req     clientReq
		expires string
		token   string
		now     time.Duration // after signing
		want    string
	}{
		{name: "GET with expires", req: clientReq{method: "GET", path: "/backup-vaults/", query: "maxResults=5"}, expires: "300", want: "ok"},
		{name: "without expires uses skew window", req: clientReq{method: "GET", path: "/backup-vaults/"}, want: "ok"},
		{name: "ARN path", req: clientReq{method: "GET", path: "/tags/arn:aws:backup:us-east-1:1:x/y", rawPath: "/tags/arn%3Aaws%3Abackup%3Aus-east-1%3A1%3Ax%2Fy"}, expires: "60", now: 30 * time.Second, want: "ok"},
		{name: "session token", req: clientReq{method: "GET", path: "/"}, token: "tok//+=", want: "ok"},
		{name: "PUT with body", req: clientReq{method: "PUT", path: "/copy-jobs", body: `{"a":1}`}, expires: "900", want: "ok"},
		{name: "expired", req: clientReq{method: "GET", path: "/"}, expires: "60", now: 61 * time.Second, want: "InvalidSignatureException/403"},
		{name: "no expires, older than skew", req: clientReq{method: "GET", path: "/"}, now: 16 * time.Minute, want: "InvalidSignatureException/403"},
		{name: "expires too long", req: clientReq{method: "GET", path: "/"}, expires: "604801", want: "IncompleteSignatureException/400"},
		{name: "expires not a number", req: clientReq{method: "GET", path: "/"}, expires: "soon", want: "IncompleteSignatureException/400"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.req.build(t)
			if tc.expires != "" {
				q := r.URL.Query()
				q.Set("X-Amz-Expires", tc.expires)
				r.URL.RawQuery = q.Encode()
			}
			at := testTime.Add(4*time.Minute - tc.now)
			u := presign(t, r, tc.req.body, signOpts{token: tc.token, at: at})
			pr, err := http.NewRequest(tc.req.method, u, strings.NewReader(tc.req.body))
			if err != nil {
				t.Fatal(err)
			}
			sr, body := toServer(t, pr)
			id, err := v.Verify(sr, body)
			if got := errCode(err); got != tc.want {
				t.Fatalf("Verify: got %s (%v), want %s", got, err, tc.want)
			}
			if err == nil && (!id.Presigned || id.Region != "us-east-1" || id.AccessKeyID != testAKID) {
				t.Errorf("identity: got %+v", id)
			}
		})
	}
}

// TestVerifyTampered signs a valid request, changes one thing, and checks
// the exact error.
func TestVerifyTampered(t *testing.T) {
	t.Parallel()
	base := clientReq{method: "PUT", path: "/backup-vaults/v/recovery-points/arn:aws:x", rawPath: "/backup-vaults/v/recovery-points/arn%3Aaws%3Ax",
		query: "a=1&b=x%20y", body: `{"Lifecycle":{"DeleteAfterDays":35}}`, headers: map[string]string{"Content-Type": "application/json"}}
	const mismatch = "InvalidSignatureException/403"
	tests := []struct {
		name   string
		opts   signOpts
		tamper func(r *http.Request, body *[]byte)
		now    time.Time
		want   string
		msg    string // substring of the message
	}{
		{name: "untouched", want: "ok"},
		{name: "method", tamper: func(r *http.Request, _ *[]byte) { r.Method = "POST" }, want: mismatch, msg: "does not match"},
		{name: "path", tamper: func(r *http.Request, _ *[]byte) {
			r.RequestURI = strings.Replace(r.RequestURI, "arn%3Aaws", "arn%3Axxx", 1)
		}, want: mismatch},
		{name: "path encoding", tamper: func(r *http.Request, _ *[]byte) {
			r.RequestURI = strings.Replace(r.RequestURI, "arn%3Aaws", "arn:aws", 1)
		}, want: mismatch},
		{name: "query value", tamper: func(r *http.Request, _ *[]byte) { r.URL.RawQuery = "a=2&b=x%20y" }, want: mismatch},
		{name: "query param added", tamper: func(r *http.Request, _ *[]byte) { r.URL.RawQuery += "&c=3" }, want: mismatch},
		{name: "signed header", tamper: func(r *http.Request, _ *[]byte) { r.Header.Set("Content-Type", "text/plain") }, want: mismatch},
		{name: "signed header removed", tamper: func(r *http.Request, _ *[]byte) { r.Header.Del("Content-Type") }, want: mismatch},
		{name: "signed header repeated", tamper: func(r *http.Request, _ *[]byte) { r.Header.Add("Content-Type", "x") }, want: mismatch},
		{name: "host", tamper: func(r *http.Request, _ *[]byte) { r.Host = "evil:8765" }, want: mismatch},
		{name: "body", tamper: func(r *http.Request, b *[]byte) { *b = []byte(`{"Lifecycle":{"DeleteAfterDays":1}}`) }, want: mismatch},
		{name: "signature", tamper: func(r *http.Request, _ *[]byte) {
			h := r.Header.Get("Authorization")
			r.Header.Set("Authorization", h[:len(h)-1]+"0")
		}, want: mismatch},
		{name: "signature not hex", tamper: func(r *http.Request, _ *[]byte) {
			h := r.Header.Get("Authorization")
			r.Header.Set("Authorization", h[:len(h)-1]+"z")
		}, want: mismatch},
		{name: "wrong secret", opts: signOpts{secret: "not-the-secret"}, want: mismatch},
		{name: "unknown access key", opts: signOpts{akid: "AKIAUNKNOWN"}, want: "UnrecognizedClientException/403", msg: "security token included in the request is invalid"},
		{name: "other known key, wrong secret", opts: signOpts{akid: "AKIAOTHER"}, want: mismatch},
		{name: "expired", now: testTime.Add(15*time.Minute + time.Second), want: mismatch,
			msg: "Signature expired: 20260102T030405Z is now earlier than 20260102T030406Z (20260102T031906Z - 15 min.)"},
		{name: "at edge of skew", now: testTime.Add(15 * time.Minute), want: "ok"},
		{name: "from the future", now: testTime.Add(-16 * time.Minute), want: mismatch, msg: "Signature not yet current: 20260102T030405Z is still later than"},
		{name: "scope region not served", opts: signOpts{region: "eu-west-9"}, want: mismatch, msg: "'eu-west-9'. This endpoint serves: us-east-1, us-west-2."},
		{name: "scope service", opts: signOpts{service: "s3"}, want: mismatch, msg: "correct service: 'backup', not 's3'"},
		{name: "scope date", tamper: func(r *http.Request, _ *[]byte) {
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), "/20260102/", "/20260101/", 1))
		}, want: mismatch, msg: "Date in Credential scope does not match"},
		{name: "x-amz-date changed", tamper: func(r *http.Request, _ *[]byte) { r.Header.Set("X-Amz-Date", "20260102T030406Z") }, want: mismatch},
		{name: "x-amz-date malformed", tamper: func(r *http.Request, _ *[]byte) { r.Header.Set("X-Amz-Date", "2026-01-02T03:04:05Z") }, want: "IncompleteSignatureException/400", msg: "ISO-8601"},
		{name: "no authorization", tamper: func(r *http.Request, _ *[]byte) { r.Header.Del("Authorization") }, want: "MissingAuthenticationTokenException/403", msg: "Missing Authentication Token"},
		{name: "two authorization headers", tamper: func(r *http.Request, _ *[]byte) { r.Header.Add("Authorization", "x") }, want: "IncompleteSignatureException/400"},
		{name: "header and query auth", tamper: func(r *http.Request, _ *[]byte) { r.URL.RawQuery += "&X-Amz-Signature=00" }, want: "IncompleteSignatureException/400", msg: "Only one auth mechanism"},
		{name: "content sha256 header matching", tamper: func(r *http.Request, b *[]byte) { r.Header.Set("X-Amz-Content-Sha256", hashHex(string(*b))) }, want: "ok"},
		{name: "content sha256 header not matching", tamper: func(r *http.Request, b *[]byte) { r.Header.Set("X-Amz-Content-Sha256", hashHex("other")) }, want: mismatch, msg: "x-amz-content-sha256"},
		{name: "unsigned payload refused", tamper: func(r *http.Request, b *[]byte) { r.Header.Set("X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD") }, want: mismatch, msg: "UNSIGNED-PAYLOAD"},
		{name: "bad query escape", tamper: func(r *http.Request, _ *[]byte) { r.URL.RawQuery += "&c=%zz" }, want: "MalformedQueryStringException/400"},
		{name: "semicolon in query", tamper: func(r *http.Request, _ *[]byte) { r.URL.RawQuery += ";c=1" }, want: "MalformedQueryStringException/400"},
	}
	v := newTestVerifier(t, testTime)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := base.build(t)
			sign(t, r, base.body, tc.opts)
			sr, body := toServer(t, r)
			if tc.tamper != nil {
				tc.tamper(sr, &body)
			}
			vv := v
			if !tc.now.IsZero() {
				vv = newTestVerifier(t, tc.now)
			}
			_, err := vv.Verify(sr, body)
			if got := errCode(err); got != tc.want {
				t.Fatalf("Verify: got %s (%v), want %s", got, err, tc.want)
			}
			if tc.msg != "" && !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("message: got %q, want it to contain %q", err.Error(), tc.msg)
			}
		})
	}
}

// TestVerifyMalformedAuthorization checks header parsing errors.
func TestVerifyMalformedAuthorization(t *testing.T) {
	t.Parallel()
	v := newTestVerifier(t, testTime)
	sig := strings.Repeat("a", 64)
	tests := []struct {
		name, authz, want, msg string
	}{
		{"other algorithm", "Bearer abc", "IncompleteSignatureException/400", "Unsupported Authorization algorithm"},
		{"sigv4a", "AWS4-ECDSA-P256-SHA256 Credential=a/20260102/backup/aws4_request, SignedHeaders=host, Signature=" + sig, "IncompleteSignatureException/400", "AWS4-HMAC-SHA256"},
		{"no parameters", "AWS4-HMAC-SHA256", "IncompleteSignatureException/400", "requires 'Credential' parameter"},
		{"missing signature", "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260102/us-east-1/backup/aws4_request, SignedHeaders=host;x-amz-date", "IncompleteSignatureException/400", "requires 'Signature' parameter"},
		{"missing signed headers", "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260102/us-east-1/backup/aws4_request, Signature=" + sig, "IncompleteSignatureException/400", "requires 'SignedHeaders' parameter"},
		{"no equal sign", "AWS4-HMAC-SHA256 Credential, SignedHeaders=host;x-amz-date, Signature=" + sig, "IncompleteSignatureException/400", "missing equal-sign"},
		{"scope too short", "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260102/us-east-1/aws4_request, SignedHeaders=host;x-amz-date, Signature=" + sig, "IncompleteSignatureException/400", "exactly 5 slash-delimited"},
		{"scope terminator", "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260102/us-east-1/backup/aws5_request, SignedHeaders=host;x-amz-date, Signature=" + sig, "IncompleteSignatureException/400", "valid terminator"},
		{"scope date", "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/2026012/us-east-1/backup/aws4_request, SignedHeaders=host;x-amz-date, Signature=" + sig, "IncompleteSignatureException/400", "YYYYMMDD"},
		{"empty region", "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260102//backup/aws4_request, SignedHeaders=host;x-amz-date, Signature=" + sig, "IncompleteSignatureException/400", "empty region"},
		{"no host signed", "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260102/us-east-1/backup/aws4_request, SignedHeaders=x-amz-date, Signature=" + sig, "IncompleteSignatureException/400", "'Host'"},
		{"no date signed", "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260102/us-east-1/backup/aws4_request, SignedHeaders=content-type;host, Signature=" + sig, "IncompleteSignatureException/400", "X-Amz-Date"},
		{"empty signed header name", "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260102/us-east-1/backup/aws4_request, SignedHeaders=host;;x-amz-date, Signature=" + sig, "IncompleteSignatureException/400", "empty header name"},
		{"duplicate parameter", "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260102/us-east-1/backup/aws4_request, Credential=x, SignedHeaders=host;x-amz-date, Signature=" + sig, "IncompleteSignatureException/400", "more than one 'Credential'"},
		{"well formed, wrong signature", "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260102/us-east-1/backup/aws4_request,SignedHeaders=host;x-amz-date,Signature=" + sig, "InvalidSignatureException/403", "does not match"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptestRequest(t, "GET", "/backup-vaults/")
			r.Header.Set("X-Amz-Date", "20260102T030405Z")
			r.Header.Set("Authorization", tc.authz)
			_, err := v.Verify(r, nil)
			if got := errCode(err); got != tc.want {
				t.Fatalf("Verify: got %s (%v), want %s", got, err, tc.want)
			}
			if !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("message: got %q, want it to contain %q", err.Error(), tc.msg)
			}
		})
	}
	t.Run("no date header", func(t *testing.T) {
		r := httptestRequest(t, "GET", "/")
		r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260102/us-east-1/backup/aws4_request, SignedHeaders=host;x-amz-date, Signature="+sig)
		_, err := v.Verify(r, nil)
		if got, want := errCode(err), "IncompleteSignatureException/400"; got != want {
			t.Fatalf("Verify: got %s (%v), want %s", got, err, want)
		}
	})
	t.Run("presign missing parameters", func(t *testing.T) {
		r := httptestRequest(t, "GET", "/?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature="+sig)
		_, err := v.Verify(r, nil)
		if got, want := errCode(err), "IncompleteSignatureException/400"; got != want {
			t.Fatalf("Verify: got %s (%v), want %s", got, err, want)
		}
		if !strings.Contains(err.Error(), "'X-Amz-Credential', 'X-Amz-Date', 'X-Amz-SignedHeaders'") {
			t.Errorf("message: got %q, want it to list the missing parameters", err.Error())
		}
	})
}

func httptestRequest(t testing.TB, method, target string) *http.Request {
	t.Helper()
	r, err := http.ReadRequest(bufio.NewReader(strings.NewReader(method + " " + target + " HTTP/1.1\r\nHost: " + testHost + "\r\n\r\n")))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestVerifyMismatchMessage checks that a mismatch explains the canonical
// request the server expected, as AWS does.
func TestVerifyMismatchMessage(t *testing.T) {
	t.Parallel()
	v := newTestVerifier(t, testTime)
	r := clientReq{method: "GET", path: "/backup-vaults/v1/recovery-points/arn:x", rawPath: "/backup-vaults/v1/recovery-points/arn%3Ax", query: "b=2&a=1"}.build(t)
	sign(t, r, "", signOpts{secret: "wrong"})
	sr, body := toServer(t, r)
	_, err := v.Verify(sr, body)
	want := "The Canonical String for this request should have been\n'GET\n/backup-vaults/v1/recovery-points/arn%253Ax\na=1&b=2\nhost:" + testHost + "\nx-amz-date:20260102T030405Z\n\nhost;x-amz-date\n" + emptySHA256Hex + "'"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("message: got %v, want it to contain %q", err, want)
	}
}

type golden struct {
	Time            string `json:"time"`
	AccessKeyID     string `json:"access_key_id"`
	SecretAccessKey string `json:"secret_access_key"`
	Requests        []struct {
		Name    string      `json:"name"`
		Region  string      `json:"region"`
		URL     string      `json:"url"`
		Method  string      `json:"method"`
		Headers [][2]string `json:"headers"`
		Body    string      `json:"body"`
	} `json:"requests"`
}

// TestVerifyBotocoreGolden verifies requests signed by botocore (see
// testdata/botocore_sign.py).
func TestVerifyBotocoreGolden(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile("testdata/botocore_golden.json")
	if err != nil {
		t.Fatal(err)
	}
	var g golden
	if err := json.Unmarshal(data, &g); err != nil {
		t.Fatal(err)
	}
	at, err := time.Parse(time.RFC3339, g.Time)
	if err != nil {
		t.Fatal(err)
	}
	v, err := NewVerifier(Options{
		Credentials: StaticCredentials{g.AccessKeyID: g.SecretAccessKey},
		Clock:       clock.NewFake(at.Add(time.Minute)),
		Regions:     []string{"us-east-1", "us-west-2"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(g.Requests) < 8 {
		t.Fatalf("golden requests: got %d, want at least 8", len(g.Requests))
	}
	for _, gr := range g.Requests {
		t.Run(gr.Name, func(t *testing.T) {
			u, err := url.Parse(gr.URL)
			if err != nil {
				t.Fatal(err)
			}
			var raw bytes.Buffer
			raw.WriteString(gr.Method + " " + u.RequestURI() + " HTTP/1.1\r\nHost: " + u.Host + "\r\n")
			for _, h := range gr.Headers {
				raw.WriteString(h[0] + ": " + h[1] + "\r\n")
			}
			raw.WriteString("\r\n" + gr.Body)
			r, err := http.ReadRequest(bufio.NewReader(&raw))
			if err != nil {
				t.Fatal(err)
			}
			body, err := io.ReadAll(r.Body)
			if err != nil {
				t.Fatal(err)
			}
			id, err := v.Verify(r, body)
			if err != nil {
				t.Fatalf("Verify: got %v, want success", err)
			}
			if id.Region != gr.Region || id.AccessKeyID != g.AccessKeyID || !id.SigningTime.Equal(at) {
				t.Errorf("identity: got %+v, want %s in %s at %v", id, g.AccessKeyID, gr.Region, at)
			}
			// Any change to the body or path breaks it.
			if len(body) > 0 {
				body[len(body)-1] ^= 1
				if _, err := v.Verify(r, body); errCode(err) != "InvalidSignatureException/403" {
					t.Errorf("tampered body: got %v, want InvalidSignatureException", err)
				}
			}
		})
	}
}

func TestCanonicalURI(t *testing.T) {
	t.Parallel()
	tests := []struct{ sent, want string }{
		{"", "/"},
		{"/", "/"},
		{"/backup-vaults/v1/recovery-points/arn%3Aaws%3Aec2%3Aus-east-1%3A%3Asnapshot%2Fsnap-1",
			"/backup-vaults/v1/recovery-points/arn%253Aaws%253Aec2%253Aus-east-1%253A%253Asnapshot%252Fsnap-1"},
		{"/a b/~x", "/a%20b/~x"},
		{"/a/./b/../c/", "/a/c/"},
		{"/a//b", "/a/b"},
		{"/..", "/"},
		{"/%E2%82%AC", "/%25E2%2582%25AC"},
	}
	for _, tc := range tests {
		got := string(appendEscaped(nil, removeDotSegments(tc.sent), true))
		if got != tc.want {
			t.Errorf("canonical URI of %q: got %q, want %q", tc.sent, got, tc.want)
		}
	}
}

func TestCanonicalQuery(t *testing.T) {
	t.Parallel()
	tests := []struct{ raw, want string }{
		{"", ""},
		{"b=2&a=1", "a=1&b=2"},
		{"k=2&k=10&k=1", "k=1&k=10&k=2"},
		{"q=a+b&r=a%20b&s=a%2Bb", "q=a%20b&r=a%20b&s=a%2Bb"},
		{"flag&x=", "flag=&x="},
		{"u=%C3%BC&t=a:b/c", "t=a%3Ab%2Fc&u=%C3%BC"},
		// sorted after encoding: "a%2Fb" < "a-b"
		{"v=a-b&v=a/b", "v=a%2Fb&v=a-b"},
		{"&&a=1&", "a=1"},
	}
	for _, tc := range tests {
		params, _, err := parseQuery(nil, tc.raw)
		if err != nil {
			t.Fatalf("parseQuery(%q): %v", tc.raw, err)
		}
		if got := string(canonicalQuery(nil, params, false)); got != tc.want {
			t.Errorf("canonical query of %q: got %q, want %q", tc.raw, got, tc.want)
		}
	}
}

func TestCanonicalHeaderValues(t *testing.T) {
	t.Parallel()
	r := httptestRequest(t, "GET", "/")
	r.Header["X-Multi"] = []string{" a  b ", "c\t\td"}
	r.Header["x_odd"] = []string{"v"}
	got := string(canonicalHeaders(nil, r, "host;x-multi;x_odd;x-missing"))
	want := "host:" + testHost + "\nx-multi:a b,c d\nx_odd:v\nx-missing:\n"
	if got != want {
		t.Errorf("canonical headers: got %q, want %q", got, want)
	}
}

func TestKeyCacheBounded(t *testing.T) {
	t.Parallel()
	v := newTestVerifier(t, testTime)
	for i := 0; i < maxCachedKeys+10; i++ {
		v.signingKey("s", strconv.Itoa(i), "r")
	}
	if v.nkeys > maxCachedKeys {
		t.Errorf("cached keys: got %d, want at most %d", v.nkeys, maxCachedKeys)
	}
	a, b := v.signingKey("s1", "20260102", "us-east-1"), v.signingKey("s2", "20260102", "us-east-1")
	if a.ipad == b.ipad {
		t.Error("different secrets share a cached key")
	}
}

func TestNewVerifierOptions(t *testing.T) {
	t.Parallel()
	if _, err := NewVerifier(Options{}); err == nil {
		t.Error("NewVerifier without credentials: got nil error")
	}
	if _, err := NewVerifier(Options{Credentials: StaticCredentials{}, MaxSkew: -1}); err == nil {
		t.Error("NewVerifier with negative skew: got nil error")
	}
	// No region list: any region is served.
	v, err := NewVerifier(Options{Credentials: StaticCredentials{testAKID: testSecret}, Clock: clock.NewFake(testTime)})
	if err != nil {
		t.Fatal(err)
	}
	r := clientReq{method: "GET", path: "/"}.build(t)
	sign(t, r, "", signOpts{region: "ap-south-2"})
	if id, err := v.Verify(r, nil); err != nil || id.Region != "ap-south-2" {
		t.Errorf("Verify: got %+v, %v; want region ap-south-2", id, err)
	}
}

func BenchmarkVerify(b *testing.B) {
	v := newTestVerifier(b, testTime)
	body := `{"RecoveryPointArn":"arn:aws:backup:us-east-1:111122223333:recovery-point:1EB3B5E7","SourceBackupVaultName":"src","DestinationBackupVaultArn":"arn:aws:backup:us-west-2:111122223333:backup-vault:dst","IamRoleArn":"arn:aws:iam::111122223333:role/r","IdempotencyToken":"c0ffee00-0000-4000-8000-000000000002"}`
	cases := []struct {
		name string
		req  clientReq
	}{
		{"PUT-json", clientReq{method: "PUT", path: "/copy-jobs", body: body, headers: map[string]string{"Content-Type": "application/json"}}},
		{"GET-query", clientReq{method: "GET", path: "/copy-jobs/", query: "state=COMPLETED&maxResults=50&destinationVaultArn=arn%3Aaws%3Abackup%3Aus-west-2%3A111122223333%3Abackup-vault%3Adst"}},
	}
	for _, c := range cases {
		r := c.req.build(b)
		sign(b, r, c.req.body, signOpts{})
		sr, raw := toServer(b, r)
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := v.Verify(sr, raw); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(c.name+"-parallel", func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := v.Verify(sr, raw); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

func TestClaimedIdentity(t *testing.T) {
	t.Parallel()
	r := clientReq{method: "GET", path: "/"}.build(t)
	sign(t, r, "", signOpts{secret: "anything", region: "eu-central-1"})
	id, ok := ClaimedIdentity(r)
	if !ok || id.Region != "eu-central-1" || id.AccessKeyID != testAKID || !id.SigningTime.Equal(testTime) {
		t.Errorf("ClaimedIdentity(header): got %+v, %v", id, ok)
	}
	p := clientReq{method: "GET", path: "/"}.build(t)
	u := presign(t, p, "", signOpts{region: "us-west-2"})
	pr, _ := http.NewRequest("GET", u, nil)
	id, ok = ClaimedIdentity(pr)
	if !ok || id.Region != "us-west-2" || !id.Presigned {
		t.Errorf("ClaimedIdentity(presigned): got %+v, %v", id, ok)
	}
	if id, ok := ClaimedIdentity(httptestRequest(t, "GET", "/")); ok {
		t.Errorf("ClaimedIdentity(unsigned): got %+v, true; want false", id)
	}
}
