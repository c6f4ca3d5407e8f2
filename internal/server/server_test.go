package server

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/backup"
	"github.com/aws/smithy-go"

	"github.com/coffer/coffer/internal/api/sigv4"
	"github.com/coffer/coffer/internal/clock"
)

const (
	testAKID   = "AKIAIOSFODNN7EXAMPLE"
	testSecret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
)

func newVerifier(t testing.TB, c clock.Clock) *sigv4.Verifier {
	t.Helper()
	v, err := sigv4.NewVerifier(sigv4.Options{
		Credentials: sigv4.StaticCredentials{testAKID: testSecret},
		Clock:       c,
		Regions:     []string{"us-east-1", "us-west-2"},
	})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// echo is a stub API handler: it reports what it saw as JSON.
type echoed struct {
	RequestID string `json:"request_id"`
	Body      string `json:"body"`
	AKID      string `json:"akid"`
	Region    string `json:"region"`
	HasID     bool   `json:"has_id"`
}

var echo = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	id, ok := IdentityFrom(r.Context())
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(echoed{RequestID: RequestID(r.Context()), Body: string(body), AKID: id.AccessKeyID, Region: id.Region, HasID: ok})
})

func hashHex(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// signed builds a request to url signed with the aws-sdk-go-v2 signer.
func signed(t testing.TB, method, url string, body []byte, secret, region string, at time.Time) *http.Request {
	t.Helper()
	r, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if len(body) > 0 {
		r.Header.Set("Content-Type", "application/json")
	}
	creds := aws.Credentials{AccessKeyID: testAKID, SecretAccessKey: secret}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, r, hashHex(body), "backup", region, at); err != nil {
		t.Fatal(err)
	}
	return r
}

type wireError struct {
	Status    int
	ErrorType string
	RequestID string
	Type      string `json:"__type"`
	Code      string
	Message   string
}

func do(t testing.TB, r *http.Request) (*http.Response, []byte) {
	t.Helper()
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

func decodeError(t testing.TB, resp *http.Response, body []byte) wireError {
	t.Helper()
	var e wireError
	if err := json.Unmarshal(body, &e); err != nil {
		t.Fatalf("error body %q: %v", body, err)
	}
	e.Status = resp.StatusCode
	e.ErrorType = resp.Header.Get("X-Amzn-Errortype")
	e.RequestID = resp.Header.Get("X-Amzn-Requestid")
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("error Content-Type: got %q, want application/json", ct)
	}
	return e
}

var uuidRe = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestAuthDisabledPassesThrough(t *testing.T) {
	t.Parallel()
	ts := httptest.NewServer(New(Options{Handler: echo}).Handler())
	defer ts.Close()

	req, _ := http.NewRequest("PUT", ts.URL+"/backup-vaults/v", strings.NewReader(`{"a":1}`))
	resp, body := do(t, req)
	var got echoed
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || got.Body != `{"a":1}` || got.HasID {
		t.Errorf("anonymous request: got %d %+v, want 200, body passed, no identity", resp.StatusCode, got)
	}
	rid := resp.Header.Get("X-Amzn-Requestid")
	if !uuidRe.MatchString(rid) || got.RequestID != rid {
		t.Errorf("request id: header %q, handler saw %q; want the same UUIDv4", rid, got.RequestID)
	}

	// A signed request (even with a wrong secret) gets its claimed region.
	resp, body = do(t, signed(t, "GET", ts.URL+"/backup-vaults/", nil, "wrong", "us-west-2", time.Now()))
	_ = json.Unmarshal(body, &got)
	if resp.StatusCode != 200 || !got.HasID || got.Region != "us-west-2" || got.AKID != testAKID {
		t.Errorf("claimed identity: got %d %+v, want us-west-2", resp.StatusCode, got)
	}
}

