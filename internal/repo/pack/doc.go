// Package pack defines the pack file format: many encrypted blobs in one
// storage object, followed by an encrypted trailer that lists them, so that
// a pack describes itself and storage alone suffices to rebuild the index.
//
// Vocabulary:
//   - Pack: one storage object, named "packs/<first 2 hex>/<hex>" after its
//     ID, an unkeyed BLAKE3 of its header and tail, which holds the BLAKE3
//     of its body (anyone can check a pack's integrity without the key; two
//     writers never produce the same name).
//   - Pack key: a random key drawn for each pack; its blobs are sealed
//     under it. The header holds it sealed under the repository's key.
//   - Sealed blob: crypto.AEAD sealing of the payload under the pack key,
//     with the blob's type and ID as associated data, so a blob cannot be
//     swapped for another.
//   - Payload: one flag byte (PayloadStored or PayloadZstd) followed by the
//     blob's bytes, stored or zstd-compressed.
//   - Group record: the plaintexts of many small blobs, concatenated,
//     compressed together (zstd finds the words that small text files
//     share, which it cannot when each is compressed alone) and sealed once,
//     with GroupAD (a tag and the record's offset) as associated data. Its
//     payload has the same flag byte as a blob's.
//   - Trailer: the list of Entries (type, ID, offset, sealed length,
//     plaintext length, group position) sealed under the repository's key,
//     magic "CPK3". A member of a group record has the record's offset and
//     length, and its plaintext's position within the record's plaintext;
//     members of one record are listed together. Trailers with magic "CPK2"
//     (written before group records existed) have no group field and are
//     still read.
//   - Tail: the sealed trailer, the body sum (BLAKE3 of the sealed blobs)
//     and the trailer's sealed length as a little-endian uint32, the last 4
//     bytes of every pack. Header and tail are the pack's only
//     repository-specific bytes.
//
// Layout:
//
//	header (magic "CPK2" | sealed pack key) | sealed blob 0 | sealed blob 1 | ... | sealed trailer | body sum [32] | uint32 len(sealed trailer)
//
// Why a key per pack: another repository of the same deduplication domain
// (a copy job's destination vault) can adopt a whole pack by writing the
// same body under its own header and trailer — the pack key re-sealed under
// its key, nothing else re-encrypted. Since the body enters the ID through
// its sum, the copy's name is known before its body moves, and one pass
// over the body, streamed, checks it against the source's authenticated
// sum. A holder of the source's key can read the
// adopted pack, which holds only what that key already opened.
package pack
