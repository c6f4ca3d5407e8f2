// Package repo is Coffer's repository engine: deduplicated, compressed,
// encrypted storage of blobs and snapshots in a blob.Store (local disk or
// S3), safe against crashes, concurrent writers and concurrent garbage
// collection.
//
// # Vocabulary
//
//   - Repository: one vault's storage location plus its key. Open returns a
//     *Repository; all its methods are safe for concurrent use.
//   - Blob: a unit of stored data, DataBlob (file or stream content, usually
//     one chunk from package chunker) or TreeBlob (metadata the layer above
//     defines: directories, stream maps). Its ID is the keyed BLAKE3-256 of
//     its plaintext under the repository's ID key (Hash), so equal data
//     dedups within a repository and cannot be correlated across them.
//   - Payload: a blob's plaintext, zstd-compressed unless that does not pay,
//     behind a one-byte flag. RawBlob is a payload outside the repository,
//     for copying between repositories without recompressing.
//   - Pack: one storage object holding many sealed blobs and an encrypted
//     trailer listing them (package pack); named by the BLAKE3-256 of its
//     bytes; 16 MiB by default. Tree blobs are written to packs of their
//     own (up to 4 MiB), so walking snapshots reads few packs.
//   - Index: where each blob is (pack, offset, length). Persistent as index
//     objects in storage (the truth, written by the repository after the
//     packs they list are durable) and, locally, as memory-mapped sorted
//     segments (package index) — never as a Go map of every blob. With
//     Options.CacheDir the segments persist: an Open reads only index
//     objects it has not seen, and after a garbage collection only the
//     rewritten objects (tombstoning the deleted packs). Go heap per blob:
//     zero for the cached index; about 130 bytes for blobs added since, up
//     to 100,000 of them (then spilled to a segment); about 80 bytes per
//     blob saved and not yet in an index object (at most 128K of them).
//     Disk: 52 bytes per blob in the cache, 45 in storage.
//   - Snapshot: the commit record of one backup: a root TreeBlob plus
//     metadata. Writing it is the commit point.
//   - Data key: 32 random bytes per repository, stored only wrapped by a KEK
//     (key-encryption key) in keys/<id>; all subkeys derive from it (package
//     crypto). Keystore: a directory of named KEKs (mode 0600 files).
//   - Session: a marker object (sessions/<id>) an open, writable Repository
//     keeps alive with heartbeats; it tells garbage collection that a
//     writer may hold an old view of the index.
//   - Plan: a garbage collection's list of condemned packs (gc/<id>).
//
// # Storage layout
//
//	keys/<16 hex>          data key sealed by a KEK (JSON; XAES-256-GCM; names its KEK)
//	config                 sealed: format version, repository ID, chunker parameters
//	packs/<2 hex>/<64 hex> packs
//	index/<64 hex>         sealed index objects, named by keyed hash of their plaintext
//	snapshots/<64 hex>     sealed snapshots (JSON), named by keyed hash (the snapshot ID)
//	sessions/<24 hex>      sealed session markers (host, pid, heartbeat time)
//	gc/<32 hex>            sealed garbage collection plans
//	locks/gc               sealed maintenance lock (GC, rebuild-index)
//
// Everything except keys/ is encrypted and authenticated with the data key
// (metadata objects carry their kind as associated data; blobs their type
// and ID; group records their offset, their members' types and IDs being
// bound by the sealed trailer and index). Given the storage and the KEK, a fresh process can list snapshots
// and read all data: nothing lives only in the local cache or in a database
// (disaster recovery). A wrong KEK fails Open with ErrWrongKey naming the
// keys that would open the repository; never garbage.
//
// # Write path and performance
//
// SaveBlob deduplicates against blobs in flight and the index, copies the
// data and returns; Workers goroutines (default GOMAXPROCS) compress and
// seal blobs directly into reserved slots of the open pack buffer, and
// Uploads goroutines Put full packs, so compression, encryption
// and I/O overlap with the caller's chunking and hashing. Backpressure: a
// bounded job queue and a pool of max(2, Uploads) data pack buffers (plus the
// open tree pack, at most 4 MiB): one pack fills while the other uploads.
// Memory of the pipeline ≈ max(2, Uploads) × (PackSize + 1 MiB) + 3 × Workers ×
// chunk size — about 55 MB for a backup of any size with the defaults.
// Incompressible data is detected by compressing an 8 KiB sample with the
// fastest zstd level; it is then stored without spending time in zstd.
// Data blobs of at most Options.GroupMax bytes (64 KiB) are compressed
// together, ~1 MiB at a time, into group records (package pack): one zstd
// input instead of thousands of small ones, and the words small text files
// share compressed once. A member's read decompresses its record (≤ ~1
// MiB); damage to a record fails all its members, each named.
// Benchmarks: BenchmarkBackup* (full path chunk → hash → dedup → compress →
// seal → pack → fsync'd local disk), BenchmarkRestore, BenchmarkLoadBlob,
// BenchmarkSaveBlobSmall, BenchmarkCompressSeal, and the crypto, chunker and
// index packages' micro-benchmarks. Measured on the shared 2-vCPU build VM
// while other builds ran (load average 2–5, so pessimistic): full path
// 170–340 MB/s for incompressible data and ~240 MB/s for text; restore
// (ReadPackBlobs) 1.0–1.8 GB/s; LoadBlob 2.3–2.8 GB/s. By component on an
// idle core: chunker 1.8 GB/s, BLAKE3 2.7 GB/s, XAES-256-GCM 4.9 GB/s,
// sample-and-seal of incompressible data 3 GB/s, zstd on text 320 MB/s —
// about 1.5 CPU-ms per MB of incompressible data end to end.
//
// # Crash safety
//
// Ordering makes every crash harmless: a pack is Put (durable on return)
// before any index object lists it; an index object before any snapshot
// references its blobs (SaveSnapshot flushes first); a snapshot is the
// commit. A crash therefore leaves at most packs no index lists, or blobs no
// snapshot references — both removed by a later GC — and never a snapshot
// with missing data. Writers only add objects under unique names (packs
// and index objects by content hash, snapshots by content hash, sessions
// and plans by random IDs) and never rewrite them, so two writers — two
// processes or two Repository values — cannot corrupt each other; at worst
// both store the same blob (harmless duplicates, dropped by repacking).
// Long backups write an index object every 64 packs, so an interrupted
// backup's data is reused by the next attempt.
//
// If a pack upload fails (disk full, storage unreachable), blobs already
// reported as saved may be lost, so the Repository refuses further writes
// (ErrWriteFailed) and the current backup fails with an error wrapping the
// storage's (blob.ErrNoSpace, ...). Open the repository again and retry:
// what was uploaded and indexed is reused. A failed index or snapshot write
// loses nothing and can be retried on the same Repository.
//
// # Garbage collection without stopping writers
//
// GC holds the maintenance lock (only against other GCs and index
// rebuilds) and never blocks writers. The danger it must avoid: a writer
// that decided, from its view of the index, that a blob is already stored,
// and then commits a snapshot referencing it after GC deleted it. The
// protocol:
//
//  1. Open writes the session marker first, then reads the plans and the
//     index. A writer excludes packs condemned by any plan from its dedup
//     decisions (HasBlob and SaveBlob's dedup) — it stores such data again —
//     but may still read them. Sessions are refreshed every
//     HeartbeatInterval and rotated (new marker first, then the old one
//     deleted, then plans and index re-read) after a whole heartbeat
//     interval without dedup decisions or pending blobs, so a long-lived
//     Repository does not hold GC back. (Not at commits: another backup on
//     the same Repository may rely on decisions made under the old session.)
//  2. Plan (phase 1): list snapshots, then read the index, then list packs
//     (in that order, so everything a listed snapshot references is seen).
//     Mark every blob reachable from every snapshot (the layer above's
//     TreeRefs decodes trees), one bit per index entry. Packs with no live
//     blob are condemned; packs whose dead bytes reach RepackThreshold have
//     their live blobs copied (still sealed, after authentication) into new
//     packs and are condemned; packs no index lists are condemned as
//     orphans. Write the plan; make GC's own Repository exclude its packs;
//     then list the sessions and record them in the plan. Every session is
//     either in that list or was opened after the plan was visible, and then
//     excludes its packs. GC's own session is listed only if it was used for
//     dedup decisions (a backup on the same Repository); a Repository opened
//     just to collect garbage completes a plan in one call, while one that
//     also served backups completes it after it goes idle or is closed.
//  3. Complete (phase 2, in the same run or a later one): only when no
//     session recorded in the plan is alive any more (and the plan is older
//     than GracePeriod). List snapshots created since the plan, then read
//     the index, and mark what they reference, preferring copies outside
//     condemned packs: a condemned pack holding the only copy of such a
//     blob is rescued (a recorded writer reused it). Orphans that got indexed
//     meanwhile are kept. Then write new index objects without the deleted
//     packs, delete the index objects they replace, delete the packs, and
//     delete the plan — in that order, so a crash at any point leaves a
//     consistent repository (possibly unindexed packs, removed next time).
//
// A session whose heartbeat is older than GCOptions.SessionTimeout (default
// one hour) is considered dead: GC deletes its marker and proceeds. A
// writer that was merely frozen that long notices its missing marker at its
// next heartbeat or commit and fails with ErrSessionExpired instead of
// committing. The residual risk is a writer frozen for longer than the
// timeout exactly between that check and its snapshot write; keep
// SessionTimeout far above HeartbeatInterval. Callers that reuse blob IDs
// from an earlier snapshot without saving the data (unchanged files) must
// confirm each with HasBlob, which answers false for blobs only in
// condemned packs.
//
// A damaged plan is ignored by writers (no GC can complete a plan it cannot
// read, so its packs stay) and makes GC stop with a message naming it; Check
// reports it; deleting it is safe.
//
// GC memory: one bit per index entry for marks, one int64 pair per pack,
// the marking stack, and one merged, memory-mapped copy of the index.
//
// # Verification and repair
//
// Check compares the index with the packs present and their sizes, reads
// every tree, and (with ReadData) reads every pack: its hash against its
// name, its trailer against the index, and every blob authenticated,
// decompressed and re-hashed. Each Problem names the pack, the blob and the
// snapshots affected. Check and RebuildIndex hold the maintenance lock, so
// no GC deletes packs under them. RebuildIndex rewrites the index from the
// packs' trailers.
package repo
