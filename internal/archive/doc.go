// Package archive holds Coffer's engines between resources and a
// repository: the directory archiver (a directory tree → a "tree"
// snapshot), the stream archivers (a pipe → content-defined chunks; a
// volume image or block device → fixed-size blocks), the restorer (a
// snapshot → a directory, a file or a writer) and the copier (a snapshot in
// one repository → an independent snapshot in another, under another key).
//
// Vocabulary:
//   - Repo: the subset of the repository engine the archive layer uses
//     (blobs by type and ID, packs, snapshots, a content-defined chunker).
//     internal/archive/repoadapt adapts *repo.Repository to it; tests use the
//     in-memory archivetest.MemRepo.
//   - Snapshot: the commit record of one backup: kind ("tree" or "stream"),
//     root tree ID, parent, host, paths, tags, size, file count and free-form
//     Meta. Saving it is the commit point: everything it references is
//     flushed first.
//   - Warning: something a backup skipped or could not capture exactly
//     (a socket, a FIFO, a file that changed while it was read, an
//     unreadable file when Options.SkipUnreadable is set). The caller decides
//     whether a backup with warnings is COMPLETED or PARTIAL.
//   - Include path: a slash-separated path relative to the snapshot root
//     naming a file or subtree to restore; resolved before anything is
//     written.
//   - Translation map: for incremental copies, the source-ID → destination-ID
//     pairs of one copied snapshot, stored encrypted in the destination as a
//     data blob named by the destination snapshot's Meta["coffer.copy.map"]
//     and listed in its Extra, so garbage collection keeps it. Copies
//     between repositories that name blobs alike (SourceKey equal: one
//     deduplication domain) need none: IDs are kept, what the destination
//     holds is not read, a source pack whose blobs the destination all
//     lacks is adopted whole (PackAdopter: its sealed bytes reused), and
//     the rest moves blob by blob as stored (StoredCopier).
//
// Tree and stream layout is defined in package tree.
package archive