func TestAuthEnabled(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	var calls atomic.Int32
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { calls.Add(1); echo(w, r) })
	ts := httptest.NewServer(New(Options{Handler: handler, Verifier: newVerifier(t, clock.NewFake(now))}).Handler())
	defer ts.Close()

	t.Run("signed request", func(t *testing.T) {
		body := []byte(`{"BackupVaultTags":{"k":"v"}}`)
		resp, rb := do(t, signed(t, "PUT", ts.URL+"/backup-vaults/my-vault?x=a%20b", body, testSecret, "us-west-2", now))
		var got echoed
		_ = json.Unmarshal(rb, &got)
		if resp.StatusCode != 200 || got.Body != string(body) || got.Region != "us-west-2" || got.AKID != testAKID {
			t.Errorf("got %d %+v (%s), want 200 with identity in us-west-2", resp.StatusCode, got, rb)
		}
	})

	tests := []struct {
		name       string
		req        func() *http.Request
		wantStatus int
		wantCode   string
		wantMsg    string
	}{
		{"no auth", func() *http.Request {
			r, _ := http.NewRequest("GET", ts.URL+"/backup-vaults/", nil)
			return r
		}, 403, "MissingAuthenticationTokenException", "Missing Authentication Token"},
		{"no auth with body", func() *http.Request {
			r, _ := http.NewRequest("PUT", ts.URL+"/backup-vaults/v", strings.NewReader("{}"))
			return r
		}, 403, "MissingAuthenticationTokenException", "Missing Authentication Token"},
		{"wrong secret", func() *http.Request {
			return signed(t, "GET", ts.URL+"/backup-vaults/", nil, "wrong", "us-east-1", now)
		}, 403, "InvalidSignatureException", "The request signature we calculated does not match"},
		{"tampered body", func() *http.Request {
			r := signed(t, "PUT", ts.URL+"/backup-vaults/v", []byte(`{"a":1}`), testSecret, "us-east-1", now)
			r.Body = io.NopCloser(strings.NewReader(`{"a":2}`))
			return r
		}, 403, "InvalidSignatureException", "does not match"},
		{"unknown key", func() *http.Request {
			r := signed(t, "GET", ts.URL+"/", nil, testSecret, "us-east-1", now)
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), testAKID, "AKIAUNKNOWN", 1))
			return r
		}, 403, "UnrecognizedClientException", "The security token included in the request is invalid."},
		{"malformed", func() *http.Request {
			r, _ := http.NewRequest("GET", ts.URL+"/", nil)
			r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=x, SignedHeaders=host;x-amz-date, Signature=ab")
			return r
		}, 400, "IncompleteSignatureException", "Credential must have exactly 5"},
		{"expired", func() *http.Request {
			return signed(t, "GET", ts.URL+"/", nil, testSecret, "us-east-1", now.Add(-20*time.Minute))
		}, 403, "InvalidSignatureException", "Signature expired: 20260102T024405Z is now earlier than 20260102T024905Z (20260102T030405Z - 15 min.)"},
		{"region not served", func() *http.Request {
			return signed(t, "GET", ts.URL+"/", nil, testSecret, "ap-south-1", now)
		}, 403, "InvalidSignatureException", "'ap-south-1'. This endpoint serves: us-east-1, us-west-2."},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := calls.Load()
			resp, body := do(t, tc.req())
			e := decodeError(t, resp, body)
			if e.Status != tc.wantStatus || e.ErrorType != tc.wantCode || e.Type != tc.wantCode || e.Code != tc.wantCode {
				t.Errorf("got status %d, x-amzn-ErrorType %q, __type %q, Code %q; want %d %s", e.Status, e.ErrorType, e.Type, e.Code, tc.wantStatus, tc.wantCode)
			}
			if !strings.Contains(e.Message, tc.wantMsg) {
				t.Errorf("message: got %q, want it to contain %q", e.Message, tc.wantMsg)
			}
			if !uuidRe.MatchString(e.RequestID) {
				t.Errorf("x-amzn-RequestId: got %q, want a UUID", e.RequestID)
			}
			if calls.Load() != before {
				t.Error("handler was called for a rejected request")
			}
		})
	}
}

