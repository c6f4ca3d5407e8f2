// Package pack defines the pack file format: many encrypted blobs in one
// storage object, followed by an encrypted trailer that lists them, so that
// a pack describes itself and storage alone suffices to rebuild the index.
//
// Vocabulary:
//   - Pack: one storage object, named "packs/<first 2 hex>/<hex>" after the
//     unkeyed BLAKE3-256 of its bytes (anyone can check a pack's integrity
//     without the key; two writers never produce the same name).
//   - Sealed blob: crypto.AEAD sealing of the payload, with the blob's type and
//     ID as associated data, so a blob cannot be swapped for another.
//   - Payload: one flag byte (PayloadStored or PayloadZstd) followed by the
//     blob's bytes, stored or zstd-compressed.
//   - Trailer: the sealed list of Entries (type, ID, offset, sealed length,
//     plaintext length), followed by its sealed length as a little-endian
//     uint32 — the last 4 bytes of every pack.
//
// Layout:
//
//	sealed blob 0 | sealed blob 1 | ... | sealed trailer | uint32 len(sealed trailer)
package pack
