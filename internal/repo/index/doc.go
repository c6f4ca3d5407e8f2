// Package index maps blob keys (type + ID) to their place in packs, with a
// memory footprint that does not grow with the size of the repository.
//
// Vocabulary:
//   - Entry: one blob's location: type, ID, pack ID, offset and sealed
//     length in the pack, and plaintext length.
//   - Index object: the persistent, authoritative form in storage
//     ("index/<hex>"), written by the repository after the packs it lists are
//     durable. Its plaintext format (EncodeObject/DecodeObject) lists packs
//     (ID, size) and their entries; the repository encrypts it.
//   - Segment: an immutable local file holding entries sorted by key, a
//     fan-out table and a pack table, memory-mapped and searched in place;
//     authenticated with a keyed BLAKE3 MAC so a damaged cache is detected and
//     rebuilt rather than trusted. Segments are a cache: they can always be
//     rebuilt from the index objects (and those from the packs).
//   - Overlay: a small in-memory map of entries added since the segments were
//     built; spilled into a new segment when it grows past a threshold.
//   - Set: the lookup structure = overlay + segments, minus excluded packs
//     (packs condemned by garbage collection).
//   - Builder: makes a segment from unsorted entries with an external merge
//     sort (bounded memory: sorted runs of at most RunEntries entries).
//   - Cache: a directory holding segments and a manifest (authenticated with
//     a keyed MAC) naming, per segment, the index objects whose entries it
//     holds, plus tombstones.
//   - Tombstone (Drop): a pack deleted by garbage collection whose entries
//     are still in a segment; lookups skip it and the next compaction
//     removes the entries. Index objects written by garbage collection list
//     the objects they supersede and the packs they dropped, so a cache is
//     updated in place instead of being rebuilt after every collection.
//
// # Memory and disk per blob
//
//   - Segment on disk: 52 bytes per entry + about 1 byte per entry of fan-out
//   - 40 bytes per pack + 96 bytes of header and MAC. 10 million blobs (a
//     10 TiB vault at 1 MiB per chunk) make a 0.5 GB file.
//   - Go heap: 0 bytes per segment entry. Segments are mmap'd (page cache,
//     reclaimable; MADV_RANDOM so a lookup touches one or two pages); the
//     per-segment state is a few hundred bytes plus one bit per pack for
//     exclusions.
//   - Overlay: about 130 bytes per entry (Go map), bounded by the spill
//     threshold (default 100,000 entries, ≈ 13 MB), so a backup's memory
//     depends on neither the vault's size nor its own.
//   - Index objects in storage: 45 bytes per entry + 44 per pack, plus 40
//     bytes of encryption overhead per object.
//
// # Lookup cost
//
// The fan-out table keeps the top bits of the ID (about n/3 buckets), so a
// lookup reads one fan-out word and binary-searches a bucket of ~3 entries:
// two cache lines of one or two pages. 100,000 lookups of a million-entry
// segment take a few tens of milliseconds (BenchmarkLookup).
package index
