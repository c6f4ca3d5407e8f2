package backupapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func serve(h http.Handler, method, target, body string) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, target, strings.NewReader(body)))
	return rec
}

func errorMessage(t *testing.T, rec *httptest.ResponseRecorder) string {
	t.Helper()
	var b struct{ Message string }
	if err := json.Unmarshal(rec.Body.Bytes(), &b); err != nil {
		t.Fatalf("error body %q: %v", rec.Body, err)
	}
	return b.Message
}

// TestRequestDecoding covers body and query edge cases through the router.
func TestRequestDecoding(t *testing.T) {
	tests := []struct {
		name, method, target, body string
		wantCode                   string // "" = reaches the service
		wantMsg                    string
	}{
		{"empty body", "PUT", "/backup-vaults/v1", "", "", ""},
		{"blank body", "PUT", "/backup-vaults/v1", " \n\t", "", ""},
		{"null body", "PUT", "/backup-vaults/v1", "null", "", ""},
		{"unknown members ignored", "PUT", "/backup-vaults/v1", `{"Nope":{"deep":[1,{"x":null}]},"CreatorRequestId":"c"}`, "", ""},
		{"null member is absent", "PUT", "/backup-vaults/v1", `{"CreatorRequestId":null,"BackupVaultTags":null}`, "", ""},
		{"body ignored on GET", "GET", "/backup-vaults/v1", `{not json`, "", ""},
		{"malformed JSON", "PUT", "/backup-vaults/v1", `{"CreatorRequestId":`, "SerializationException", "CreatorRequestId: expected string, got end of input"},
		{"trailing data", "PUT", "/backup-vaults/v1", `{} x`, "SerializationException", "unexpected data"},
		{"not an object", "PUT", "/backup-vaults/v1", `["a"]`, "SerializationException", "expected object"},
		{"wrong type", "PUT", "/backup-vaults/v1", `{"CreatorRequestId":5}`, "SerializationException", "CreatorRequestId: expected string, got number"},
		{"wrong map value type", "PUT", "/backup-vaults/v1", `{"BackupVaultTags":{"k":true}}`, "SerializationException", `BackupVaultTags[*]: expected string`},
		{"nested wrong type", "PUT", "/backup/plans/", `{"BackupPlan":{"BackupPlanName":"p","Rules":[{"RuleName":"r","TargetBackupVaultName":"v","StartWindowMinutes":"soon"}]}}`,
			"SerializationException", "BackupPlan.Rules[0].StartWindowMinutes: expected number"},
		{"fractional long", "PUT", "/backup-jobs", `{"BackupVaultName":"v1","ResourceArn":"a","IamRoleArn":"r","StartWindowMinutes":60.5}`, "SerializationException", "StartWindowMinutes"},
		{"body timestamp as ISO string", "POST", "/legal-holds/", `{"Title":"t","Description":"d","RecoveryPointSelection":{"DateRange":{"FromDate":"2024-01-01T00:00:00Z","ToDate":1704067200.5}}}`, "", ""},
		{"bad body timestamp", "POST", "/legal-holds/", `{"Title":"t","Description":"d","RecoveryPointSelection":{"DateRange":{"FromDate":"soon","ToDate":1}}}`, "SerializationException", "RecoveryPointSelection.DateRange.FromDate"},
		{"bad query integer", "GET", "/backup-jobs/?maxResults=ten", "", "SerializationException", "MaxResults"},
		{"bad query timestamp", "GET", "/backup-jobs/?createdAfter=yesterday", "", "SerializationException", "ByCreatedAfter"},
		{"bad query boolean", "GET", "/backup-vaults/?shared=yes", "", "SerializationException", "ByShared"},
		{"query timestamp with microseconds", "GET", "/backup-jobs/?createdAfter=2024-02-01T10%3A20%3A30.123456Z", "", "", ""},
		{"unknown query keys ignored", "GET", "/backup-jobs/?foo=bar&maxResults=5", "", "", ""},
		{"query enum checked", "GET", "/backup-jobs/?state=running", "", "InvalidParameterValueException", `Invalid value "running" for ByState: must be one of CREATED, PENDING`},
		{"sensitive value not echoed", "PUT", "/restore-jobs", `{"RecoveryPointArn":"a","Metadata":{"secret-key":"secret-value"},"IamRoleArn":"r","ResourceType":"!"}`, "InvalidParameterValueException", "for ResourceType"},
		{"unknown operation", "GET", "/no/such/thing", "", "UnknownOperationException", "GET /no/such/thing"},
		{"wrong method", "PATCH", "/backup-vaults/v1", "", "MethodNotAllowedException", "PATCH"},
	}
	svc := &captureService{}
	h := NewHandler(svc, HandlerOptions{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := serve(h, tt.method, tt.target, tt.body)
			code := rec.Header().Get("X-Amzn-Errortype")
			if tt.wantCode == "" {
				if rec.Code != http.StatusTeapot {
					t.Fatalf("got %d %s %s, want the request to reach the service", rec.Code, code, rec.Body)
				}
				return
			}
			if code != tt.wantCode {
				t.Fatalf("got %d %s %s, want %s", rec.Code, code, rec.Body, tt.wantCode)
			}
			if msg := errorMessage(t, rec); !strings.Contains(msg, tt.wantMsg) {
				t.Errorf("got message %q, want it to contain %q", msg, tt.wantMsg)
			}
			if strings.Contains(rec.Body.String(), "secret") {
				t.Errorf("got body %s, which echoes a sensitive value", rec.Body)
			}
		})
	}
}

