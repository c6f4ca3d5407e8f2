package s3

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/coffer/coffer/internal/blob"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/minio/minio-go/v7/pkg/s3utils"
)

// Secret is a credential. Printing it with fmt shows "[redacted]".
type Secret string

// String returns "[redacted]".
func (Secret) String() string { return "[redacted]" }

// GoString returns "[redacted]".
func (Secret) GoString() string { return "[redacted]" }

// Options configure a Store.
type Options struct {
	// Endpoint is "host:port" or "http(s)://host:port". Required. A URL's
	// scheme decides TLS; otherwise TLS is on unless Insecure is set.
	Endpoint string
	// Insecure selects plain HTTP for an Endpoint given without a scheme.
	Insecure bool
	// SkipTLSVerify accepts any server certificate (self-signed test
	// servers). Never use it across an untrusted network.
	SkipTLSVerify bool
	// Bucket is the bucket name. Required.
	Bucket string
	// Prefix is prepended, with a "/", to every object name. It follows the
	// rules of blob.ValidName; slashes at either end are trimmed. Optional.
	Prefix string
	// Region is the bucket's region. Default "us-east-1".
	Region string
	// AccessKey and SecretKey are static credentials. Both empty means
	// anonymous requests.
	AccessKey string
	SecretKey Secret
	// SessionToken is an optional STS session token.
	SessionToken Secret
	// PathStyle forces path-style requests (http://host/bucket/key), which
	// most self-hosted servers need; by default minio-go picks path style
	// for everything but AWS and a few known clouds.
	PathStyle bool
	// CreateBucket makes New create the bucket when it does not exist.
	CreateBucket bool
	// SkipProbe makes New trust that the server supports conditional writes
	// instead of testing it with a throw-away object.
	SkipProbe bool
	// AllowBestEffortPutIfAbsent lets PutIfAbsent fall back to HEAD-then-PUT
	// on servers without conditional writes (see the package comment).
	// Without it, New fails on such a server.
	AllowBestEffortPutIfAbsent bool
	// MaxRetries is how many times minio-go tries each HTTP request.
	// Default 1 (no retries; wrap the Store in retry.New instead).
	MaxRetries int
	// ResponseTimeout bounds the wait for response headers after a request
	// was sent, so that a hung server fails the request with
	// blob.ErrUnavailable. Default 2 minutes.
	ResponseTimeout time.Duration
	// Transport replaces the HTTP transport (tests, proxies). When set,
	// SkipTLSVerify and ResponseTimeout are ignored.
	Transport http.RoundTripper
	// Logger receives warnings (fallback to best-effort PutIfAbsent).
	// Default: discard.
	Logger *slog.Logger
}

// Validate checks the options and reports the first problem.
func (o Options) Validate() error {
	if o.Endpoint == "" {
		return errors.New("s3: Options.Endpoint is empty")
	}
	if _, _, err := parseEndpoint(o.Endpoint, o.Insecure); err != nil {
		return err
	}
	if o.Bucket == "" {
		return errors.New("s3: Options.Bucket is empty")
	}
	if err := s3utils.CheckValidBucketNameStrict(o.Bucket); err != nil {
		return fmt.Errorf("s3: Options.Bucket %q: %w", o.Bucket, err)
	}
	if p := strings.Trim(o.Prefix, "/"); p != "" {
		if err := blob.ValidName(p); err != nil {
			return fmt.Errorf("s3: Options.Prefix: %w", err)
		}
	}
	if (o.AccessKey == "") != (o.SecretKey == "") {
		return errors.New("s3: set both Options.AccessKey and Options.SecretKey, or neither")
	}
	if o.MaxRetries < 0 {
		return fmt.Errorf("s3: Options.MaxRetries is negative (%d)", o.MaxRetries)
	}
	if o.ResponseTimeout < 0 {
		return fmt.Errorf("s3: Options.ResponseTimeout is negative (%v)", o.ResponseTimeout)
	}
	return nil
}

