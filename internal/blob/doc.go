// Package blob is Coffer's storage abstraction: a flat namespace of named,
// immutable objects ("blobs") on local disk or S3-compatible object storage.
//
// Vocabulary:
//   - Store: one storage location (a directory, or a bucket plus prefix).
//   - Name: a slash-separated object key relative to the Store's root, such as
//     "packs/3f/3f9a...". Names are 1 to MaxNameLen bytes of [A-Za-z0-9._/-],
//     never start or end with "/", never contain an empty element ("a//b"),
//     never contain "." or ".." elements, and no element is longer than
//     MaxElementLen bytes. ValidName checks these rules; every driver calls it.
//   - Prefix: the start of a name, used by List. ValidPrefix accepts "" and
//     every string that is the start of some valid name ("packs/3f/3f9").
//   - Object: the bytes stored under a Name. Objects are written whole and
//     atomically; there is no append and no partial overwrite.
//   - Range: the part of an object Get returns, given as offset and length.
//   - Driver: a Store implementation that talks to real storage (localfs, s3)
//     or keeps objects in memory (mem).
//   - Decorator: a Store that wraps another Store to add one cross-cutting
//     behaviour: retry (transient failures), limit (concurrency and byte
//     accounting), fault (deterministic fault injection for tests).
//
// Everything above this package (the repository engine) treats a Store as
// untrusted, possibly unreliable storage: it authenticates what it reads and
// retries what fails. Drivers only translate their SDK's errors into the
// sentinels below, in one function each; cross-cutting behaviour (retries,
// concurrency limits, fault injection) lives in decorators that wrap a Store.
//
// The conformance suite in package blobtest defines the contract in
// executable form; every driver and decorator runs it.
package blob
