package s3

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/coffer/coffer/internal/blob"
	"github.com/coffer/coffer/internal/blob/s3/s3test"
	"github.com/minio/minio-go/v7"
)

func TestOptionsValidate(t *testing.T) {
	ok := Options{Endpoint: "127.0.0.1:9000", Bucket: "bkt"}
	tests := []struct {
		name string
		edit func(*Options)
		ok   bool
	}{
		{"minimal", func(*Options) {}, true},
		{"url http", func(o *Options) { o.Endpoint = "http://h:1" }, true},
		{"url https slash", func(o *Options) { o.Endpoint = "https://h/" }, true},
		{"no endpoint", func(o *Options) { o.Endpoint = "" }, false},
		{"no bucket", func(o *Options) { o.Bucket = "" }, false},
		{"short bucket", func(o *Options) { o.Bucket = "b" }, false},
		{"bad bucket", func(o *Options) { o.Bucket = "Under_score" }, false},
		{"ftp", func(o *Options) { o.Endpoint = "ftp://h" }, false},
		{"path", func(o *Options) { o.Endpoint = "http://h/x" }, false},
		{"host with path", func(o *Options) { o.Endpoint = "h/x" }, false},
		{"prefix", func(o *Options) { o.Prefix = "/a/b/" }, true},
		{"bad prefix", func(o *Options) { o.Prefix = "a/../b" }, false},
		{"key without secret", func(o *Options) { o.AccessKey = "ak" }, false},
		{"keys", func(o *Options) { o.AccessKey, o.SecretKey = "ak", "sk" }, true},
		{"retries", func(o *Options) { o.MaxRetries = -1 }, false},
		{"timeout", func(o *Options) { o.ResponseTimeout = -1 }, false},
	}
	for _, tt := range tests {
		o := ok
		tt.edit(&o)
		if err := o.Validate(); (err == nil) != tt.ok {
			t.Errorf("%s: Validate() = %v, want ok=%v", tt.name, err, tt.ok)
		}
	}
}

func TestSecretRedacted(t *testing.T) {
	o := Options{Endpoint: "h:1", Bucket: "b", AccessKey: "ak", SecretKey: "hunter2", SessionToken: "tok3n"}
	for _, f := range []string{"%v", "%+v", "%#v", "%s"} {
		got := fmt.Sprintf(f, o)
		if strings.Contains(got, "hunter2") || strings.Contains(got, "tok3n") {
			t.Errorf("Sprintf(%q, opts) = %s: the secret leaks", f, got)
		}
	}
}

