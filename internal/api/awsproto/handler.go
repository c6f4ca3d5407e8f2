package awsproto

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
)

// DefaultMaxBodyBytes is the request body limit when HandlerOptions leaves
// it zero.
const DefaultMaxBodyBytes = 4 << 20

// HandlerOptions configures a Handler.
type HandlerOptions struct {
	// Logger receives internal errors (with request ID and operation) and
	// recovered panics. nil discards them.
	Logger *slog.Logger
	// RequestID returns the ID of a request, sent back as x-amzn-RequestId
	// and available to the service through CallInfoFrom. nil means a
	// fresh random UUID-shaped ID per request.
	RequestID func(*http.Request) string
	// MaxBodyBytes caps the request body; larger bodies get 413
	// RequestEntityTooLargeException. 0 means DefaultMaxBodyBytes.
	MaxBodyBytes int64
}

// Request is what a generated operation binder reads: the HTTP request,
// the raw (escaped) values of the route's URI labels and the body.
type Request struct {
	HTTP   *http.Request
	Labels []string
	Body   []byte
}

// Label returns URI label i percent-decoded, or nil when it is empty.
// member names the input member for error messages.
func (rq *Request) Label(i int, member string) (*string, error) {
	if i >= len(rq.Labels) || rq.Labels[i] == "" {
		return nil, nil
	}
	raw := rq.Labels[i]
	if strings.IndexByte(raw, '%') < 0 {
		return &raw, nil
	}
	v, err := url.PathUnescape(raw)
	if err != nil {
		return nil, SerializationError(member, "malformed percent-encoding in URI label: "+err.Error())
	}
	if v == "" {
		return nil, nil
	}
	return &v, nil
}

// Response is what a generated operation encoder fills: status, headers
// (those of the http.ResponseWriter) and body. An empty Body means no body.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// Operation is one entry of a generated operation table: its name, route
// and the function that binds the request, validates it, calls the
// service S and encodes the output.
type Operation[S any] struct {
	Name  string
	Route Route
	Serve func(ctx context.Context, svc S, rq *Request, rs *Response) error
}

// CallInfo describes the call being served; the service reads it with
// CallInfoFrom(ctx).
type CallInfo struct {
	RequestID string
	Operation string
}

type callInfoKey struct{}

// CallInfoFrom returns the CallInfo the Handler put into ctx.
func CallInfoFrom(ctx context.Context) (CallInfo, bool) {
	ci, ok := ctx.Value(callInfoKey{}).(*CallInfo)
	if !ok {
		return CallInfo{}, false
	}
	return *ci, true
}

// WithCallInfo returns ctx carrying ci (for tests of services).
func WithCallInfo(ctx context.Context, ci CallInfo) context.Context {
	return context.WithValue(ctx, callInfoKey{}, &ci)
}

// Handler serves a generated operation table over HTTP: it routes, reads
// the body under a size limit, calls the operation, writes the result or
// the error, and turns panics into 500 InternalFailure.
type Handler[S any] struct {
	svc    S
	ops    []Operation[S]
	router *Router
	log    *slog.Logger
	reqID  func(*http.Request) string
	max    int64
	pool   sync.Pool // *callState
}

type callState struct {
	rq     Request
	rs     Response
	labels [MaxLabels]string
	body   []byte
	out    []byte
}

// NewHandler builds a Handler. router must have been built from the
// routes of ops, in the same order.
func NewHandler[S any](svc S, ops []Operation[S], router *Router, opts HandlerOptions) *Handler[S] {
	h := &Handler[S]{svc: svc, ops: ops, router: router, log: opts.Logger, reqID: opts.RequestID, max: opts.MaxBodyBytes}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	if h.reqID == nil {
		h.reqID = func(*http.Request) string { return NewRequestID() }
	}
	if h.max <= 0 {
		h.max = DefaultMaxBodyBytes
	}
	h.pool.New = func() any { return &callState{body: make([]byte, 0, 1024), out: make([]byte, 0, 2048)} }
	return h
}

// NewRequestID returns a random UUID-shaped (version 4) ID.
func NewRequestID() string {
	var b [36]byte
	hi, lo := rand.Uint64(), rand.Uint64()
	hi = hi&^(0xf<<12) | 4<<12   // version 4
	lo = lo&^(0xc<<60) | 0x8<<60 // variant 10
	const x = "0123456789abcdef"
	j := 0
	for i := 0; i < 16; i++ {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			b[j] = '-'
			j++
		}
		var v byte
		if i < 8 {
			v = byte(hi >> (56 - 8*i))
		} else {
			v = byte(lo >> (56 - 8*(i-8)))
		}
		b[j], b[j+1] = x[v>>4], x[v&0xf]
		j += 2
	}
	return string(b[:])
}

// Lookup returns the name of the operation a request routes to.
func (h *Handler[S]) Lookup(r *http.Request) (string, bool) {
	var m Match
	if h.router.Match(r.Method, r.URL.EscapedPath(), r.URL.RawQuery, &m) != 0 {
		return "", false
	}
	return h.ops[m.Route].Name, true
}

