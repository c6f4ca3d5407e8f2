package backupapi

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
)

var updateFuzzSeeds = flag.Bool("update-fuzz-seeds", false, "rewrite testdata/fuzz/FuzzHandler from the golden and generated requests")

// panicCounter is a slog.Handler that counts records about panics.
type panicCounter struct{ n atomic.Int64 }

func (p *panicCounter) Enabled(context.Context, slog.Level) bool { return true }
func (p *panicCounter) Handle(_ context.Context, r slog.Record) error {
	if strings.Contains(r.Message, "panic") {
		p.n.Add(1)
	}
	return nil
}
func (p *panicCounter) WithAttrs([]slog.Attr) slog.Handler { return p }
func (p *panicCounter) WithGroup(string) slog.Handler      { return p }

// fuzzService answers some operations with canned outputs (exercising the
// encoders) and the rest with 501; it never panics itself.
type fuzzService struct{ *recorder }

func (fuzzService) StopBackupJob(context.Context, *StopBackupJobInput) (*StopBackupJobOutput, error) {
	return &StopBackupJobOutput{}, nil
}

// FuzzHandler feeds arbitrary method, path, query and body to the handler:
// it must never panic (the handler's recover would log it), and every
// response must have a valid status, a request ID and, when it has a body,
// well-formed JSON; errors must carry their type in header and body.
func FuzzHandler(f *testing.F) {
	for _, c := range fuzzSeeds(f) {
		f.Add(c.method, c.path, c.query, []byte(c.body))
	}
	pc := &panicCounter{}
	h := NewHandler(fuzzService{newRecorder()}, HandlerOptions{Logger: slog.New(pc), MaxBodyBytes: 1 << 16})
	f.Fuzz(func(t *testing.T, method, path, query string, body []byte) {
		target := path
		if query != "" {
			target += "?" + query
		}
		u, err := url.ParseRequestURI(target)
		if err != nil {
			return // not something net/http would hand us
		}
		req := &http.Request{Method: method, URL: u, Header: http.Header{}, Body: http.NoBody, ContentLength: int64(len(body))}
		if len(body) > 0 {
			req.Body = readCloser{bytes.NewReader(body)}
		}
		req = req.WithContext(context.Background())
		before := pc.n.Load()
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if pc.n.Load() != before {
			t.Fatalf("%s %s: the handler recovered a panic", method, target)
		}
		if rec.Code < 200 || rec.Code > 599 {
			t.Fatalf("got status %d", rec.Code)
		}
		if rec.Header().Get("X-Amzn-Requestid") == "" {
			t.Fatalf("got no x-amzn-RequestId")
		}
		if rec.Body.Len() > 0 && !json.Valid(rec.Body.Bytes()) {
			t.Fatalf("got a body that is not JSON: %q", rec.Body.String())
		}
		if rec.Code >= 300 {
			code := rec.Header().Get("X-Amzn-Errortype")
			var eb struct {
				Type string `json:"__type"`
			}
			if code == "" || json.Unmarshal(rec.Body.Bytes(), &eb) != nil || eb.Type != code {
				t.Fatalf("got error %d with type header %q and body %s", rec.Code, code, rec.Body)
			}
			if rec.Code == 500 && code != "InternalFailure" {
				t.Fatalf("got 500 %s", code)
			}
		}
	})
}

type readCloser struct{ *bytes.Reader }

func (readCloser) Close() error { return nil }

type fuzzSeed struct{ method, path, query, body string }

const fuzzSeedDir = "testdata/fuzz/FuzzHandler"

