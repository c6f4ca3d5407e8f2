package backupapi

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"reflect"
	"strings"
	"testing"
)

// goldenFile holds requests serialized by botocore's own serializer; see
// testdata/botocore/gen_golden.py for how to regenerate it.
const goldenFile = "testdata/botocore/requests.json"

type goldenRequest struct {
	Method  string            `json:"method"`
	Path    string            `json:"path"`
	Query   string            `json:"query"`
	Headers map[string]string `json:"headers"`
	Body    string            `json:"body"`
}

type goldenCase struct {
	Operation string          `json:"operation"`
	Params    json.RawMessage `json:"params"`
	Request   goldenRequest   `json:"request"`
}

func loadGolden(t testing.TB) []goldenCase {
	t.Helper()
	data, err := os.ReadFile(goldenFile)
	if err != nil {
		t.Fatal(err)
	}
	var g struct {
		Botocore string       `json:"botocore"`
		Cases    []goldenCase `json:"cases"`
	}
	if err := json.Unmarshal(data, &g); err != nil {
		t.Fatal(err)
	}
	if len(g.Cases) == 0 {
		t.Fatal("no golden cases")
	}
	return g.Cases
}

// httpRequest rebuilds the request botocore would send. botocore keeps a
// template query literal ("?delete") in the path; merge it into the query.
func (g goldenRequest) httpRequest() *http.Request {
	path, lit, _ := strings.Cut(g.Path, "?")
	query := g.Query
	if lit != "" {
		if query != "" {
			query = lit + "&" + query
		} else {
			query = lit
		}
	}
	target := path
	if query != "" {
		target += "?" + query
	}
	req := httptest.NewRequest(g.Method, target, strings.NewReader(g.Body))
	for k, v := range g.Headers {
		req.Header.Set(k, v)
	}
	return req
}

// normalize round-trips v through JSON into generic values.
func normalize(t *testing.T, v any) any {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out any
	if err := json.Unmarshal(data, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestBotocoreGolden replays requests serialized by botocore through the
// router and checks that the service sees exactly the parameters botocore
// was given (timestamps compared as RFC 3339 strings, via encoding/json).
func TestBotocoreGolden(t *testing.T) {
	for _, c := range loadGolden(t) {
		t.Run(c.Operation, func(t *testing.T) {
			svc := &captureService{}
			h := NewHandler(svc, HandlerOptions{})
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, c.Request.httpRequest())
			if rec.Code != http.StatusTeapot {
				t.Fatalf("got status %d body %s, want the capture service's 418", rec.Code, rec.Body)
			}
			if svc.op != c.Operation {
				t.Fatalf("got operation %s, want %s", svc.op, c.Operation)
			}
			var want any
			if err := json.Unmarshal(c.Params, &want); err != nil {
				t.Fatal(err)
			}
			if got := normalize(t, svc.in); !reflect.DeepEqual(got, want) {
				gj, _ := json.Marshal(got)
				t.Errorf("decoded input differs\n got %s\nwant %s", gj, c.Params)
			}
		})
	}
}
