package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"

	"github.com/coffer/coffer/internal/api/sigv4"
)

// reqState is the per-request state the middleware shares through the
// context: one context value (one allocation) for all of it. It is written
// only by the middleware, before the API handler runs.
type reqState struct {
	id          string
	body        []byte
	identity    sigv4.Identity
	hasIdentity bool
}

type stateKey struct{}

func stateFrom(ctx context.Context) *reqState {
	st, _ := ctx.Value(stateKey{}).(*reqState)
	return st
}

// RequestID returns the request's ID (the x-amzn-RequestId response
// header), or "" outside a request served by this package.
func RequestID(ctx context.Context) string {
	if st := stateFrom(ctx); st != nil {
		return st.id
	}
	return ""
}

// IdentityFrom returns the authenticated caller. ok is false if the request
// was not authenticated. With authentication disabled (Options.Verifier
// nil) it is the identity the request claims in its SigV4 credential, not
// verified, so that tests still get the region they addressed.
func IdentityFrom(ctx context.Context) (id sigv4.Identity, ok bool) {
	if st := stateFrom(ctx); st != nil && st.hasIdentity {
		return st.identity, true
	}
	return sigv4.Identity{}, false
}

// WithRequestID returns ctx carrying id as its request ID, for tests of
// handlers that run without the server.
func WithRequestID(ctx context.Context, id string) context.Context {
	st := &reqState{}
	if old := stateFrom(ctx); old != nil {
		*st = *old
	}
	st.id = id
	return context.WithValue(ctx, stateKey{}, st)
}

// WithIdentity returns ctx carrying id as the authenticated caller, for
// tests of handlers that run without the server.
func WithIdentity(ctx context.Context, id sigv4.Identity) context.Context {
	st := &reqState{}
	if old := stateFrom(ctx); old != nil {
		*st = *old
	}
	st.identity, st.hasIdentity = id, true
	return context.WithValue(ctx, stateKey{}, st)
}

// NewRequestID returns a random UUID (version 4), the form AWS uses for
// request IDs.
func NewRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	var out [36]byte
	hex.Encode(out[0:8], b[0:4])
	out[8] = '-'
	hex.Encode(out[9:13], b[4:6])
	out[13] = '-'
	hex.Encode(out[14:18], b[6:8])
	out[18] = '-'
	hex.Encode(out[19:23], b[8:10])
	out[23] = '-'
	hex.Encode(out[24:], b[10:])
	return string(out[:])
}
