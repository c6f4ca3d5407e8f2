// Package server is the net/http shell around Coffer's API handler: it
// owns the listener, the HTTP timeouts and graceful shutdown, and wraps
// the handler in a short middleware chain. Each request passes, outermost
// first:
//
//  1. request ID: a fresh UUID, sent as x-amzn-RequestId on every response
//     and available to the handler as RequestID(ctx);
//  2. access log: one slog record per request (debug level by default,
//     warn for 5xx);
//  3. recovery: a panic becomes a 500 InternalFailure (logged with its
//     stack) and the server keeps serving;
//  4. anonymous-request check: a request with no SigV4 credentials is
//     refused before its body is read;
//  5. body buffering: the body is read once, up to MaxBodyBytes (413
//     RequestEntityTooLargeException beyond), and r.Body is replaced by a
//     reader over those bytes;
//  6. authentication: the SigV4 signature is verified (package sigv4) and
//     the caller's Identity — access key and region — is put in the
//     context, IdentityFrom(ctx).
//
// Every error this package sends is in the AWS rest-json error form
// (awsproto.WriteError), so SDKs surface it as a typed error.
package server