func TestTranslate(t *testing.T) {
	s := &Store{bucket: "b", location: "s3://b/"}
	ctx := context.Background()
	resp := func(status int, code string) error {
		return minio.ErrorResponse{StatusCode: status, Code: code, Message: "m"}
	}
	tests := []struct {
		err      error
		sentinel error
		text     string
	}{
		{resp(404, "NoSuchKey"), blob.ErrNotFound, ""},
		{resp(404, ""), blob.ErrNotFound, ""},
		{resp(404, "NoSuchBucket"), nil, "does not exist"},
		{resp(412, "PreconditionFailed"), blob.ErrExists, ""},
		{resp(507, "XMinioStorageFull"), blob.ErrNoSpace, ""},
		{resp(403, "QuotaExceeded"), blob.ErrNoSpace, ""},
		{resp(500, "InternalError"), blob.ErrUnavailable, ""},
		{resp(503, "SlowDown"), blob.ErrUnavailable, ""},
		{resp(502, "502 Bad Gateway"), blob.ErrUnavailable, ""},
		{resp(429, "TooManyRequests"), blob.ErrUnavailable, ""},
		{resp(400, "RequestTimeout"), blob.ErrUnavailable, ""},
		{resp(409, "ConditionalRequestConflict"), blob.ErrUnavailable, ""},
		{resp(403, "AccessDenied"), nil, "credentials"},
		{resp(403, "SignatureDoesNotMatch"), nil, "credentials"},
		{resp(400, "InvalidArgument"), nil, "InvalidArgument"},
		{&url.Error{Op: "Put", URL: "http://x", Err: errors.New("connection refused")}, blob.ErrUnavailable, ""},
		{io.ErrUnexpectedEOF, blob.ErrUnavailable, ""},
		{errors.New("odd"), nil, "odd"},
	}
	sentinels := []error{blob.ErrNotFound, blob.ErrExists, blob.ErrNoSpace, blob.ErrUnavailable, blob.ErrInvalidName}
	for _, tt := range tests {
		got := s.translate(ctx, "put", "x", tt.err)
		if !errors.Is(got, tt.err) && errors.As(tt.err, new(minio.ErrorResponse)) == false {
			t.Errorf("translate(%v) = %v: the original error is not in the chain", tt.err, got)
		}
		for _, sen := range sentinels {
			if is, want := errors.Is(got, sen), sen == tt.sentinel; is != want {
				t.Errorf("translate(%v) = %v: errors.Is(%v) = %v, want %v", tt.err, got, sen, is, want)
			}
		}
		if !strings.Contains(got.Error(), tt.text) {
			t.Errorf("translate(%v) = %q, want it to mention %q", tt.err, got, tt.text)
		}
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	got := s.translate(cctx, "put", "x", &url.Error{Op: "Put", URL: "http://x", Err: errors.New("boom")})
	if !errors.Is(got, context.Canceled) || errors.Is(got, blob.ErrUnavailable) {
		t.Errorf("translate with a cancelled context = %v, want context.Canceled and not ErrUnavailable", got)
	}
}

// TestPrefixIsolation checks that stores under different prefixes of one
// bucket do not see each other and that foreign keys are ignored.
func TestPrefixIsolation(t *testing.T) {
	srv := s3test.StartServer(t)
	ctx := context.Background()
	a := newStore(t, srv, srv.Bucket, "tenant/a")
	b := newStore(t, srv, srv.Bucket, "tenant/ab")
	root := newStore(t, srv, srv.Bucket, "")
	for _, s := range []*Store{a, b} {
		if err := s.Put(ctx, "obj", []byte(s.prefix)); err != nil {
			t.Fatal(err)
		}
	}
	// A foreign key under a's prefix, with a name that is not valid.
	if err := root.putObject(ctx, "tenant/a/has space", []byte("x"), false); err != nil {
		t.Fatal(err)
	}
	for _, s := range []*Store{a, b} {
		var got []string
		if err := s.List(ctx, "", func(i blob.Info) error { got = append(got, i.Name); return nil }); err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 || got[0] != "obj" {
			t.Errorf("List in %s: got %v, want [obj]", s.Location(), got)
		}
		data, err := blob.ReadAll(ctx, s, "obj")
		if err != nil || string(data) != s.prefix {
			t.Errorf("ReadAll(obj) in %s: got %q, %v, want %q", s.Location(), data, err, s.prefix)
		}
	}
	n := 0
	if err := root.List(ctx, "tenant/", func(blob.Info) error { n++; return nil }); err != nil {
		t.Fatal(err)
	}
	if n != 2 {
		t.Errorf("List(tenant/) from the bucket root: got %d objects, want 2", n)
	}
	if !strings.Contains(a.Location(), srv.Bucket+"/tenant/a") {
		t.Errorf("Location: got %q, want it to name the bucket and prefix", a.Location())
	}
}

func TestBucketCreation(t *testing.T) {
	srv := s3test.StartServer(t)
	ctx := context.Background()
	opts := Options{
		Endpoint: srv.URL, Bucket: "not-yet-there", Region: srv.Region,
		AccessKey: srv.AccessKey, SecretKey: Secret(srv.SecretKey),
	}
	_, err := New(ctx, opts)
	if err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("New on a missing bucket: got %v, want an error saying the bucket does not exist", err)
	}
	if errors.Is(err, blob.ErrNotFound) {
		t.Errorf("New on a missing bucket: got %v, must not be ErrNotFound", err)
	}
	opts.CreateBucket = true
	s, err := New(ctx, opts)
	if err != nil {
		t.Fatalf("New with CreateBucket: %v", err)
	}
	if err := s.Put(ctx, "x", []byte("x")); err != nil {
		t.Errorf("Put into the created bucket: %v", err)
	}
	if _, err := New(ctx, opts); err != nil {
		t.Errorf("New with CreateBucket on an existing bucket: %v", err)
	}
	opts.SecretKey = "wrong"
	if _, err := New(ctx, opts); err == nil || !strings.Contains(err.Error(), "credentials") {
		t.Errorf("New with a wrong secret: got %v, want a credentials error", err)
	}
}

