package server

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"

	"github.com/coffer/coffer/internal/api/awsproto"
	"github.com/coffer/coffer/internal/api/sigv4"
)

// Error codes this package sends (besides the sigv4 ones).
const (
	// CodeInternalFailure (500) answers a request whose handler panicked.
	CodeInternalFailure = "InternalFailure"
	// CodeRequestEntityTooLarge (413) answers a body over MaxBodyBytes.
	CodeRequestEntityTooLarge = "RequestEntityTooLargeException"
	// CodeIncompleteBody (400) answers a body that could not be read in
	// full (client went away, read timeout, bad chunked encoding).
	CodeIncompleteBody = "IncompleteBody"
)

const msgInternalFailure = "The request processing has failed because of an unknown error, exception or failure."

// writeError sends err in AWS form; err should be an awsproto.Error.
func writeError(w http.ResponseWriter, r *http.Request, err error) {
	var ae awsproto.Error
	if !errors.As(err, &ae) {
		ae = &awsproto.ProtocolError{Code: CodeInternalFailure, Status: http.StatusInternalServerError, Message: msgInternalFailure}
	}
	msg := err.Error()
	if pe, ok := ae.(*awsproto.ProtocolError); ok {
		msg = pe.Message
	}
	awsproto.WriteError(w, RequestID(r.Context()), ae.ErrorCode(), ae.HTTPStatus(), msg, nil)
}

// withRequestID creates the request state, assigns the request ID and
// sets the x-amzn-RequestId header before anything else can answer.
func (s *Server) withRequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st := &reqState{id: s.newID()}
		w.Header().Set("X-Amzn-Requestid", st.id)
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), stateKey{}, st)))
	})
}

// withAccessLog logs one record per request after it is answered: at
// the access log level (debug by default), or warn for 5xx responses.
func (s *Server) withAccessLog(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := s.clock.Now()
		rec := &recorder{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		status := rec.status
		if status == 0 {
			status = http.StatusOK
		}
		level := s.accessLevel.Level()
		if status >= 500 {
			level = slog.LevelWarn
		}
		ctx := r.Context()
		if !s.log.Enabled(ctx, level) {
			return
		}
		attrs := []slog.Attr{
			slog.String("method", r.Method),
			slog.String("path", r.URL.EscapedPath()),
			slog.Int("status", status),
			slog.Duration("duration", s.clock.Now().Sub(start)),
			slog.String("request_id", RequestID(ctx)),
			slog.Int64("bytes_out", rec.bytes),
		}
		if st := stateFrom(ctx); st != nil {
			attrs = append(attrs, slog.Int("bytes_in", len(st.body)))
			if st.hasIdentity {
				attrs = append(attrs, slog.String("access_key", st.identity.AccessKeyID), slog.String("region", st.identity.Region))
			}
		}
		s.log.LogAttrs(ctx, level, "request", attrs...)
	})
}

// withRecover turns a panic in the rest of the chain into a 500
// InternalFailure. If the response had already started, the connection is
// aborted instead (http.ErrAbortHandler), so the client sees a broken
// response rather than a truncated one that looks complete.
func (s *Server) withRecover(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec, ok := w.(*recorder)
		if !ok {
			rec = &recorder{ResponseWriter: w}
		}
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if v == http.ErrAbortHandler {
				panic(v)
			}
			s.log.LogAttrs(r.Context(), slog.LevelError, "handler panic",
				slog.String("request_id", RequestID(r.Context())),
				slog.String("method", r.Method),
				slog.String("path", r.URL.EscapedPath()),
				slog.String("panic", fmt.Sprint(v)),
				slog.String("stack", string(debug.Stack())))
			if rec.status != 0 {
				panic(http.ErrAbortHandler)
			}
			h := rec.Header()
			for k := range h { // drop whatever the handler set before panicking
				if k != "X-Amzn-Requestid" {
					delete(h, k)
				}
			}
			awsproto.WriteError(rec, RequestID(r.Context()), CodeInternalFailure, http.StatusInternalServerError, msgInternalFailure, nil)
		}()
		next.ServeHTTP(rec, r)
	})
}

// withAnonymousCheck refuses, before the body is read, a request that
// carries no SigV4 credentials at all. Only installed with a Verifier.
func (s *Server) withAnonymousCheck(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") == "" && !strings.Contains(r.URL.RawQuery, "X-Amz-") {
			writeError(w, r, &awsproto.ProtocolError{Code: sigv4.CodeMissingAuthenticationToken, Status: http.StatusForbidden, Message: "Missing Authentication Token"})
			return
		}
		next.ServeHTTP(w, r)
	})
}

// withBody reads the body once, bounded by MaxBodyBytes, keeps the bytes
// for authentication and gives the handler a fresh reader over them.
func (s *Server) withBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > s.maxBody {
			s.tooLarge(w, r)
			return
		}
		body, err := readBody(r.Body, r.ContentLength, s.maxBody)
		if errors.Is(err, errTooLarge) {
			s.tooLarge(w, r)
			return
		}
		if err != nil {
			w.Header().Set("Connection", "close")
			writeError(w, r, &awsproto.ProtocolError{Code: CodeIncompleteBody, Status: http.StatusBadRequest,
				Message: "The request body could not be read in full: " + err.Error()})
			return
		}
		if st := stateFrom(r.Context()); st != nil {
			st.body = body
		}
		// r is the copy withRequestID made; replacing its Body is ours to do.
		_ = r.Body.Close()
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
		next.ServeHTTP(w, r)
	})
}

func (s *Server) tooLarge(w http.ResponseWriter, r *http.Request) {
	// The rest of the body is not read: close the connection after the reply.
	w.Header().Set("Connection", "close")
	writeError(w, r, &awsproto.ProtocolError{Code: CodeRequestEntityTooLarge, Status: http.StatusRequestEntityTooLarge,
		Message: fmt.Sprintf("The request body exceeds the maximum allowed size of %d bytes.", s.maxBody)})
}

var errTooLarge = errors.New("request body too large")

// readBody reads at most max bytes of body; more is errTooLarge. A known
// length is allocated once.
func readBody(body io.Reader, length, max int64) ([]byte, error) {
	if body == nil || body == http.NoBody {
		return nil, nil
	}
	if length >= 0 {
		buf := make([]byte, length)
		if _, err := io.ReadFull(body, buf); err != nil {
			return nil, err
		}
		return buf, nil
	}
	var b bytes.Buffer
	n, err := b.ReadFrom(io.LimitReader(body, max+1))
	if err != nil {
		return nil, err
	}
	if n > max {
		return nil, errTooLarge
	}
	return b.Bytes(), nil
}

// withAuth verifies the signature and records the Identity. Without a
// Verifier it records the claimed (unverified) identity, if any.
func (s *Server) withAuth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st := stateFrom(r.Context())
		if s.verifier == nil {
			if id, ok := sigv4.ClaimedIdentity(r); ok && st != nil {
				st.identity, st.hasIdentity = id, true
			}
			next.ServeHTTP(w, r)
			return
		}
		var body []byte
		if st != nil {
			body = st.body
		}
		id, err := s.verifier.Verify(r, body)
		if err != nil {
			writeError(w, r, err)
			return
		}
		if st != nil {
			st.identity, st.hasIdentity = id, true
		}
		next.ServeHTTP(w, r)
	})
}

// recorder remembers the status and size of a response.
type recorder struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 && code >= 200 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(p []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	n, err := r.ResponseWriter.Write(p)
	r.bytes += int64(n)
	return n, err
}

// Flush implements http.Flusher when the underlying writer does.
func (r *recorder) Flush() {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }
