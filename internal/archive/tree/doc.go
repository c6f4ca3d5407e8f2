// Package tree is the on-repository format of Coffer snapshots: how a
// directory, and a raw stream, is described by tree blobs.
//
// Vocabulary:
//   - ID: the 32-byte identifier of a blob in a repository (a keyed hash of
//     its plaintext, computed by the repository).
//   - Blob type: DataBlob holds file or stream content; TreeBlob holds an
//     encoded Tree.
//   - Tree: one directory's listing, a slice of Nodes sorted by name (byte
//     order, names unique). Encoded with Encode, decoded with Decode.
//   - Node: one directory entry with its full metadata: type, name (any bytes
//     except '/' and NUL), mode, owner, times in nanoseconds, size, device and
//     inode (for change detection and hard links), extended attributes,
//     symlink target, the Subtree ID of a directory, the Content of a file.
//   - Extent: one piece of a file's content in order: either a data chunk
//     (the ID of a DataBlob and its length) or a Hole (a run of zero bytes
//     of the given length that is not stored).
//   - Hard link: the second and later names of one inode (same dev+inode,
//     link count > 1) are Nodes of type Hardlink whose Target is the
//     slash-separated path, from the snapshot root, of the first name met in
//     the depth-first, name-ordered walk; they carry no content.
//   - Ref: a (type, ID) pair a tree blob points at; Refs lists them for the
//     repository's check and garbage collection.
//
// A snapshot's Root is the ID of the root directory's tree blob (kind
// "tree"), or, for a stream snapshot (kind "stream"), the ID of a tree blob
// holding exactly one File node that describes the stream. Restoring one
// path loads only the trees on the way from the root to it.
//
// Encoding (version 1): the magic "CTR1", a uvarint node count, then each
// node as a type byte, a uvarint field mask and the fields present in mask
// order (uvarint/zigzag varint integers, uvarint-length-prefixed strings,
// raw 32-byte IDs). It is compact, needs no reflection and decodes a
// 100,000-entry directory in a few tens of milliseconds; the repository
// compresses it further.
package tree