// fuzzSeeds returns the hand-made hostile seeds; with -update-fuzz-seeds it
// also rewrites the seed corpus directory from botocore golden requests,
// generated validation cases and these seeds.
func fuzzSeeds(f *testing.F) []fuzzSeed {
	hostile := []fuzzSeed{
		{"PUT", "/backup-vaults/v1", "", `{"BackupVaultTags":{"a":1}}`},
		{"PUT", "/backup-vaults/v1", "", `{"BackupVaultTags":`},
		{"PUT", "/backup-vaults/v1", "", `[1,2,3]`},
		{"PUT", "/backup-vaults/v1", "", `{"CreatorRequestId":"\ud800\udc00\ud800 \u00"}`},
		{"PUT", "/backup-vaults/v1", "", "{\"CreatorRequestId\":\"\xff\xfe\"}"},
		{"PUT", "/backup-vaults/v1", "", `{"x":` + strings.Repeat("[", 2000) + strings.Repeat("]", 2000) + `}`},
		{"PUT", "/backup-vaults/v1", "", `{} {}`},
		{"PUT", "/backup-vaults/v1", "", `null`},
		{"PUT", "/backup-jobs", "", `{"BackupVaultName":"v1","ResourceArn":"a","IamRoleArn":"r","StartWindowMinutes":1e400}`},
		{"PUT", "/backup-jobs", "", `{"BackupVaultName":"v1","ResourceArn":"a","IamRoleArn":"r","StartWindowMinutes":-0.5}`},
		{"PUT", "/backup-jobs", "", `{"BackupVaultName":"v1","ResourceArn":"a","IamRoleArn":"r","StartWindowMinutes":99999999999999999999}`},
		{"PUT", "/legal-holds/", "", `{"Title":"t","Description":"d","RecoveryPointSelection":{"DateRange":{"FromDate":"2024-01-01T00:00:00Z","ToDate":1e300}}}`},
		{"POST", "/legal-holds/", "", `{"Title":"t","Description":"d","RecoveryPointSelection":{"DateRange":{"FromDate":-1.5,"ToDate":"bogus"}}}`},
		{"GET", "/backup-jobs/", "createdAfter=yesterday&maxResults=ten", ""},
		{"GET", "/backup-jobs/", "maxResults=99999999999", ""},
		{"GET", "/backup-jobs/", "nextToken=%zz", ""},
		{"GET", "/backup-vaults/", "shared=maybe", ""},
		{"GET", "/backup-vaults/v1/recovery-points/arn%3Aaws%3", "", ""},
		{"GET", "/backup-vaults//recovery-points/x", "", ""},
		{"DELETE", "/copy-jobs/", "", ""},
		{"BREW", "/", "", ""},
		{"POST", "/backup-jobs/job-1", "", ""},
		{"POST", "/backup-vaults/v1/mpaApprovalTeam", "", ""},
		{"GET", "/tags/arn%3Aaws%3Abackup%3Aus-east-1%3A123456789012%3Abackup-vault%3Av1/", "", ""},
		{"GET", "/backup-vaults/v1/recovery-points/arn%3Aaws%3Aec2%3Aus-east-1%3A%3Asnapshot%2Fsnap-1", "", ""},
	}
	if !*updateFuzzSeeds {
		return hostile
	}
	seeds := append([]fuzzSeed(nil), hostile...)
	for _, c := range loadGolden(f) {
		path, lit, _ := strings.Cut(c.Request.Path, "?")
		q := c.Request.Query
		if lit != "" {
			q = strings.TrimPrefix(lit+"&"+q, "&")
			q = strings.TrimSuffix(q, "&")
		}
		seeds = append(seeds, fuzzSeed{c.Request.Method, path, q, c.Request.Body})
	}
	seen := map[string]bool{}
	for _, c := range generatedValidationCases {
		if c.labels != nil || seen[c.op+c.name[:3]] || len(seeds) > 90 {
			continue
		}
		seen[c.op+c.name[:3]] = true
		seeds = append(seeds, fuzzSeed{c.method, c.path, c.query, c.body})
	}
	if err := os.RemoveAll(fuzzSeedDir); err != nil {
		f.Fatal(err)
	}
	if err := os.MkdirAll(fuzzSeedDir, 0o755); err != nil {
		f.Fatal(err)
	}
	for i, s := range seeds {
		data := fmt.Sprintf("go test fuzz v1\nstring(%s)\nstring(%s)\nstring(%s)\n[]byte(%s)\n",
			strconv.Quote(s.method), strconv.Quote(s.path), strconv.Quote(s.query), strconv.Quote(s.body))
		if err := os.WriteFile(filepath.Join(fuzzSeedDir, fmt.Sprintf("seed-%03d", i)), []byte(data), 0o644); err != nil {
			f.Fatal(err)
		}
	}
	return nil // the corpus directory now holds everything
}