// maxPooledBuffer keeps huge request or response buffers out of the pool.
const maxPooledBuffer = 256 << 10

func (h *Handler[S]) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rid := h.reqID(r)
	hdr := w.Header()
	hdr["X-Amzn-Requestid"] = []string{rid}

	var m Match
	path := r.URL.EscapedPath()
	switch h.router.Match(r.Method, path, r.URL.RawQuery, &m) {
	case 0:
	case 405:
		hdr["Allow"] = []string{strings.Join(h.router.Allowed(path), ", ")}
		WriteError(w, rid, "MethodNotAllowedException", http.StatusMethodNotAllowed,
			fmt.Sprintf("Method %s is not allowed on %s", r.Method, path), nil)
		return
	default:
		WriteError(w, rid, "UnknownOperationException", http.StatusNotFound,
			fmt.Sprintf("No operation matches %s %s", r.Method, path), nil)
		return
	}
	op := &h.ops[m.Route]

	st := h.pool.Get().(*callState)
	defer h.release(st)

	body, err := readBody(r, st.body, h.max)
	st.body = body
	if err != nil {
		var ae Error
		if errors.As(err, &ae) {
			WriteErrorValue(w, rid, ae)
		} else {
			WriteError(w, rid, "SerializationException", http.StatusBadRequest, "Cannot read request body", nil)
		}
		return
	}
	copy(st.labels[:], m.Labels[:m.NLabels])
	st.rq = Request{HTTP: r, Labels: st.labels[:m.NLabels], Body: body}
	st.rs = Response{Status: http.StatusOK, Header: hdr, Body: st.out[:0]}

	ctx := context.WithValue(r.Context(), callInfoKey{}, &CallInfo{RequestID: rid, Operation: op.Name})
	if err := h.call(ctx, op, st); err != nil {
		h.writeError(ctx, w, rid, op.Name, err)
		return
	}
	h.writeResponse(w, &st.rs)
	st.out = st.rs.Body
}

func (h *Handler[S]) release(st *callState) {
	st.rq = Request{}
	st.rs = Response{}
	clear(st.labels[:])
	if cap(st.body) > maxPooledBuffer || cap(st.out) > maxPooledBuffer {
		return
	}
	h.pool.Put(st)
}

// errPanic stands for a recovered panic.
var errPanic = errors.New("panic in operation")

func (h *Handler[S]) call(ctx context.Context, op *Operation[S], st *callState) (err error) {
	defer func() {
		if p := recover(); p != nil {
			ci, _ := CallInfoFrom(ctx)
			h.log.LogAttrs(ctx, slog.LevelError, "panic serving request",
				slog.String("request_id", ci.RequestID), slog.String("operation", op.Name),
				slog.String("panic", fmt.Sprint(p)), slog.String("stack", string(debug.Stack())))
			err = errPanic
		}
	}()
	return op.Serve(ctx, h.svc, &st.rq, &st.rs)
}

func (h *Handler[S]) writeError(ctx context.Context, w http.ResponseWriter, rid, op string, err error) {
	var ae Error
	if errors.As(err, &ae) {
		WriteErrorValue(w, rid, ae)
		return
	}
	if err != errPanic {
		h.log.LogAttrs(ctx, slog.LevelError, "internal error",
			slog.String("request_id", rid), slog.String("operation", op), slog.String("error", err.Error()))
	}
	WriteError(w, rid, "InternalFailure", http.StatusInternalServerError, "internal error", nil)
}

func (h *Handler[S]) writeResponse(w http.ResponseWriter, rs *Response) {
	hdr := rs.Header
	hdr["Content-Type"] = []string{"application/json"}
	status := rs.Status
	if status < 100 || status > 599 {
		status = http.StatusOK
	}
	noBody := status == http.StatusNoContent || status == http.StatusNotModified || status < 200
	if noBody || len(rs.Body) == 0 {
		if !noBody {
			hdr["Content-Length"] = []string{"0"}
		}
		w.WriteHeader(status)
		return
	}
	hdr["Content-Length"] = []string{strconv.Itoa(len(rs.Body))}
	w.WriteHeader(status)
	_, _ = w.Write(rs.Body)
}

// readBody reads the whole body into buf (reused), failing with 413 beyond
// max bytes.
func readBody(r *http.Request, buf []byte, max int64) ([]byte, error) {
	buf = buf[:0]
	if r.Body == nil || r.Body == http.NoBody {
		return buf, nil
	}
	if r.ContentLength > max {
		return buf, tooLarge(max)
	}
	if r.ContentLength > int64(cap(buf)) {
		buf = make([]byte, 0, r.ContentLength+1)
	}
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Body.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if int64(len(buf)) > max {
			return buf[:0], tooLarge(max)
		}
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				return buf[:0], tooLarge(mbe.Limit)
			}
			return buf[:0], err
		}
	}
}

func tooLarge(max int64) error {
	return &ProtocolError{Code: "RequestEntityTooLargeException", Status: http.StatusRequestEntityTooLarge,
		Message: "Request body is larger than " + strconv.FormatInt(max, 10) + " bytes"}
}
