package awsproto

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

var testRoutes = []Route{
	{"GET", "/backup-vaults/"},                                        // 0
	{"PUT", "/backup-vaults/{backupVaultName}"},                       // 1
	{"GET", "/backup-vaults/{backupVaultName}/recovery-points/{arn}"}, // 2
	{"GET", "/backup-vaults/{backupVaultName}/access-policy"},         // 3
	{"GET", "/backup-vaults/special/access-policy"},                   // 4: literal beats label
	{"PUT", "/backup-vaults/{name}/team"},                             // 5
	{"POST", "/backup-vaults/{name}/team?delete"},                     // 6
	{"PUT", "/copy-jobs"},                                             // 7
	{"GET", "/copy-jobs/"},                                            // 8
	{"GET", "/copy-jobs/{copyJobId}"},                                 // 9
	{"GET", "/audit/report-jobs/{reportJobId}"},                       // 10
	{"POST", "/audit/report-jobs/{reportPlanName}"},                   // 11
	{"GET", "/x/{a}/y"},                                               // 12: backtracking target
	{"GET", "/x/lit/z"},                                               // 13
}

func TestRouter(t *testing.T) {
	rt, err := NewRouter(testRoutes)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		method, path, query string
		want                int // route, or -404 / -405
		labels              []string
	}{
		{"GET", "/backup-vaults/", "", 0, nil},
		{"GET", "/backup-vaults", "", 0, nil},
		{"PUT", "/backup-vaults/v1", "", 1, []string{"v1"}},
		{"PUT", "/backup-vaults/v1/", "", 1, []string{"v1"}},
		{"GET", "/backup-vaults/v1/recovery-points/arn%3Aaws%3Aec2%3Aus-east-1%3A%3Asnapshot%2Fsnap-1", "", 2,
			[]string{"v1", "arn%3Aaws%3Aec2%3Aus-east-1%3A%3Asnapshot%2Fsnap-1"}},
		{"GET", "/backup-vaults/v1/recovery-points/arn:aws:ec2:us-east-1::snapshot/snap-1", "", -404, nil},
		{"GET", "/backup-vaults/v1/access-policy", "", 3, []string{"v1"}},
		{"GET", "/backup-vaults/special/access-policy", "", 4, nil},
		{"PUT", "/backup-vaults/v1/team", "", 5, []string{"v1"}},
		{"POST", "/backup-vaults/v1/team", "delete", 6, []string{"v1"}},
		{"POST", "/backup-vaults/v1/team", "x=1&delete=", 6, []string{"v1"}},
		{"POST", "/backup-vaults/v1/team", "", -405, nil},
		{"PUT", "/copy-jobs", "", 7, nil},
		{"PUT", "/copy-jobs/", "", 7, nil},
		{"GET", "/copy-jobs", "", 8, nil},
		{"GET", "/copy-jobs/c1", "", 9, []string{"c1"}},
		{"DELETE", "/copy-jobs/", "", -405, nil},
		{"GET", "/copy-jobs//", "", -404, nil},
		{"GET", "/backup-vaults//recovery-points/x", "", -404, nil},
		{"GET", "/audit/report-jobs/j1", "", 10, []string{"j1"}},
		{"POST", "/audit/report-jobs/p1", "", 11, []string{"p1"}},
		{"GET", "/x/lit/y", "", 12, []string{"lit"}},
		{"GET", "/x/lit/z", "", 13, nil},
		{"GET", "/nope", "", -404, nil},
		{"GET", "/", "", -404, nil},
		{"GET", "", "", -404, nil},
	}
	for _, tt := range tests {
		var m Match
		status := rt.Match(tt.method, tt.path, tt.query, &m)
		got := m.Route
		if status != 0 {
			got = -status
		}
		if got != tt.want {
			t.Errorf("%s %s?%s: got %d, want %d", tt.method, tt.path, tt.query, got, tt.want)
			continue
		}
		if status == 0 && strings.Join(m.Labels[:m.NLabels], "|") != strings.Join(tt.labels, "|") {
			t.Errorf("%s %s: got labels %q, want %q", tt.method, tt.path, m.Labels[:m.NLabels], tt.labels)
		}
	}
	if got := rt.Allowed("/copy-jobs/"); strings.Join(got, ",") != "GET,PUT" {
		t.Errorf("got Allowed %v, want GET,PUT", got)
	}
}