// fakeS3 is a tiny S3 server for behaviour versitygw does not show:
// ignoring If-None-Match or Range, failing with a chosen error, truncating
// bodies.
type fakeS3 struct {
	mu           sync.Mutex
	objects      map[string][]byte
	honourIfNone bool
	honourRange  bool
	failStatus   int    // answer every request with this status
	failCode     string // and this S3 error code
	truncate     bool   // send half the body of a GET, then drop the connection
}

func (f *fakeS3) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failStatus != 0 {
		w.WriteHeader(f.failStatus)
		fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>%s</Code><Message>injected</Message></Error>`, f.failCode)
		return
	}
	key := r.URL.Path
	switch r.Method {
	case http.MethodPut:
		if _, ok := f.objects[key]; ok && f.honourIfNone && r.Header.Get("If-None-Match") == "*" {
			w.WriteHeader(http.StatusPreconditionFailed)
			fmt.Fprint(w, `<Error><Code>PreconditionFailed</Code><Message>exists</Message></Error>`)
			return
		}
		data, _ := io.ReadAll(r.Body)
		if r.Header.Get("X-Amz-Decoded-Content-Length") != "" {
			data = decodeChunked(data)
		}
		f.objects[key] = data
		w.Header().Set("ETag", `"0123456789abcdef0123456789abcdef"`)
	case http.MethodHead, http.MethodGet:
		data, ok := f.objects[key]
		if !ok {
			w.WriteHeader(http.StatusNotFound)
			if r.Method == http.MethodGet {
				fmt.Fprint(w, `<Error><Code>NoSuchKey</Code><Message>no</Message></Error>`)
			}
			return
		}
		w.Header().Set("ETag", `"0123456789abcdef0123456789abcdef"`)
		w.Header().Set("Last-Modified", "Mon, 02 Jan 2006 15:04:05 GMT")
		w.Header().Set("Content-Type", "application/octet-stream")
		if r.Method == http.MethodHead {
			w.Header().Set("Content-Length", fmt.Sprint(len(data)))
			return
		}
		if rg := r.Header.Get("Range"); rg != "" && f.honourRange {
			var from, to int
			if _, err := fmt.Sscanf(rg, "bytes=%d-%d", &from, &to); err != nil {
				to = len(data) - 1
			}
			to = min(to, len(data)-1)
			w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", from, to, len(data)))
			w.WriteHeader(http.StatusPartialContent)
			w.Write(data[from : to+1])
			return
		}
		w.Header().Set("Content-Length", fmt.Sprint(len(data)))
		if f.truncate {
			w.Write(data[:len(data)/2])
			panic(http.ErrAbortHandler) // drop the connection
		}
		w.Write(data)
	case http.MethodDelete:
		delete(f.objects, key)
		w.WriteHeader(http.StatusNoContent)
	default:
		w.WriteHeader(http.StatusNotImplemented)
	}
}

// decodeChunked strips the aws-chunked framing of a streaming-signature
// upload: "<hex size>;chunk-signature=...\r\n<data>\r\n", repeated.
func decodeChunked(b []byte) []byte {
	var out []byte
	for len(b) > 0 {
		line, rest, ok := bytes.Cut(b, []byte("\r\n"))
		if !ok {
			break
		}
		sizeHex, _, _ := bytes.Cut(line, []byte(";"))
		var n int
		if _, err := fmt.Sscanf(string(sizeHex), "%x", &n); err != nil || n == 0 || n > len(rest) {
			break
		}
		out = append(out, rest[:n]...)
		b = bytes.TrimPrefix(rest[n:], []byte("\r\n"))
	}
	return out
}

func startFake(t *testing.T, f *fakeS3) string {
	f.objects = map[string][]byte{}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestNoConditionalWrites(t *testing.T) {
	ctx := context.Background()
	f := &fakeS3{honourRange: true}
	url := startFake(t, f)
	opts := Options{Endpoint: url, Bucket: "bkt", AccessKey: "a", SecretKey: "s", PathStyle: true}
	if _, err := New(ctx, opts); err == nil || !strings.Contains(err.Error(), "ignores or rejects conditional writes") {
		t.Fatalf("New on a server without conditional writes: got %v, want an error about conditional writes", err)
	}
	opts.AllowBestEffortPutIfAbsent = true
	s, err := New(ctx, opts)
	if err != nil {
		t.Fatalf("New with AllowBestEffortPutIfAbsent: %v", err)
	}
	if s.conditional.Load() {
		t.Errorf("conditional writes: got on, want off after the probe")
	}
	if err := s.PutIfAbsent(ctx, "lock", []byte("1")); err != nil {
		t.Fatalf("first PutIfAbsent: %v", err)
	}
	if err := s.PutIfAbsent(ctx, "lock", []byte("2")); !errors.Is(err, blob.ErrExists) {
		t.Errorf("second PutIfAbsent: got %v, want ErrExists", err)
	}
	if len(f.objects) != 1 {
		t.Errorf("objects on the server: got %d, want 1 (the probe object must be removed)", len(f.objects))
	}
}

func TestServerIgnoresRange(t *testing.T) {
	ctx := context.Background()
	f := &fakeS3{honourIfNone: true}
	s, err := New(ctx, Options{Endpoint: startFake(t, f), Bucket: "bkt", AccessKey: "a", SecretKey: "s", PathStyle: true})
	if err != nil {
		t.Fatal(err)
	}
	data := []byte("0123456789")
	if err := s.Put(ctx, "o", data); err != nil {
		t.Fatal(err)
	}
	for _, r := range [][3]int64{{2, 3, 5}, {4, -1, 10}, {0, 100, 10}} {
		rc, err := s.Get(ctx, "o", r[0], r[1])
		if err != nil {
			t.Fatalf("Get(%d, %d): %v", r[0], r[1], err)
		}
		got, err := io.ReadAll(rc)
		rc.Close()
		if want := data[r[0]:r[2]]; err != nil || !bytes.Equal(got, want) {
			t.Errorf("Get(%d, %d) from a server that ignores Range: got %q, %v, want %q", r[0], r[1], got, err, want)
		}
	}
}

func TestTruncatedBody(t *testing.T) {
	ctx := context.Background()
	f := &fakeS3{honourIfNone: true, honourRange: true}
	s, err := New(ctx, Options{Endpoint: startFake(t, f), Bucket: "bkt", AccessKey: "a", SecretKey: "s", PathStyle: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Put(ctx, "o", make([]byte, 100<<10)); err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	f.truncate = true
	f.mu.Unlock()
	_, err = blob.ReadAll(ctx, s, "o")
	if !errors.Is(err, blob.ErrUnavailable) {
		t.Errorf("ReadAll of a truncated body: got %v, want ErrUnavailable", err)
	}
}

func TestServerErrors(t *testing.T) {
	ctx := context.Background()
	f := &fakeS3{honourIfNone: true, honourRange: true}
	s, err := New(ctx, Options{Endpoint: startFake(t, f), Bucket: "bkt", AccessKey: "a", SecretKey: "s", PathStyle: true})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		status int
		code   string
		want   error
	}{
		{503, "SlowDown", blob.ErrUnavailable},
		{500, "InternalError", blob.ErrUnavailable},
		{507, "XMinioStorageFull", blob.ErrNoSpace},
		{403, "QuotaExceeded", blob.ErrNoSpace},
	}
	for _, tt := range tests {
		f.mu.Lock()
		f.failStatus, f.failCode = tt.status, tt.code
		f.mu.Unlock()
		if err := s.Put(ctx, "o", []byte("x")); !errors.Is(err, tt.want) {
			t.Errorf("Put answered %d %s: got %v, want %v", tt.status, tt.code, err, tt.want)
		}
		if _, err := blob.ReadAll(ctx, s, "o"); !errors.Is(err, tt.want) {
			t.Errorf("Get answered %d %s: got %v, want %v", tt.status, tt.code, err, tt.want)
		}
	}
}