// TestSDKEndToEnd drives the server with the real aws-sdk-go-v2 Backup
// client: signing, request ID and typed errors.
func TestSDKEndToEnd(t *testing.T) {
	t.Parallel()
	var gotRegion atomic.Value
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != "GET" || strings.TrimSuffix(r.URL.Path, "/") != "/backup-vaults" {
			http.Error(w, "unexpected "+r.Method+" "+r.URL.Path, 404)
			return
		}
		id, _ := IdentityFrom(r.Context())
		gotRegion.Store(id.Region)
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"BackupVaultList":[]}`)
	})
	ts := httptest.NewServer(New(Options{Handler: handler, Verifier: newVerifier(t, clock.Real{})}).Handler())
	defer ts.Close()

	client := func(secret, region string) *backup.Client {
		return backup.New(backup.Options{
			Region:       region,
			BaseEndpoint: aws.String(ts.URL),
			Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
				return aws.Credentials{AccessKeyID: testAKID, SecretAccessKey: secret}, nil
			}),
			RetryMaxAttempts: 1,
		})
	}
	ctx := context.Background()
	out, err := client(testSecret, "us-west-2").ListBackupVaults(ctx, &backup.ListBackupVaultsInput{MaxResults: aws.Int32(10)})
	if err != nil {
		t.Fatalf("ListBackupVaults: %v", err)
	}
	if out.BackupVaultList == nil || len(out.BackupVaultList) != 0 {
		t.Errorf("BackupVaultList: got %v, want empty", out.BackupVaultList)
	}
	if r, _ := gotRegion.Load().(string); r != "us-west-2" {
		t.Errorf("handler region: got %q, want us-west-2", r)
	}

	_, err = client("wrong-secret", "us-east-1").ListBackupVaults(ctx, &backup.ListBackupVaultsInput{})
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) || apiErr.ErrorCode() != "InvalidSignatureException" {
		t.Fatalf("wrong secret: got %v, want InvalidSignatureException", err)
	}
	var re interface{ ServiceRequestID() string }
	if !errors.As(err, &re) || !uuidRe.MatchString(re.ServiceRequestID()) {
		t.Errorf("request id on error: got %v", err)
	}
}

func TestPanicRecovery(t *testing.T) {
	t.Parallel()
	var logs syncBuffer
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/panic":
			w.Header().Set("X-Partial", "1")
			panic("boom")
		case "/panic-after-write":
			w.WriteHeader(200)
			_, _ = io.WriteString(w, "partial")
			if f, ok := w.(http.Flusher); ok {
				f.Flush()
			}
			panic("late boom")
		}
		echo(w, r)
	})
	ts := httptest.NewServer(New(Options{Handler: handler, Logger: slog.New(slog.NewTextHandler(&logs, nil))}).Handler())
	defer ts.Close()

	req, _ := http.NewRequest("GET", ts.URL+"/panic", nil)
	resp, body := do(t, req)
	e := decodeError(t, resp, body)
	if e.Status != 500 || e.Type != "InternalFailure" || e.ErrorType != "InternalFailure" || !uuidRe.MatchString(e.RequestID) {
		t.Errorf("panic: got %+v, want 500 InternalFailure with request id", e)
	}
	if resp.Header.Get("X-Partial") != "" {
		t.Error("headers set before the panic leaked into the error response")
	}
	if s := logs.String(); !strings.Contains(s, "handler panic") || !strings.Contains(s, "boom") || !strings.Contains(s, "request_id="+e.RequestID) {
		t.Errorf("log: got %q, want the panic logged with its request id", s)
	}

	// After the response started, the connection is aborted.
	req, _ = http.NewRequest("GET", ts.URL+"/panic-after-write", nil)
	if resp, err := http.DefaultClient.Do(req); err == nil {
		_, err = io.ReadAll(resp.Body)
		resp.Body.Close()
		if err == nil {
			t.Error("panic after write: got a complete response, want an aborted one")
		}
	}

	// The server keeps serving.
	req, _ = http.NewRequest("GET", ts.URL+"/ok", nil)
	if resp, _ := do(t, req); resp.StatusCode != 200 {
		t.Errorf("after panics: got %d, want 200", resp.StatusCode)
	}
}

func TestBodyLimit(t *testing.T) {
	t.Parallel()
	const max = 1024
	ts := httptest.NewServer(New(Options{Handler: echo, MaxBodyBytes: max}).Handler())
	defer ts.Close()
	tests := []struct {
		name    string
		size    int
		chunked bool
		want    int
	}{
		{"at the limit", max, false, 200},
		{"over the limit", max + 1, false, 413},
		{"chunked at the limit", max, true, 200},
		{"chunked over the limit", max + 1, true, 413},
		{"far over the limit", 50 * max, false, 413},
		{"empty", 0, false, 200},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			payload := bytes.Repeat([]byte("x"), tc.size)
			var body io.Reader = bytes.NewReader(payload)
			if tc.chunked {
				body = io.MultiReader(bytes.NewReader(payload)) // unknown length: chunked
			}
			req, _ := http.NewRequest("PUT", ts.URL+"/x", body)
			resp, rb := do(t, req)
			if resp.StatusCode != tc.want {
				t.Fatalf("status: got %d (%s), want %d", resp.StatusCode, rb, tc.want)
			}
			if tc.want == 413 {
				e := decodeError(t, resp, rb)
				if e.Type != "RequestEntityTooLargeException" || !strings.Contains(e.Message, "1024 bytes") {
					t.Errorf("413 body: got %+v", e)
				}
				return
			}
			var got echoed
			_ = json.Unmarshal(rb, &got)
			if len(got.Body) != tc.size {
				t.Errorf("handler body: got %d bytes, want %d", len(got.Body), tc.size)
			}
		})
	}
}

func TestAccessLog(t *testing.T) {
	t.Parallel()
	var logs syncBuffer
	fake := clock.NewFake(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	ids := 0
	s := New(Options{
		Handler:      echo,
		Logger:       slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Clock:        fake,
		NewRequestID: func() string { ids++; return fmt.Sprintf("req-%d", ids) },
	})
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, httptest.NewRequest("POST", "/tags/arn%3Ax", strings.NewReader("{}")))
	if got := rec.Header().Get("X-Amzn-Requestid"); got != "req-1" {
		t.Errorf("request id: got %q, want req-1", got)
	}
	var rec1 map[string]any
	if err := json.Unmarshal([]byte(strings.TrimSpace(logs.String())), &rec1); err != nil {
		t.Fatalf("log %q: %v", logs.String(), err)
	}
	want := map[string]any{"msg": "request", "level": "DEBUG", "method": "POST", "path": "/tags/arn%3Ax", "status": float64(200), "request_id": "req-1", "bytes_in": float64(2)}
	for k, v := range want {
		if rec1[k] != v {
			t.Errorf("log field %s: got %v, want %v", k, rec1[k], v)
		}
	}

	// At info level the access log is silent; a 5xx is still logged.
	logs.Reset()
	s = New(Options{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(503) }),
		Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
	s.Handler().ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	s = New(Options{Handler: echo, Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
	s.Handler().ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/quiet", nil))
	if out := logs.String(); !strings.Contains(out, `"status":503`) || !strings.Contains(out, `"level":"WARN"`) || strings.Contains(out, "/quiet") {
		t.Errorf("info-level logs: got %q, want only the 503 at WARN", out)
	}
}

func TestRequestIDsUnique(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for i := 0; i < 1000; i++ {
		id := NewRequestID()
		if !uuidRe.MatchString(id) || seen[id] {
			t.Fatalf("NewRequestID: got %q (seen before: %v)", id, seen[id])
		}
		seen[id] = true
	}
	ctx := WithIdentity(WithRequestID(context.Background(), "r1"), sigv4.Identity{Region: "us-west-2"})
	if id, ok := IdentityFrom(ctx); !ok || id.Region != "us-west-2" || RequestID(ctx) != "r1" {
		t.Errorf("With*: got %q %+v %v", RequestID(ctx), id, ok)
	}
	if _, ok := IdentityFrom(context.Background()); ok || RequestID(context.Background()) != "" {
		t.Error("empty context: got an identity or request id")
	}
}

func TestNilHandler(t *testing.T) {
	t.Parallel()
	rec := httptest.NewRecorder()
	New(Options{}).Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if rec.Code != 500 || rec.Header().Get("X-Amzn-Errortype") != "InternalFailure" {
		t.Errorf("nil handler: got %d %q", rec.Code, rec.Header().Get("X-Amzn-Errortype"))
	}
}

func listen(t testing.TB) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

func TestGracefulShutdown(t *testing.T) {
	t.Parallel()
	started, release := make(chan struct{}), make(chan struct{})
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			close(started)
			<-release
		}
		_, _ = io.WriteString(w, "done")
	})
	s := New(Options{Handler: handler, ShutdownTimeout: 10 * time.Second})
	ln := listen(t)
	url := "http://" + ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- s.Serve(ctx, ln) }()

	slow := make(chan string, 1)
	go func() {
		resp, err := http.Get(url + "/slow")
		if err != nil {
			slow <- "error: " + err.Error()
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		slow <- string(b)
	}()
	<-started
	cancel()
	// Serve waits for the in-flight request.
	select {
	case err := <-served:
		t.Fatalf("Serve returned %v with a request in flight", err)
	case <-time.After(100 * time.Millisecond):
	}
	// New connections are refused once shutdown began.
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", ln.Addr().String(), time.Second)
		if err != nil {
			break
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Fatal("listener still accepting after shutdown began")
		}
		time.Sleep(10 * time.Millisecond)
	}
	close(release)
	if got := <-slow; got != "done" {
		t.Errorf("in-flight request: got %q, want done", got)
	}
	if err := <-served; err != nil {
		t.Errorf("Serve: got %v, want nil", err)
	}
}

func TestShutdownTimeout(t *testing.T) {
	t.Parallel()
	started := make(chan struct{})
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-r.Context().Done() // until the connection is closed
	})
	s := New(Options{Handler: handler, ShutdownTimeout: 200 * time.Millisecond})
	ln := listen(t)
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- s.Serve(ctx, ln) }()
	clientErr := make(chan error, 1)
	go func() {
		resp, err := http.Get("http://" + ln.Addr().String() + "/")
		if err == nil {
			resp.Body.Close()
		}
		clientErr <- err
	}()
	<-started
	cancel()
	select {
	case err := <-served:
		if err == nil || !strings.Contains(err.Error(), "did not finish within 200ms") {
			t.Errorf("Serve: got %v, want a drain timeout error", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return after the shutdown timeout")
	}
	if err := <-clientErr; err == nil {
		t.Error("client: got a response, want the connection closed")
	}
}

func TestListenAndServe(t *testing.T) {
	t.Parallel()
	s := New(Options{Handler: echo})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.ListenAndServe(ctx, "127.0.0.1:0"); err != nil {
		t.Errorf("ListenAndServe with a cancelled context: got %v, want nil", err)
	}
	ln := listen(t)
	defer ln.Close()
	if err := s.ListenAndServe(context.Background(), ln.Addr().String()); err == nil {
		t.Error("ListenAndServe on a busy port: got nil error")
	}
}

// TestAWSCLI runs the AWS CLI v1 (botocore) against the server.
func TestAWSCLI(t *testing.T) {
	t.Parallel()
	awsPath, err := exec.LookPath("aws")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("aws CLI not on PATH (required when CI=true)")
		}
		t.Skip("aws CLI not on PATH")
	}
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"BackupVaultList":[]}`)
	})
	s := New(Options{Handler: handler, Verifier: newVerifier(t, clock.Real{})})
	ln := listen(t)
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- s.Serve(ctx, ln) }()
	defer func() {
		cancel()
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
	}()

	run := func(secret string) (string, string, int) {
		cmd := exec.Command(awsPath, "--endpoint-url", "http://"+ln.Addr().String(), "backup", "list-backup-vaults", "--output", "json")
		for _, kv := range os.Environ() {
			if !strings.HasPrefix(kv, "AWS_") {
				cmd.Env = append(cmd.Env, kv)
			}
		}
		cmd.Env = append(cmd.Env,
			"AWS_ACCESS_KEY_ID="+testAKID, "AWS_SECRET_ACCESS_KEY="+secret, "AWS_DEFAULT_REGION=us-east-1",
			"AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null", "AWS_MAX_ATTEMPTS=1")
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		code := 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return stdout.String(), stderr.String(), code
	}
	var wg sync.WaitGroup
	var okOut, okErr, badErr string
	var okCode, badCode int
	wg.Add(2)
	go func() { defer wg.Done(); okOut, okErr, okCode = run(testSecret) }()
	go func() { defer wg.Done(); _, badErr, badCode = run("wrong-secret") }()
	wg.Wait()
	if okCode != 0 || !strings.Contains(okOut, `"BackupVaultList": []`) {
		t.Errorf("aws backup list-backup-vaults: exit %d, stdout %q, stderr %q; want 0 and an empty list", okCode, okOut, okErr)
	}
	if badCode != 255 || !strings.Contains(badErr, "InvalidSignatureException") {
		t.Errorf("wrong secret: exit %d, stderr %q; want 255 and InvalidSignatureException", badCode, badErr)
	}
}