// parseEndpoint splits an Endpoint into the host:port minio-go wants and
// whether to use TLS.
func parseEndpoint(ep string, insecure bool) (host string, secure bool, err error) {
	if !strings.Contains(ep, "://") {
		if strings.ContainsAny(ep, "/?#") {
			return "", false, fmt.Errorf("s3: Options.Endpoint %q: want host:port or a URL without a path", ep)
		}
		return ep, !insecure, nil
	}
	u, err := url.Parse(ep)
	if err != nil {
		return "", false, fmt.Errorf("s3: Options.Endpoint %q: %w", ep, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return "", false, fmt.Errorf("s3: Options.Endpoint %q: scheme must be http or https", ep)
	}
	if u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil {
		return "", false, fmt.Errorf("s3: Options.Endpoint %q: want scheme://host:port with no path, query or user", ep)
	}
	return u.Host, u.Scheme == "https", nil
}

// Store is a blob.Store in an S3 bucket. Use New.
type Store struct {
	core     minio.Core
	bucket   string
	prefix   string // "" or ending in "/"
	location string
	log      *slog.Logger
	// ownTransport is the transport New created, closed by Close.
	ownTransport *http.Transport

	allowBestEffort bool
	// conditional is false once the server is known to ignore or reject
	// If-None-Match on PUT.
	conditional atomic.Bool
	warned      atomic.Bool
}

var _ blob.Store = (*Store)(nil)

// New connects to the bucket, creates it when asked to, and unless
// opts.SkipProbe checks that the server supports conditional writes.
func New(ctx context.Context, opts Options) (*Store, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	host, secure, _ := parseEndpoint(opts.Endpoint, opts.Insecure)
	if opts.Region == "" {
		opts.Region = "us-east-1"
	}
	if opts.MaxRetries == 0 {
		opts.MaxRetries = 1
	}
	if opts.ResponseTimeout == 0 {
		opts.ResponseTimeout = 2 * time.Minute
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	transport := opts.Transport
	var ownTransport *http.Transport
	if transport == nil {
		tr, err := minio.DefaultTransport(secure)
		if err != nil {
			return nil, fmt.Errorf("s3: transport: %w", err)
		}
		tr.ResponseHeaderTimeout = opts.ResponseTimeout
		if opts.SkipTLSVerify && tr.TLSClientConfig != nil {
			tr.TLSClientConfig.InsecureSkipVerify = true
		}
		transport, ownTransport = tr, tr
	}
	var creds *credentials.Credentials
	if opts.AccessKey != "" {
		creds = credentials.NewStaticV4(opts.AccessKey, string(opts.SecretKey), string(opts.SessionToken))
	} else {
		creds = credentials.New(&credentials.Static{Value: credentials.Value{SignerType: credentials.SignatureAnonymous}})
	}
	mo := &minio.Options{
		Creds:      creds,
		Secure:     secure,
		Transport:  transport,
		Region:     opts.Region,
		MaxRetries: opts.MaxRetries,
	}
	if opts.PathStyle {
		mo.BucketLookup = minio.BucketLookupPath
	}
	client, err := minio.New(host, mo)
	if err != nil {
		return nil, fmt.Errorf("s3: client for %s: %w", opts.Endpoint, err)
	}
	scheme := "http"
	if secure {
		scheme = "https"
	}
	prefix := strings.Trim(opts.Prefix, "/")
	s := &Store{
		core:            minio.Core{Client: client},
		bucket:          opts.Bucket,
		location:        fmt.Sprintf("s3://%s/%s (%s://%s)", opts.Bucket, prefix, scheme, host),
		log:             opts.Logger,
		ownTransport:    ownTransport,
		allowBestEffort: opts.AllowBestEffortPutIfAbsent,
	}
	if prefix != "" {
		s.prefix = prefix + "/"
	}
	s.conditional.Store(true)
	if opts.CreateBucket {
		if err := s.createBucket(ctx, opts.Region); err != nil {
			return nil, err
		}
	}
	if !opts.SkipProbe {
		ok, err := s.probeConditional(ctx)
		if err != nil {
			return nil, err
		}
		if !ok {
			if !s.allowBestEffort {
				return nil, fmt.Errorf("s3: %s ignores or rejects conditional writes (If-None-Match: *), so PutIfAbsent cannot be atomic; set AllowBestEffortPutIfAbsent to accept a racy check-then-put", s.location)
			}
			s.fallBack()
		}
	}
	return s, nil
}

func (s *Store) createBucket(ctx context.Context, region string) error {
	ok, err := s.core.BucketExists(ctx, s.bucket)
	if err != nil {
		return s.translate(ctx, "create bucket", s.bucket, err)
	}
	if ok {
		return nil
	}
	err = s.core.MakeBucket(ctx, s.bucket, minio.MakeBucketOptions{Region: region})
	var er minio.ErrorResponse
	if errors.As(err, &er) && (er.Code == "BucketAlreadyOwnedByYou" || er.Code == "BucketAlreadyExists") {
		return nil // created concurrently
	}
	return s.translate(ctx, "create bucket", s.bucket, err)
}

// probeConditional writes a throw-away object twice with If-None-Match: *
// and reports whether the server refused the second write.
func (s *Store) probeConditional(ctx context.Context) (bool, error) {
	var r [8]byte
	_, _ = rand.Read(r[:])
	key := s.prefix + ".coffer-probe~" + hex.EncodeToString(r[:])
	defer func() {
		_ = s.core.RemoveObject(context.WithoutCancel(ctx), s.bucket, key, minio.RemoveObjectOptions{})
	}()
	for i := range 2 {
		err := s.putObject(ctx, key, []byte("coffer conditional write probe"), true)
		switch {
		case err == nil && i == 0:
			continue
		case err == nil:
			return false, nil // the second write replaced the first
		case i == 1 && isCode(err, http.StatusPreconditionFailed, "PreconditionFailed"):
			return true, nil
		case isCode(err, http.StatusNotImplemented, "NotImplemented"):
			return false, nil
		default:
			return false, s.translate(ctx, "probe conditional write", key, err)
		}
	}
	return false, nil
}

func (s *Store) fallBack() {
	s.conditional.Store(false)
	if !s.warned.Swap(true) {
		s.log.Warn("s3: server does not support conditional writes; PutIfAbsent falls back to a racy check-then-put",
			"location", s.location)
	}
}

// Location returns "s3://bucket/prefix (scheme://endpoint)".
func (s *Store) Location() string { return s.location }

// Close closes the idle connections of the transport New created. A
// transport passed in Options is left alone.
func (s *Store) Close() error {
	if s.ownTransport != nil {
		s.ownTransport.CloseIdleConnections()
	}
	return nil
}

func (s *Store) key(name string) string { return s.prefix + name }

func check(ctx context.Context, op, name string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("s3: %s %q: %w", op, name, err)
	}
	if err := blob.ValidName(name); err != nil {
		return fmt.Errorf("s3: %s: %w", op, err)
	}
	return nil
}

// putObject is a single PUT with Content-MD5, optionally conditional.
func (s *Store) putObject(ctx context.Context, key string, data []byte, ifAbsent bool) error {
	sum := md5.Sum(data)
	opts := minio.PutObjectOptions{ContentType: "application/octet-stream"}
	if ifAbsent {
		opts.SetMatchETagExcept("*")
	}
	_, err := s.core.PutObject(ctx, s.bucket, key, bytes.NewReader(data), int64(len(data)),
		base64.StdEncoding.EncodeToString(sum[:]), "", opts)
	return err
}

// Put uploads data with one PUT.
func (s *Store) Put(ctx context.Context, name string, data []byte) error {
	if err := check(ctx, "put", name); err != nil {
		return err
	}
	return s.translate(ctx, "put", name, s.putObject(ctx, s.key(name), data, false))
}

// PutIfAbsent uploads data with one conditional PUT (If-None-Match: *).
func (s *Store) PutIfAbsent(ctx context.Context, name string, data []byte) error {
	if err := check(ctx, "put-if-absent", name); err != nil {
		return err
	}
	if s.conditional.Load() {
		err := s.putObject(ctx, s.key(name), data, true)
		if !isCode(err, http.StatusNotImplemented, "NotImplemented") {
			return s.translate(ctx, "put-if-absent", name, err)
		}
		if !s.allowBestEffort {
			return fmt.Errorf("s3: put-if-absent %q: the server rejects conditional writes and AllowBestEffortPutIfAbsent is off: %w", name, err)
		}
		s.fallBack()
	}
	// Best effort: racy between the HEAD and the PUT.
	if _, err := s.Stat(ctx, name); err == nil {
		return fmt.Errorf("s3: put-if-absent %q: %w", name, blob.ErrExists)
	} else if !errors.Is(err, blob.ErrNotFound) {
		return err
	}
	return s.translate(ctx, "put-if-absent", name, s.putObject(ctx, s.key(name), data, false))
}

// Get issues a GET with a Range header for anything but the whole object.
func (s *Store) Get(ctx context.Context, name string, offset, length int64) (io.ReadCloser, error) {
	if err := check(ctx, "get", name); err != nil {
		return nil, err
	}
	if offset < 0 {
		return nil, fmt.Errorf("s3: get %q: negative offset %d: %w", name, offset, blob.ErrInvalidRange)
	}
	if length > math.MaxInt64-offset {
		length = -1
	}
	if length == 0 {
		return s.emptyRange(ctx, name, offset)
	}
	var opts minio.GetObjectOptions
	ranged := offset > 0 || length > 0
	if ranged {
		if length > 0 {
			opts.Set("Range", fmt.Sprintf("bytes=%d-%d", offset, offset+length-1))
		} else {
			opts.Set("Range", fmt.Sprintf("bytes=%d-", offset))
		}
	}
	body, info, hdr, err := s.core.GetObject(ctx, s.bucket, s.key(name), opts)
	if err != nil {
		if isCode(err, http.StatusRequestedRangeNotSatisfiable, "InvalidRange") {
			// The range starts at or past the end: empty at the end,
			// ErrInvalidRange beyond it.
			return s.emptyRange(ctx, name, offset)
		}
		return nil, s.translate(ctx, "get", name, err)
	}
	var r io.Reader = body
	if ranged && hdr.Get("Content-Range") == "" {
		// The server ignored the Range header and sent the whole object.
		if offset > info.Size {
			body.Close()
			return nil, fmt.Errorf("s3: get %q: offset %d of a %d-byte object: %w", name, offset, info.Size, blob.ErrInvalidRange)
		}
		if _, err := io.CopyN(io.Discard, body, offset); err != nil {
			body.Close()
			return nil, s.translate(ctx, "get", name, err)
		}
		if length > 0 {
			r = io.LimitReader(body, length)
		}
	}
	return blob.ContextReader(ctx, &bodyReader{s: s, ctx: ctx, name: name, r: r, c: body}), nil
}

// emptyRange answers a Get whose range holds no bytes: an empty reader when
// offset is at most the object's size, ErrInvalidRange beyond it.
func (s *Store) emptyRange(ctx context.Context, name string, offset int64) (io.ReadCloser, error) {
	info, err := s.Stat(ctx, name)
	if err != nil {
		return nil, err
	}
	if offset > info.Size {
		return nil, fmt.Errorf("s3: get %q: offset %d of a %d-byte object: %w", name, offset, info.Size, blob.ErrInvalidRange)
	}
	return io.NopCloser(bytes.NewReader(nil)), nil
}

// bodyReader translates errors from a response body (a dropped connection
// becomes blob.ErrUnavailable).
type bodyReader struct {
	s    *Store
	ctx  context.Context
	name string
	r    io.Reader
	c    io.Closer
}

func (b *bodyReader) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err != nil && err != io.EOF {
		err = b.s.translate(b.ctx, "read", b.name, err)
	}
	return n, err
}

