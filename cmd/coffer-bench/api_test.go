package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// TestAPIRunSignsAndMeasures drives a stub server that checks each request
// carries a fresh SigV4 Authorization header and fails every tenth.
func TestAPIRunSignsAndMeasures(t *testing.T) {
	var n, unsigned atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256 Credential=AKIATEST/") || r.Header.Get("X-Amz-Date") == "" {
			unsigned.Add(1)
		}
		if n.Add(1)%10 == 0 {
			http.Error(w, `{"__type":"Boom"}`, http.StatusInternalServerError)
			return
		}
		w.Write([]byte(`{}`))
	}))
	defer srv.Close()
	target := apiTarget{name: "stub", endpoint: srv.URL, region: "us-east-1", creds: aws.Credentials{AccessKeyID: "AKIATEST", SecretAccessKey: "secret"}}
	op := apiOp{name: "CreateBackupVault", make: func(w, n int) apiRequest {
		return apiRequest{method: "PUT", path: "/backup-vaults/v", body: []byte(`{}`)}
	}}
	r := apiRun(context.Background(), target, op, 2, 50*time.Millisecond, 300*time.Millisecond)
	if r.requests == 0 || r.errors == 0 || r.errors > r.requests/5 {
		t.Fatalf("got %d requests, %d errors; want some of both, about one in ten failing", r.requests, r.errors)
	}
	if unsigned.Load() != 0 {
		t.Errorf("%d requests were not SigV4-signed", unsigned.Load())
	}
	if r.p50 <= 0 || r.p99 < r.p50 || r.max < r.p99 || r.rate() <= 0 || !strings.Contains(r.firstErr, "HTTP 500") {
		t.Errorf("bad result %+v", r)
	}

	var out bytes.Buffer
	moto := r
	moto.target, moto.requests = "moto", r.requests/40
	coffer := r
	coffer.target = "coffer"
	apiReport(&out, apiBenchFlags{workers: 2, duration: time.Second, vaults: 3}, []apiResult{coffer, moto})
	for _, want := range []string{"| CreateBackupVault | coffer |", "| CreateBackupVault | moto |", "Coffer / moto", "errors, first:"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
}
