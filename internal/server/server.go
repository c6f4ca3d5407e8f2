package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/coffer/coffer/internal/api/awsproto"
	"github.com/coffer/coffer/internal/api/sigv4"
	"github.com/coffer/coffer/internal/clock"
)

// Defaults for Options.
const (
	DefaultMaxBodyBytes      = 10 << 20
	DefaultShutdownTimeout   = 30 * time.Second
	DefaultReadHeaderTimeout = 10 * time.Second
	// DefaultReadTimeout covers reading a whole request, body included
	// (at most MaxBodyBytes, even over a slow link).
	DefaultReadTimeout = 2 * time.Minute
	// DefaultWriteTimeout covers the handler and writing its response.
	DefaultWriteTimeout = 5 * time.Minute
	DefaultIdleTimeout  = 2 * time.Minute
	// maxHeaderBytes bounds request headers (SigV4 headers are small).
	maxHeaderBytes = 64 << 10
)

// Options configures a Server. Zero values take the defaults.
type Options struct {
	// Handler is the API (the generated router). Nil answers every request
	// with 500 InternalFailure.
	Handler http.Handler
	// Verifier checks SigV4 signatures. Nil disables authentication — for
	// tests only: every request is served, anonymously or with the
	// identity it claims.
	Verifier *sigv4.Verifier
	// Logger receives the access log and errors. Nil discards.
	Logger *slog.Logger
	// AccessLogLevel is the level of the per-request log record; nil means
	// slog.LevelDebug, which keeps the hot path cheap when the logger is
	// at info. 5xx responses are always logged at warn.
	AccessLogLevel slog.Leveler
	// MaxBodyBytes bounds a request body (default 10 MiB); a larger one is
	// answered with 413 RequestEntityTooLargeException.
	MaxBodyBytes int64
	// Clock times requests and the shutdown timeout; nil is clock.Real{}.
	Clock clock.Clock
	// NewRequestID returns a fresh request ID; nil is NewRequestID (UUIDv4).
	NewRequestID func() string
	// ShutdownTimeout bounds the drain of in-flight requests when Serve's
	// context is cancelled (default 30s).
	ShutdownTimeout time.Duration
	// HTTP server timeouts (defaults above).
	ReadHeaderTimeout, ReadTimeout, WriteTimeout, IdleTimeout time.Duration
}

// Server serves an API handler over HTTP with the middleware chain
// described in the package comment. It is safe for concurrent use; Serve
// may be called for several listeners.
type Server struct {
	opts        Options
	handler     http.Handler
	verifier    *sigv4.Verifier
	log         *slog.Logger
	accessLevel slog.Leveler
	clock       clock.Clock
	newID       func() string
	maxBody     int64
}

// New builds a Server from opts.
func New(opts Options) *Server {
	s := &Server{
		opts:        opts,
		verifier:    opts.Verifier,
		log:         opts.Logger,
		accessLevel: opts.AccessLogLevel,
		clock:       opts.Clock,
		newID:       opts.NewRequestID,
		maxBody:     opts.MaxBodyBytes,
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.accessLevel == nil {
		s.accessLevel = slog.LevelDebug
	}
	if s.clock == nil {
		s.clock = clock.Real{}
	}
	if s.newID == nil {
		s.newID = NewRequestID
	}
	if s.maxBody <= 0 {
		s.maxBody = DefaultMaxBodyBytes
	}
	setDefault(&s.opts.ShutdownTimeout, DefaultShutdownTimeout)
	setDefault(&s.opts.ReadHeaderTimeout, DefaultReadHeaderTimeout)
	setDefault(&s.opts.ReadTimeout, DefaultReadTimeout)
	setDefault(&s.opts.WriteTimeout, DefaultWriteTimeout)
	setDefault(&s.opts.IdleTimeout, DefaultIdleTimeout)

	api := opts.Handler
	if api == nil {
		api = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			awsproto.WriteError(w, RequestID(r.Context()), CodeInternalFailure, http.StatusInternalServerError,
				"The server has no API handler configured.", nil)
		})
	}
	h := s.withAuth(api)
	h = s.withBody(h)
	if s.verifier != nil {
		h = s.withAnonymousCheck(h)
	}
	h = s.withRecover(h)
	h = s.withAccessLog(h)
	s.handler = s.withRequestID(h)
	return s
}

func setDefault(d *time.Duration, def time.Duration) {
	if *d <= 0 {
		*d = def
	}
}

// Handler returns the API handler wrapped in the middleware chain, e.g.
// for httptest.NewServer.
func (s *Server) Handler() http.Handler { return s.handler }

// Serve serves HTTP on ln until ctx is cancelled, then stops accepting,
// waits up to ShutdownTimeout for in-flight requests and returns nil. If
// they do not finish in time it closes their connections and returns an
// error. An accept error ends Serve with that error. Serve closes ln.
//
// Request contexts carry ctx's values but are not cancelled by it: a
// request in flight at shutdown runs to completion (within the timeout).
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	hs := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: s.opts.ReadHeaderTimeout,
		ReadTimeout:       s.opts.ReadTimeout,
		WriteTimeout:      s.opts.WriteTimeout,
		IdleTimeout:       s.opts.IdleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()

	select {
	case err := <-errc:
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return fmt.Errorf("server: %w", err)
	case <-ctx.Done():
	}

	s.log.LogAttrs(context.WithoutCancel(ctx), slog.LevelInfo, "shutting down",
		slog.String("addr", ln.Addr().String()), slog.Duration("timeout", s.opts.ShutdownTimeout))
	sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	go func() {
		select {
		case <-s.clock.After(s.opts.ShutdownTimeout):
			cancel()
		case <-sctx.Done():
		}
	}()
	err := hs.Shutdown(sctx)
	<-errc // Serve returns as soon as Shutdown starts
	if err != nil {
		_ = hs.Close()
		return fmt.Errorf("server: in-flight requests did not finish within %v; their connections were closed: %w", s.opts.ShutdownTimeout, err)
	}
	return nil
}

// ListenAndServe listens on addr (TCP) and calls Serve.
func (s *Server) ListenAndServe(ctx context.Context, addr string) error {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("server: %w", err)
	}
	s.log.LogAttrs(ctx, slog.LevelInfo, "listening", slog.String("addr", ln.Addr().String()),
		slog.Bool("auth", s.verifier != nil))
	return s.Serve(ctx, ln)
}