func (b *bodyReader) Close() error { return b.c.Close() }

// Stat issues a HEAD.
func (s *Store) Stat(ctx context.Context, name string) (blob.Info, error) {
	if err := check(ctx, "stat", name); err != nil {
		return blob.Info{}, err
	}
	info, err := s.core.StatObject(ctx, s.bucket, s.key(name), minio.StatObjectOptions{})
	if err != nil {
		return blob.Info{}, s.translate(ctx, "stat", name, err)
	}
	return blob.Info{Name: name, Size: info.Size}, nil
}

// Delete issues a DELETE; S3 answers 204 for a missing key too.
func (s *Store) Delete(ctx context.Context, name string) error {
	if err := check(ctx, "delete", name); err != nil {
		return err
	}
	err := s.translate(ctx, "delete", name, s.core.RemoveObject(ctx, s.bucket, s.key(name), minio.RemoveObjectOptions{}))
	if errors.Is(err, blob.ErrNotFound) {
		return nil
	}
	return err
}

// List pages through ListObjectsV2 under the store's prefix plus prefix.
func (s *Store) List(ctx context.Context, prefix string, fn func(blob.Info) error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("s3: list %q: %w", prefix, err)
	}
	if err := blob.ValidPrefix(prefix); err != nil {
		return fmt.Errorf("s3: list: %w", err)
	}
	lctx, cancel := context.WithCancel(ctx)
	ch := s.core.Client.ListObjects(lctx, s.bucket, minio.ListObjectsOptions{Prefix: s.prefix + prefix, Recursive: true})
	defer func() {
		cancel()
		for range ch { // let minio-go's goroutine finish
		}
	}()
	for obj := range ch {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("s3: list %q: %w", prefix, err)
		}
		if obj.Err != nil {
			return s.translate(ctx, "list", prefix, obj.Err)
		}
		name, ok := strings.CutPrefix(obj.Key, s.prefix)
		if !ok || blob.ValidName(name) != nil {
			continue // foreign key, directory marker or probe object
		}
		if err := fn(blob.Info{Name: name, Size: obj.Size}); err != nil {
			return err
		}
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("s3: list %q: %w", prefix, err)
	}
	return nil
}