func TestDecodedValues(t *testing.T) {
	svc := &captureService{}
	h := NewHandler(svc, HandlerOptions{})
	serve(h, "POST", "/legal-holds/", `{"Title":"t","Description":"d","RecoveryPointSelection":{"DateRange":{"FromDate":"2024-01-01T00:00:00Z","ToDate":1704067200.5}}}`)
	in := svc.in.(*CreateLegalHoldInput)
	dr := in.RecoveryPointSelection.DateRange
	if !dr.FromDate.Equal(time.Unix(1704067200, 0)) || !dr.ToDate.Equal(time.Unix(1704067200, 5e8)) {
		t.Errorf("got dates %v %v", dr.FromDate, dr.ToDate)
	}
	serve(h, "GET", "/backup-jobs/?maxResults=5&maxResults=7&state=RUNNING", "")
	lin := svc.in.(*ListBackupJobsInput)
	if *lin.MaxResults != 5 || lin.ByState != BackupJobStateRunning {
		t.Errorf("got MaxResults %d ByState %q, want the first value 5 and RUNNING", *lin.MaxResults, lin.ByState)
	}
	serve(h, "PUT", "/backup-vaults/v1", `{"BackupVaultTags":{}}`)
	if cin := svc.in.(*CreateBackupVaultInput); cin.BackupVaultTags == nil || len(cin.BackupVaultTags) != 0 {
		t.Errorf("got tags %#v, want an empty non-nil map for {}", cin.BackupVaultTags)
	}
}

func TestOperations(t *testing.T) {
	ops := Operations()
	if len(ops) != 108 {
		t.Fatalf("got %d operations, want 108", len(ops))
	}
	byName := map[string]OperationInfo{}
	for i, op := range ops {
		byName[op.Name] = op
		if i > 0 && ops[i-1].Name >= op.Name {
			t.Errorf("operations not sorted at %s", op.Name)
		}
	}
	checks := []struct {
		name  string
		check func(OperationInfo) bool
	}{
		{"PutRestoreValidationResult", func(o OperationInfo) bool { return o.SuccessCode == 204 && o.Method == "PUT" }},
		{"CreateRestoreTestingPlan", func(o OperationInfo) bool { return o.SuccessCode == 201 }},
		{"StartCopyJob", func(o OperationInfo) bool {
			return o.RequestURI == "/copy-jobs" && len(o.IdempotencyTokens) == 1 && o.IdempotencyTokens[0] == "IdempotencyToken" && len(o.Errors) == 6
		}},
		{"ListCopyJobs", func(o OperationInfo) bool {
			return o.Paginator != nil && o.Paginator.ResultKey == "CopyJobs" && o.Paginator.LimitKey == "MaxResults"
		}},
		{"DeleteBackupVault", func(o OperationInfo) bool { return o.Output == "DeleteBackupVaultOutput" && o.Paginator == nil }},
		{"GetSupportedResourceTypes", func(o OperationInfo) bool { return o.Input == "GetSupportedResourceTypesInput" }},
		{"DisassociateBackupVaultMpaApprovalTeam", func(o OperationInfo) bool { return strings.HasSuffix(o.RequestURI, "?delete") }},
	}
	for _, c := range checks {
		if op, ok := byName[c.name]; !ok || !c.check(op) {
			t.Errorf("%s: got %+v", c.name, op)
		}
	}
	req := httptest.NewRequest("GET", "/backup-vaults/v1/recovery-points/arn%3Aaws%3Aec2%3Aus-east-1%3A%3Asnapshot%2Fsnap-1/restore-metadata", nil)
	if name, ok := LookupOperation(req); !ok || name != "GetRecoveryPointRestoreMetadata" {
		t.Errorf("got LookupOperation %q %v", name, ok)
	}
	if !IsNotImplemented(notImplemented("X")) || IsNotImplemented(NewConflict("c")) {
		t.Error("IsNotImplemented misclassifies")
	}
}

// TestConcurrentRequests checks that pooled per-request buffers never leak
// between concurrent requests.
func TestConcurrentRequests(t *testing.T) {
	h := NewHandler(newRecorder(), HandlerOptions{})
	errs := make(chan error, 8)
	for g := 0; g < 8; g++ {
		go func() {
			for i := 0; i < 200; i++ {
				name := "vault-" + string(rune('a'+g)) + "-" + strings.Repeat("x", i%40)
				rec := serve(h, "PUT", "/backup-vaults/"+name, `{"BackupVaultTags":{"k":"`+strings.Repeat("v", i)+`"}}`)
				var out struct{ BackupVaultName string }
				if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil || out.BackupVaultName != name {
					errs <- fmt.Errorf("got %d %s, want name %s (err %v)", rec.Code, rec.Body, name, err)
					return
				}
			}
			errs <- nil
		}()
	}
	for g := 0; g < 8; g++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}