func TestNewRouterRejects(t *testing.T) {
	for _, routes := range [][]Route{
		{{"GET", "/a/{b+}"}},
		{{"GET", "/a/x{b}"}},
		{{"GET", "a"}},
		{{"GET", "/a/{x}"}, {"GET", "/a/{y}/"}},
		{{"GET", "/a?x&y"}},
	} {
		if _, err := NewRouter(routes); err == nil {
			t.Errorf("NewRouter(%v): got no error", routes)
		}
	}
}

func TestNextQueryPair(t *testing.T) {
	var got []string
	for q := "a=1&&b=x+y%2Fz&c&d=%E2%9C%93"; q != ""; {
		k, v, rest, err := NextQueryPair(q)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, k+"="+v)
		q = rest
	}
	if want := "a=1,b=x y/z,c=,d=✓"; strings.Join(got, ",") != want {
		t.Errorf("got %q, want %q", strings.Join(got, ","), want)
	}
	if _, _, _, err := NextQueryPair("a=%zz"); err == nil {
		t.Error("got no error for a bad escape")
	}
}

// testSvc is the service type of the handler tests.
type testSvc struct{ calls int }

func testOps() ([]Operation[*testSvc], *Router) {
	ops := []Operation[*testSvc]{
		{Name: "Echo", Route: Route{"PUT", "/echo/{name}"}, Serve: func(ctx context.Context, s *testSvc, rq *Request, rs *Response) error {
			s.calls++
			name, err := rq.Label(0, "Name")
			if err != nil {
				return err
			}
			ci, _ := CallInfoFrom(ctx)
			rs.Status = 201
			rs.Body = append(rs.Body, `{"Name":`...)
			rs.Body = AppendString(rs.Body, *name)
			rs.Body = append(rs.Body, `,"Op":`...)
			rs.Body = AppendString(rs.Body, ci.Operation+"/"+ci.RequestID)
			rs.Body = append(rs.Body, `,"Len":`...)
			rs.Body = AppendInt(rs.Body, int64(len(rq.Body)))
			rs.Body = append(rs.Body, '}')
			return nil
		}},
		{Name: "Empty", Route: Route{"DELETE", "/echo/{name}"}, Serve: func(context.Context, *testSvc, *Request, *Response) error { return nil }},
		{Name: "NoContent", Route: Route{"POST", "/echo/{name}"}, Serve: func(_ context.Context, _ *testSvc, _ *Request, rs *Response) error {
			rs.Status = 204
			return nil
		}},
		{Name: "Fail", Route: Route{"GET", "/fail/{kind}"}, Serve: func(_ context.Context, _ *testSvc, rq *Request, _ *Response) error {
			switch rq.Labels[0] {
			case "plain":
				return errors.New("secret detail")
			case "panic":
				panic("boom")
			case "typed":
				return &ProtocolError{Code: "ThrottlingException", Status: 400, Message: "slow down"}
			}
			return nil
		}},
	}
	routes := make([]Route, len(ops))
	for i, op := range ops {
		routes[i] = op.Route
	}
	return ops, MustRouter(routes)
}