func isCode(err error, status int, code string) bool {
	var er minio.ErrorResponse
	if !errors.As(err, &er) {
		return false
	}
	return er.StatusCode == status || er.Code == code
}

// Error codes that mean the storage is full or over quota.
var noSpaceCodes = map[string]bool{
	"QuotaExceeded":                  true,
	"XMinioAdminBucketQuotaExceeded": true,
	"XMinioStorageFull":              true,
	"StorageFull":                    true,
	"InsufficientStorage":            true,
	"EntityTooLarge":                 false, // a size limit, not a full disk
}

// Error codes that are worth retrying.
var transientCodes = map[string]bool{
	"InternalError":              true,
	"ServiceUnavailable":         true,
	"SlowDown":                   true,
	"RequestTimeout":             true,
	"RequestTimeTooSkewed":       false, // fix the clock; retrying does not help
	"ConditionalRequestConflict": true,  // a concurrent conditional write is in flight
	"OperationAborted":           true,
	"XMinioServerNotInitialized": true,
}

// translate is the one place that maps minio-go and network errors to
// blob's sentinels; see the package comment for the table. op and name
// only decorate the message.
func (s *Store) translate(ctx context.Context, op, name string, err error) error {
	if err == nil {
		return nil
	}
	if cerr := ctx.Err(); cerr != nil {
		if errors.Is(err, cerr) {
			return fmt.Errorf("s3: %s %q: %w", op, name, err)
		}
		return fmt.Errorf("s3: %s %q: %w (%v)", op, name, cerr, err)
	}
	var er minio.ErrorResponse
	if errors.As(err, &er) {
		msg := fmt.Sprintf("s3: %s %q on %s", op, name, s.location)
		switch {
		case er.Code == "NoSuchBucket":
			return fmt.Errorf("%s: bucket %q does not exist (create it, or set CreateBucket): %w", msg, s.bucket, err)
		case er.Code == "NoSuchKey" || er.StatusCode == http.StatusNotFound:
			return fmt.Errorf("%s: %w: %w", msg, blob.ErrNotFound, err)
		case er.Code == "PreconditionFailed" || er.StatusCode == http.StatusPreconditionFailed:
			return fmt.Errorf("%s: %w: %w", msg, blob.ErrExists, err)
		case er.Code == "InvalidRange" || er.StatusCode == http.StatusRequestedRangeNotSatisfiable:
			return fmt.Errorf("%s: %w: %w", msg, blob.ErrInvalidRange, err)
		case noSpaceCodes[er.Code] || er.StatusCode == http.StatusInsufficientStorage:
			return fmt.Errorf("%s: %w: %w", msg, blob.ErrNoSpace, err)
		case transientCodes[er.Code] || er.StatusCode >= 500 || er.StatusCode == http.StatusTooManyRequests:
			return fmt.Errorf("%s: %w: %s (HTTP %d): %w", msg, blob.ErrUnavailable, er.Code, er.StatusCode, err)
		case er.Code == "AccessDenied" || er.Code == "InvalidAccessKeyId" || er.Code == "SignatureDoesNotMatch" || er.StatusCode == http.StatusForbidden:
			return fmt.Errorf("%s: credentials rejected or not allowed (%s): %w", msg, er.Code, err)
		}
		return fmt.Errorf("%s: %s (HTTP %d): %w", msg, er.Code, er.StatusCode, err)
	}
	if isNetworkError(err) {
		return fmt.Errorf("s3: %s %q on %s: %w: %w", op, name, s.location, blob.ErrUnavailable, err)
	}
	return fmt.Errorf("s3: %s %q on %s: %w", op, name, s.location, err)
}

// isNetworkError reports whether err is a failure to reach the server or a
// connection lost in the middle of a request or response.
func isNetworkError(err error) bool {
	var ne net.Error
	var ue *url.Error
	var oe *net.OpError
	return errors.As(err, &ne) || errors.As(err, &ue) || errors.As(err, &oe) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EPIPE) || errors.Is(err, net.ErrClosed)
}
