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
//   - Migration: an embedded file migrations/NNNN_name.sql. Open applies the
//     pending ones in one transaction and records each in schema_migrations;
//     a database that has a version this binary does not know is refused
//     (meta.ErrSchemaTooNew) and left untouched. Never edit a released
//     migration; add the next number.
//
// Tables keep the columns lists filter and sort on, plus the object as
// JSON (the json tags of the internal/backup types) in a data column. Job
// state, lease and progress live in columns so that the queue operations
// and UpdateProgress are single small UPDATEs. Frequently run statements are
// prepared once and cached per connection pool.
//
// # Durability: PRAGMA synchronous
//
// The database runs in WAL mode with synchronous=NORMAL by default
// (Options.Synchronous selects FULL). With NORMAL a commit appends to the
// WAL file without fsync; the WAL is fsync'd at checkpoints. Consequences:
//
//   - A crash or kill of the Coffer process never loses a committed
//     transaction: the WAL is in the operating system's page cache and is
//     replayed on the next open.
//   - A power loss or kernel crash can lose the transactions committed since
//     the last checkpoint (seconds of work, at most about 1000 pages of WAL),
//     but never corrupts the database: it reopens at an earlier consistent
//     state. What that means for Coffer: a job may reappear RUNNING or
//     CREATED (the runner resumes or fails it); a recovery point or vault
//     recorded just before the power cut may be missing afterwards even
//     though a client saw it (a missing point's data stays in the
//     repository, unreferenced, until the repository is pruned).
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
// # Sharing the file
//
// One Coffer process should own the file. A second process opening it is
// safe (SQLite locks; busy_timeout makes it wait) but loses the no-BUSY
// guarantee and throughput. Backups of the database: copy it after Close,
// or use SQLite's online backup; the WAL must travel with the file while
// the store is open.
package sqlite
