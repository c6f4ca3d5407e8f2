// Package chunker splits a byte stream into content-defined chunks with
// FastCDC (Xia et al., 2016): a gear rolling hash, a skipped minimum, and
// "normalized chunking" (a harder cut condition before the average size and
// an easier one after it) that narrows the chunk-size distribution.
//
// Vocabulary:
//   - Chunk: a contiguous piece of the stream; the unit of deduplication.
//     Its boundary depends only on the ~64 bytes before it, so an insertion
//     or deletion changes only the chunks around the edit and the rest of a
//     shifted file still deduplicates.
//   - Params: minimum, average and maximum chunk size plus the seed of the
//     gear table.
//   - Gear table: 256 pseudo-random 64-bit values, one per byte value,
//     derived from the seed with keyed BLAKE3.
//
// # Sizes: 512 KiB minimum, 1 MiB average, 8 MiB maximum
//
//   - Per-chunk costs (an index entry of ~50 bytes on disk, one lookup, one
//     encryption, one slot in a pack's trailer) are paid once per MiB rather
//     than once per 64 KiB (restic: 512 KiB–8 MiB, ~1 MiB average; borg:
//     2 MiB average; kopia: 4 MiB). A 10 TiB vault is about 10 million
//     chunks — an index of ~0.5 GB on disk, none of it in the Go heap.
//   - 1 MiB is still small enough that a 5 % edit of a multi-GB file, or a
//     database dump with scattered changes, re-stores only the chunks it
//     touches. Small files are chunks of their own (the layer above stores
//     any file below the minimum as one blob), so the minimum does not hurt
//     their deduplication.
//   - The 8 MiB maximum bounds memory per chunk in flight and caps the
//     damage of pathological (e.g. all-zero) input, which would otherwise
//     never cut.
//   - With normalization level 2 (cut mask of log2(avg)+2 bits before the
//     average, log2(avg)-2 bits after), the measured mean chunk size on random
//     data is ≈ 1.2 MiB and 99 % of chunks fall between 0.6 and 2 MiB (see
//     TestDistribution).
//
// # Per-repository gear table
//
// The gear table is derived from a per-repository seed (itself derived from
// the repository's data key, or copied from another repository at init).
// With a public table, the sizes of the stored chunks — visible to anyone
// who can see the encrypted packs — would let an observer test whether a
// known file is stored ("fingerprinting by chunk lengths"). A secret table
// makes boundaries unpredictable without the key. The trade-off: two
// repositories with different seeds cut the same data at different places,
// so data copied into a repository keeps the source's boundaries and does
// not deduplicate against a later direct backup of the same data with the
// destination's seed. A repository created to receive copies can adopt the
// source's chunker parameters at init to keep both deduplicating.
//
// # Speed
//
// Next reads directly into the caller's buffer (the only copy after the
// kernel's), hashes nothing in the first MinSize bytes of each chunk, and
// runs the gear loop over the rest: 1.8 GB/s on one core of the build
// machine (BenchmarkChunker, random data, default sizes).
package chunker
