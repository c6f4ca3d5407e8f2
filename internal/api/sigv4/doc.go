// Package sigv4 verifies AWS Signature Version 4 on incoming HTTP requests,
// the way AWS JSON and rest-json services do.
//
// Vocabulary:
//
//   - Access key ID (AKID): the public half of a credential pair; it names
//     the secret the client signed with. A CredentialStore maps it to its
//     secret access key.
//   - Credential scope: "<yyyymmdd>/<region>/<service>/aws4_request". It
//     binds a signature to one day, one region and one service; the region
//     in it is the region the client is talking to.
//   - Signed headers: the lower-case header names the client listed in
//     SignedHeaders. Only those headers are part of the signature; any
//     other header may be added or changed in transit without effect.
//   - Canonical request: method, canonical URI, canonical query, canonical
//     headers, signed-header list and payload hash, joined by newlines. The
//     client and the server each build it; the signature is an HMAC over
//     its hash, so both must build it byte for byte the same.
//   - Signing key: HMAC chain "AWS4"+secret -> date -> region -> service ->
//     "aws4_request". It changes once a day per region, so the Verifier
//     caches it.
//   - Presigned request: the same signature carried in the query string
//     (X-Amz-Algorithm, X-Amz-Credential, X-Amz-Date, X-Amz-Expires,
//     X-Amz-SignedHeaders, X-Amz-Signature) instead of the Authorization
//     header.
//
// A Verifier checks one request at a time and returns the caller's Identity
// (access key, region from the scope, signing time) or an
// *awsproto.ProtocolError with the AWS error name and HTTP status that AWS
// itself would send; see errors.go for the table.
//
// Canonicalisation follows what botocore and aws-sdk-go-v2 do for non-S3
// services: the canonical URI is the request path as sent, after
// dot-segment removal, percent-encoded a second time except for "/"; the
// canonical query is every parameter decoded, re-encoded per RFC 3986
// ("%20" for a space) and sorted by encoded key, then encoded value.
package sigv4