func TestHandler(t *testing.T) {
	ops, rt := testOps()
	svc := &testSvc{}
	h := NewHandler(svc, ops, rt, HandlerOptions{MaxBodyBytes: 10})
	uuidRE := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	tests := []struct {
		method, target, body string
		chunked              bool
		wantStatus           int
		wantCode             string
		wantBody             string
	}{
		{"PUT", "/echo/a%2Fb", "12345", false, 201, "", `"Name":"a/b"`},
		{"PUT", "/echo/x", "12345678901", false, 413, "RequestEntityTooLargeException", ""},
		{"PUT", "/echo/x", "12345678901", true, 413, "RequestEntityTooLargeException", ""},
		{"PUT", "/echo/x", "1234567890", true, 201, "", `"Len":10`},
		{"DELETE", "/echo/x", "", false, 200, "", ""},
		{"POST", "/echo/x", "", false, 204, "", ""},
		{"GET", "/echo/x", "", false, 405, "MethodNotAllowedException", ""},
		{"GET", "/nowhere", "", false, 404, "UnknownOperationException", ""},
		{"GET", "/fail/plain", "", false, 500, "InternalFailure", `"Message":"internal error"`},
		{"GET", "/fail/panic", "", false, 500, "InternalFailure", ""},
		{"GET", "/fail/typed", "", false, 400, "ThrottlingException", `"Message":"slow down"`},
	}
	for _, tt := range tests {
		var body io.Reader = strings.NewReader(tt.body)
		if tt.chunked {
			body = io.MultiReader(strings.NewReader(tt.body)) // hides the length
		}
		req := httptest.NewRequest(tt.method, tt.target, body)
		if tt.chunked {
			req.ContentLength = -1
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		name := tt.method + " " + tt.target
		if rec.Code != tt.wantStatus {
			t.Errorf("%s: got status %d (%s), want %d", name, rec.Code, rec.Body, tt.wantStatus)
		}
		if got := rec.Header().Get("X-Amzn-Errortype"); got != tt.wantCode {
			t.Errorf("%s: got error type %q, want %q", name, got, tt.wantCode)
		}
		if !uuidRE.MatchString(rec.Header().Get("X-Amzn-Requestid")) {
			t.Errorf("%s: got request ID %q, want a v4 UUID", name, rec.Header().Get("X-Amzn-Requestid"))
		}
		if rec.Header().Get("Content-Type") != "application/json" {
			t.Errorf("%s: got Content-Type %q", name, rec.Header().Get("Content-Type"))
		}
		if !strings.Contains(rec.Body.String(), tt.wantBody) {
			t.Errorf("%s: got body %s, want it to contain %s", name, rec.Body, tt.wantBody)
		}
		if strings.Contains(rec.Body.String(), "secret") {
			t.Errorf("%s: body leaks the internal error: %s", name, rec.Body)
		}
		if rec.Body.Len() > 0 && !json.Valid(rec.Body.Bytes()) {
			t.Errorf("%s: body is not JSON: %s", name, rec.Body)
		}
		if tt.wantStatus == 405 && rec.Header().Get("Allow") != "DELETE, POST, PUT" {
			t.Errorf("%s: got Allow %q", name, rec.Header().Get("Allow"))
		}
	}
}

func TestHandlerCallInfoAndRequestID(t *testing.T) {
	ops, rt := testOps()
	h := NewHandler(&testSvc{}, ops, rt, HandlerOptions{RequestID: func(r *http.Request) string { return r.Header.Get("X-Test-Id") }})
	req := httptest.NewRequest("PUT", "/echo/n", nil)
	req.Header.Set("X-Test-Id", "rid-7")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if !strings.Contains(rec.Body.String(), `"Op":"Echo/rid-7"`) || rec.Header().Get("X-Amzn-Requestid") != "rid-7" {
		t.Errorf("got %s %v, want CallInfo Echo/rid-7", rec.Body, rec.Header())
	}
	if name, ok := h.Lookup(req); !ok || name != "Echo" {
		t.Errorf("got Lookup %q %v, want Echo", name, ok)
	}
}

func TestWriteErrorExtras(t *testing.T) {
	rec := httptest.NewRecorder()
	WriteError(rec, "r1", "InvalidRequestException", 400, "m", map[string]string{"Code": "ERROR_9101", "Context": "1", "Type": "x", "__type": "y", "Message": "z"})
	var got map[string]string
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"Code": "ERROR_9101", "Message": "m", "Context": "1", "Type": "Client", "__type": "InvalidRequestException"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("got %s=%q, want %q (body %s)", k, got[k], v, rec.Body)
		}
	}
	if !strings.HasSuffix(rec.Body.String(), `"__type":"InvalidRequestException"}`) {
		t.Errorf("got body %s, want __type last", rec.Body)
	}
	if strings.Count(rec.Body.String(), `"Code"`) != 1 {
		t.Errorf("got body %s, want one Code", rec.Body)
	}
}
