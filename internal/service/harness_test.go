package service_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/backup"
	"github.com/aws/smithy-go"

	"github.com/coffer/coffer/internal/api/backupapi"
	"github.com/coffer/coffer/internal/api/sigv4"
	"github.com/coffer/coffer/internal/clock"
	"github.com/coffer/coffer/internal/meta/sqlite"
	"github.com/coffer/coffer/internal/server"
	"github.com/coffer/coffer/internal/service"
)

const (
	testAccount = "111122223333"
	testKey     = "AKIATESTTESTTESTTEST"
	testSecret  = "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"
)

var testRegions = []string{"us-east-1", "us-west-2"}

// env is a running Coffer: the real server (SigV4 on, real clock) in
// front of the generated handler and the Service (fake clock) over SQLite
// in a temp dir, listening on 127.0.0.1.
type env struct {
	url   string
	clock *clock.Fake
	store *sqlite.Store
	svc   *service.Service
}

func newEnv(t *testing.T) *env { return newEnvWith(t, nil) }

// newEnvWith is newEnv with Deps adjusted by tune (nil: as is).
func newEnvWith(t *testing.T, tune func(*service.Deps)) *env {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	store, err := sqlite.Open(ctx, t.TempDir(), sqlite.Options{})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	fake := clock.NewFake(time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC))
	deps := service.Deps{
		Store:         store,
		Clock:         fake,
		AccountID:     testAccount,
		Regions:       testRegions,
		DefaultRegion: "us-east-1",
		CallerRegion: func(ctx context.Context) (string, bool) {
			id, ok := server.IdentityFrom(ctx)
			return id.Region, ok
		},
	}
	if tune != nil {
		tune(&deps)
	}
	svc, err := service.New(deps)
	if err != nil {
		t.Fatalf("service.New: %v", err)
	}
	v, err := sigv4.NewVerifier(sigv4.Options{Credentials: sigv4.StaticCredentials{testKey: testSecret}, Regions: testRegions})
	if err != nil {
		t.Fatal(err)
	}
	h := backupapi.NewHandler(svc, backupapi.HandlerOptions{
		RequestID: func(r *http.Request) string { return server.RequestID(r.Context()) },
	})
	srv := server.New(server.Options{Handler: h, Verifier: v})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
		if err := store.Close(); err != nil {
			t.Errorf("store.Close: %v", err)
		}
	})
	return &env{url: "http://" + ln.Addr().String(), clock: fake, store: store, svc: svc}
}

// client returns an aws-sdk-go-v2 Backup client for region, signing with
// key and secret.
func (e *env) clientWith(region, key, secret string) *backup.Client {
	return backup.New(backup.Options{
		Region:       region,
		BaseEndpoint: aws.String(e.url),
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: key, SecretAccessKey: secret}, nil
		}),
		RetryMaxAttempts: 1,
	})
}

func (e *env) client(region string) *backup.Client { return e.clientWith(region, testKey, testSecret) }

// raw sends a SigV4-signed request with a raw body (for requests the SDK
// would refuse client-side) and returns status, error type and body.
func (e *env) raw(t *testing.T, method, path, body string) (int, string, string) {
	t.Helper()
	req, err := http.NewRequest(method, e.url+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	sum := sha256.Sum256([]byte(body))
	creds := aws.Credentials{AccessKeyID: testKey, SecretAccessKey: testSecret}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, hex.EncodeToString(sum[:]), "backup", "us-east-1", time.Now()); err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("X-Amzn-Errortype"), string(bytes.TrimSpace(b))
}

// wantAPIError checks that err is the AWS error code (any SDK error type)
// and that its message contains every fragment.
func wantAPIError(t *testing.T, err error, code string, fragments ...string) {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("got error %v, want API error %s", err, code)
	}
	if ae.ErrorCode() != code {
		t.Fatalf("got error code %s (%s), want %s", ae.ErrorCode(), ae.ErrorMessage(), code)
	}
	for _, f := range fragments {
		if !strings.Contains(ae.ErrorMessage(), f) {
			t.Errorf("%s message %q does not mention %q", code, ae.ErrorMessage(), f)
		}
	}
}

// as asserts that err is a *T (a typed SDK exception) and returns it.
func as[T error](t *testing.T, err error) T {
	t.Helper()
	var target T
	if !errors.As(err, &target) {
		t.Fatalf("got error %T %v, want %T", err, err, target)
	}
	return target
}
