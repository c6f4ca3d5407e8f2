// Package s3 is the blob.Store driver for S3-compatible object storage
// (AWS S3, MinIO, Ceph RGW, versitygw, ...), built on minio-go.
//
// Vocabulary:
//   - Endpoint: the server, "host:port" or a URL whose scheme chooses TLS.
//   - Bucket and Prefix: where the Store's objects live. Object name "n"
//     is the key Prefix + "/" + "n" (just "n" with an empty Prefix). Keys
//     under the prefix that are not valid object names (see
//     blob.ValidName) are foreign and ignored by List.
//   - Conditional write: PutIfAbsent is a single PUT with
//     "If-None-Match: *", which the server rejects with 412 when the key
//     exists; AWS S3 (since 2024-08), MinIO, versitygw and Ceph RGW support
//     it. New probes for it with a throw-away key (".coffer-probe~…",
//     invisible to List) unless Options.SkipProbe is set.
//   - Best-effort PutIfAbsent: on a server that ignores or rejects
//     If-None-Match, PutIfAbsent checks with a HEAD and then PUTs. Two
//     racers can then both succeed, so New refuses such a server unless
//     Options.AllowBestEffortPutIfAbsent is set, and logs a warning when it
//     falls back.
//
// Put is always a single PUT of the whole object (no multipart upload; S3
// accepts up to 5 GiB that way, far above the engine's ~64 MiB objects)
// with a Content-MD5 header, so the server rejects a body damaged on the
// way. Get uses a ranged GET and checks that the server honoured the range.
//
// minio-go's own retries are off by default (Options.MaxRetries = 1): the
// retry decorator (package blob/retry) owns retrying, and two layers of
// retries multiply waiting times.
//
// Errors are translated in one function, translate: NoSuchKey and 404 →
// blob.ErrNotFound; 412 PreconditionFailed → blob.ErrExists; quota and
// storage-full codes and 507 → blob.ErrNoSpace; 5xx, 429, SlowDown,
// RequestTimeout, ConditionalRequestConflict and network failures (refused
// or reset connections, timeouts, truncated bodies) → blob.ErrUnavailable;
// NoSuchBucket and rejected credentials get a message that says so; a
// cancelled context is returned as the context's error.
package s3
