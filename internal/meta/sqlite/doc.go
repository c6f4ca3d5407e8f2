// Package sqlite is the embedded meta.Store: one SQLite database file,
// <data_dir>/coffer.db, through modernc.org/sqlite (pure Go, driver name
// "sqlite").
//
// Vocabulary:
//
//   - Writer: the single connection all writes use, owned by one writer
//     goroutine. Callers' write transactions queue to it; it runs what is
//     waiting as one batch (group commit: one BEGIN IMMEDIATE … COMMIT, a
//     SAVEPOINT per caller so that a failing one rolls back alone) and
//     answers each caller after the COMMIT. Writers of this process
//     therefore never meet SQLITE_BUSY, and under concurrent load a commit's
//     cost is shared by many writes.
//   - Readers: a pool of read-only connections (query_only). WAL mode lets
//     them read the last committed state while the writer writes.
//   - Vault cache: every vault row of the database (its JSON, recovery
//     point count and the columns lists filter on) in memory, each decoded
//     once, on its first read (vaults are few: AWS allows 300 per account
//     and region). GetVault, ListVaults and CountRecoveryPoints read it and
//     never touch SQLite. It is loaded at Open and changed only by
//     commit hooks: a write transaction that changes a vault or a count
//     registers the change, and the writer goroutine applies it after the
//     COMMIT and before answering — so the cache holds only committed
//     state, and a caller sees its own write in it as soon as the write
//     returns. A write rolled back (alone, to its savepoint, or by a failed
//     COMMIT) leaves the cache alone. What a read returns is decoded from
//     the stored JSON, so it is exactly what a database read would return;
//     readers get deep copies. Reads inside write transactions still read
//     the database (they must see the batch's earlier, uncommitted writes).
//   - Checkpointer: a goroutine with its own connection that copies the WAL
//     into the database file (see "Checkpoints and the WAL").
//   - Owner: the one Store that has the file open. The cache is right only
//     while nothing else writes the file, so Open takes an exclusive flock
//     on <file>-lock and a second Store on the same file — in this process
//     or another — fails with ErrInUse until the first is closed.
//   - Migration: an embedded file migrations/NNNN_name.sql. Open applies the
//     pending ones in one transaction and records each in schema_migrations;
//     a database that has a version this binary does not know is refused
//     (meta.ErrSchemaTooNew) and left untouched. Never edit a released
//     migration; add the next number.
//
// Tables keep the columns lists filter and sort on, plus the object as
// JSON (the json tags of the internal/backup types) in a data column.
// vaults is a rowid table with a UNIQUE (region, account, name) key, so a
// new vault appends its row at the end of the table and takes one small
// random index insert (migration 2 explains why). Job
// state, lease and progress live in columns so that the queue operations
// and UpdateProgress are single small UPDATEs. Frequently run statements are
// prepared once and cached per connection pool.
//
// # Durability: PRAGMA synchronous
//
// The database runs in WAL mode with synchronous=NORMAL by default
// (Options.Synchronous selects FULL). With NORMAL a commit appends to the
// WAL file without fsync; the WAL is fsync'd at checkpoints, which the
// checkpointer runs right after a commit when it is idle, and at most
// ckptInterval (500 ms) after it under sustained writes (a shorter
// interval costs more page copies and fsyncs per second: each checkpoint
// copies a page once however many commits changed it).
// Consequences:
//
//   - A crash or kill of the Coffer process never loses a committed
//     transaction: the WAL is in the operating system's page cache and is
//     replayed on the next open.
//   - A power loss or kernel crash can lose the transactions committed
//     since the last checkpoint (under sustained writes up to about the
//     last half second, more when the disk is slow to fsync), but never
//     corrupts the database: it reopens at an earlier consistent state.
//     What that means for Coffer: a job may reappear RUNNING or CREATED
//     (the runner resumes or fails it); a recovery point or vault recorded
//     just before the power cut may be missing afterwards even though a
//     client saw it (a missing point's data stays in the repository,
//     unreferenced, until the repository is pruned).
//   - FULL fsyncs the WAL on every commit: no committed transaction is lost
//     even on power loss, at the cost of one fsync per commit (group commit
//     shares it between concurrent writers, but a single client pays a full
//     disk flush per request — milliseconds on ordinary disks).
//
// NORMAL is the default because the API target is more than 10,000 simple
// vault requests per second on two cores, and because the data that must
// never be lost — the backup data itself — is made durable by the
// repository engine (blob.Store.Put is durable) before its recovery point
// is recorded here. Choose FULL where metadata must survive power loss
// exactly as acknowledged.
//
// # Checkpoints and the WAL
//
// SQLite's automatic checkpoint would run inside a commit on the writer, so
// every write queued behind that commit would wait for its page copies and
// fsyncs. The writer has wal_autocheckpoint off instead; the checkpointer
// runs PASSIVE checkpoints on its own connection after commits, without
// blocking the writer or readers. SQLite restarts the WAL (writes it again
// from its beginning) only when a write transaction starts with the whole
// WAL checkpointed, which a background checkpoint never achieves while
// writes go on; so when the WAL has reached restartFrames (16384 frames,
// 64 MiB of 4 KiB pages) the writer, between two batches, checkpoints the
// little the checkpointer has not, and its next transaction restarts the
// WAL. That pause (two fsyncs) is the only checkpoint work on the write
// path: once per 64 MiB of WAL. Readers that still read an old snapshot
// can prevent a restart; the writer retries after the next background
// checkpoint, and beyond twice the threshold waits for them (RESTART). A
// WAL file that grew beyond 64 MiB is truncated to that when it restarts;
// Close checkpoints everything and truncates it to zero.
//
// # Sharing the file
//
// One Store owns the file (see Owner): a second Open fails with ErrInUse.
// The ownership lock is released by Close or when the process dies, so a
// restart after a crash opens normally. Backups of the database: copy it
// after Close, or use SQLite's online backup; the WAL must travel with the
// file while the store is open.
package sqlite
