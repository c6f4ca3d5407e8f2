// Package localfs is the blob.Store driver for a directory on a local (or
// locally mounted) file system.
//
// Vocabulary:
//   - Root: the directory that holds the store. Object "packs/3f/3f9a" is
//     the file Root/packs/3f/3f9a; directories are created on demand and
//     never removed (an empty directory is harmless and removing it would
//     race with a concurrent Put into it).
//   - Temp file: every write first goes to a file named ".coffer-tmp~…" in
//     the object's directory. The "~" makes it an invalid object name, so
//     temp files are invisible to List, Get and Stat. A write is the
//     sequence: write temp file, fsync it, rename it over the object name
//     (Put) or rename it without replacing (PutIfAbsent), fsync the
//     directory. Directories created on the way are fsync'd into their
//     parents, so a successful Put survives a power loss.
//   - Stale temp file: one left behind by a crash or kill in the middle of a
//     write. Sweep removes temp files whose modification time is older than
//     Options.TempMaxAge (default 15 minutes, far longer than any single
//     write takes); New starts one Sweep in the background unless
//     Options.SkipSweep is set, and Close waits for it.
//   - Foreign file: anything under Root whose path is not a valid object
//     name (see blob.ValidName), such as "lost+found" or an editor's backup
//     file. Foreign files are ignored by List and never touched.
//
// PutIfAbsent is atomic: it uses renameat2(RENAME_NOREPLACE) on Linux and
// falls back to link(2) + unlink(2) on file systems without it. A file
// system with neither fails PutIfAbsent with a clear error rather than
// pretending.
//
// Limitation: a name cannot be both an object and a directory of other
// objects ("a" and "a/b"); such a Put fails with an error that says so.
// Coffer's repository layout never does this.
//
// Errors are translated in one function, translate: ENOENT and ENOTDIR on a
// read become blob.ErrNotFound, ENOSPC and EDQUOT blob.ErrNoSpace, EEXIST in
// PutIfAbsent blob.ErrExists, ETIMEDOUT/ENOTCONN/EAGAIN/EINTR/EMFILE/ENFILE
// (a network file system or a process out of descriptors) blob.ErrUnavailable;
// EACCES, EPERM, EROFS and EIO are wrapped with a message that names the
// cause. The original *PathError is always kept in the chain.
package localfs