// syncBuffer is a bytes.Buffer safe for concurrent log writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func (s *syncBuffer) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.b.Reset()
}

func BenchmarkServeSigned(b *testing.B) {
	now := time.Now()
	s := New(Options{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, `{"BackupVaultList":[]}`)
	}), Verifier: newVerifier(b, clock.NewFake(now)), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	h := s.Handler()
	body := []byte(`{"BackupVaultName":"v","Lifecycle":{"DeleteAfterDays":35}}`)
	proto := signed(b, "PUT", "http://127.0.0.1:8765/backup-vaults/v", body, testSecret, "us-east-1", now)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			r := proto.Clone(context.Background())
			r.Body = io.NopCloser(bytes.NewReader(body))
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != 200 {
				b.Errorf("status %d: %s", w.Code, w.Body)
				return
			}
		}
	})
}

// BenchmarkServeSignedHTTP replays one signed request over real loopback
// HTTP/1.1 keep-alive connections (client and server share the CPUs).
func BenchmarkServeSignedHTTP(b *testing.B) {
	now := time.Now()
	s := New(Options{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"BackupVaultList":[]}`)
	}), Verifier: newVerifier(b, clock.NewFake(now)), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	ts := httptest.NewServer(s.Handler())
	defer ts.Close()
	proto := signed(b, "GET", ts.URL+"/backup-vaults/?maxResults=10", nil, testSecret, "us-east-1", now)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	b.SetParallelism(8)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			resp, err := client.Do(proto.Clone(context.Background()))
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
}
