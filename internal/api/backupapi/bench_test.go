package backupapi

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
)

// nopWriter is a ResponseWriter that discards everything, so benchmarks
// measure the handler and not the recorder.
type nopWriter struct{ h http.Header }

func (w *nopWriter) Header() http.Header         { return w.h }
func (w *nopWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *nopWriter) WriteHeader(int)             {}

func BenchmarkHandler(b *testing.B) {
	h := NewHandler(newRecorder(), HandlerOptions{RequestID: func(*http.Request) string { return "rid" }})
	cases := []struct {
		name, method, target, body string
	}{
		{"CreateBackupVault", "PUT", "/backup-vaults/my-vault", `{"BackupVaultTags":{"team":"storage","env":"prod"},"CreatorRequestId":"3f1b1c9e-5b7a-4e0e-9f43-0c1e2f7c1a11","EncryptionKeyArn":"arn:aws:kms:us-east-1:123456789012:key/abc"}`},
		{"DescribeRecoveryPoint", "GET", "/backup-vaults/v1/recovery-points/arn%3Aaws%3Aec2%3Aus-east-1%3A%3Asnapshot%2Fsnap-0123456789abcdef0", ""},
		{"ListBackupJobs", "GET", "/backup-jobs/?state=RUNNING&createdAfter=2024-01-01T00%3A00%3A00Z&maxResults=25&nextToken=abc", ""},
		{"StartCopyJob", "PUT", "/copy-jobs", `{"RecoveryPointArn":"arn:aws:ec2:us-east-1::snapshot/snap-1","SourceBackupVaultName":"v1","DestinationBackupVaultArn":"arn:aws:backup:eu-west-1:123456789012:backup-vault:v2","IamRoleArn":"arn:aws:iam::123456789012:role/r","IdempotencyToken":"t","Lifecycle":{"DeleteAfterDays":100}}`},
		{"Validation400", "PUT", "/backup-vaults/a", `{}`},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			u, err := url.ParseRequestURI(c.target)
			if err != nil {
				b.Fatal(err)
			}
			body := []byte(c.body)
			rd := bytes.NewReader(body)
			req := &http.Request{Method: c.method, URL: u, Header: http.Header{}, Body: io.NopCloser(rd), ContentLength: int64(len(body))}
			req = req.WithContext(b.Context())
			w := &nopWriter{h: http.Header{}}
			// check once that the request is served as expected
			rec := httptest.NewRecorder()
			rd.Reset(body)
			h.ServeHTTP(rec, req)
			if c.name != "Validation400" && rec.Code != http.StatusOK {
				b.Fatalf("got %d %s", rec.Code, rec.Body)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				rd.Reset(body)
				clear(w.h)
				h.ServeHTTP(w, req)
			}
		})
	}
}
