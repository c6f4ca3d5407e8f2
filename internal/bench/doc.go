// Package bench generates reproducible benchmark data sets and measures
// backup tools running as child processes.
//
// Vocabulary:
//   - Dataset: a directory tree generated from a seed and a target size:
//     thousands of small text-like files (compressible, ~45% of the bytes),
//     a few large incompressible files (~35%), exact duplicates of some of
//     them (~10%) and shifted duplicates — a large file's bytes with a few
//     bytes inserted near the start and in the middle (~10%) — which only
//     content-defined chunking deduplicates.
//   - Mutation: a reproducible change of about a given fraction of the
//     bytes: rewritten and appended small files, overwritten regions in
//     large files, new files and deleted files.
//   - Measurement: one timed child process with its peak RSS (from wait4's
//     rusage) and whether the page cache was dropped before it.
package bench
