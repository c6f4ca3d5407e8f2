package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"sync"
	"sync/atomic"
	"time"
)

// Checkpoints (see "Checkpoints and the WAL" in the package comment).
//
// SQLite's automatic checkpoint would run inside a commit on the writer
// connection, so every write queued behind that commit would wait for the
// checkpoint's page copies and fsyncs. The writer connection therefore has
// wal_autocheckpoint off, and:
//
//   - The checkpointer goroutine, on its own connection, runs a PASSIVE
//     checkpoint after commits (at most one per ckptInterval). It copies
//     the WAL into the database file and fsyncs both while the writer goes
//     on appending to the WAL: it blocks no one.
//   - Under sustained writes a PASSIVE checkpoint never catches up with the
//     end of the WAL, and SQLite only restarts the WAL (writes it again from
//     the beginning) when a write transaction starts with the whole WAL
//     checkpointed. So when the WAL holds restartFrames frames or more
//     after a background checkpoint, it asks the writer (restartWanted);
//     the writer, between two batches, checkpoints the few frames written
//     since, and its next transaction restarts the WAL. That pause (two
//     fsyncs and a few page copies) is the only checkpoint work on the
//     write path, once per restartFrames frames written. When readers hold
//     an old snapshot and the restart does not happen, the next background
//     checkpoint asks again; beyond hardFrames the writer waits for those
//     readers (RESTART mode).
//   - journal_size_limit (walSizeLimit) truncates the WAL file when it
//     restarts after it grew beyond that; Close truncates it to zero.
const (
	// ckptInterval is the least time between two background checkpoints. It
	// also bounds how long a commit stays only in the (unsynced) WAL when
	// synchronous is NORMAL.
	ckptInterval = 500 * time.Millisecond
	// restartFrames is the WAL length (frames of one page) from which the
	// writer finishes a checkpoint so that the WAL restarts.
	restartFrames = 16384
	// hardFrames is the WAL length from which the writer's checkpoint waits
	// for readers of old snapshots (RESTART) instead of skipping them.
	hardFrames = 2 * restartFrames
	// walSizeLimit is the journal_size_limit, in bytes.
	walSizeLimit = 64 << 20
)

// ckptTuning overrides the constants above (tests); zero fields keep them.
type ckptTuning struct {
	interval      time.Duration
	restartFrames int64
}

// ckptState is the checkpointer's part of a Store.
type ckptState struct {
	interval      time.Duration
	restartFrames int64
	hardFrames    int64

	db    *sql.DB       // one connection, used by the checkpointer goroutine
	kickc chan struct{} // capacity 1: "there were commits"
	done  chan struct{} // closed when the checkpointer goroutine exits

	// mu is held while a checkpoint runs, by the checkpointer or the
	// writer (SQLite runs one checkpoint at a time per database).
	mu sync.Mutex
	// restartWanted asks the writer goroutine to finish a checkpoint
	// between two batches (see above).
	restartWanted atomic.Bool
	// walFrames is the WAL length the last checkpoint saw.
	walFrames atomic.Int64
	// finished counts the writer's checkpoints that left nothing of the
	// WAL unchecked, each followed by a WAL restart (tests).
	finished atomic.Int64
}

func (c *ckptState) init(t ckptTuning) {
	c.interval, c.restartFrames = ckptInterval, restartFrames
	if t.interval > 0 {
		c.interval = t.interval
	}
	if t.restartFrames > 0 {
		c.restartFrames = t.restartFrames
	}
	c.hardFrames = c.restartFrames * (hardFrames / restartFrames)
	c.kickc = make(chan struct{}, 1)
	c.done = make(chan struct{})
}

// kick tells the checkpointer that commits happened; it never blocks.
func (c *ckptState) kick() {
	select {
	case c.kickc <- struct{}{}:
	default:
	}
}

// startCheckpointer opens the checkpoint connection and starts the
// checkpointer goroutine; stopCheckpointer (after stopWriter) stops it.
func (s *Store) startCheckpointer(ctx context.Context, path string, busy time.Duration, syncMode string) error {
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busy.Milliseconds()))
	// The checkpoint's fsyncs follow the synchronous setting of the
	// connection that runs it.
	q.Add("_pragma", "synchronous("+syncMode+")")
	q.Add("_pragma", "wal_autocheckpoint(0)")
	db, err := sql.Open("sqlite", path+"?"+q.Encode())
	if err == nil {
		db.SetMaxOpenConns(1)
		db.SetMaxIdleConns(1)
		db.SetConnMaxLifetime(0)
		db.SetConnMaxIdleTime(0)
		err = db.PingContext(ctx)
	}
	if err != nil {
		if db != nil {
			db.Close()
		}
		close(s.ckpt.done)
		return fmt.Errorf("sqlite: open %s for checkpoints: %w", path, err)
	}
	s.ckpt.db = db
	go s.checkpointer()
	return nil
}

func (s *Store) stopCheckpointer() {
	<-s.ckpt.done // s.quit is closed (stopWriter)
	if s.ckpt.db != nil {
		s.ckpt.db.Close()
	}
}

// checkpointer is the checkpointer goroutine.
func (s *Store) checkpointer() {
	defer close(s.ckpt.done)
	pause := time.NewTimer(0)
	<-pause.C
	for {
		select {
		case <-s.quit:
			return
		case <-s.ckpt.kickc:
		}
		s.ckpt.mu.Lock()
		frames, _, err := walCheckpoint(s.ckpt.db, "PASSIVE")
		s.ckpt.mu.Unlock()
		if err != nil {
			s.log.Warn("metadata store: background checkpoint failed", "err", err)
		} else {
			s.ckpt.walFrames.Store(frames)
			// frames is the WAL's length when the checkpoint started; the
			// writer has gone on appending since, so even when everything
			// up to there is checkpointed the WAL will not restart by
			// itself while writes go on.
			s.ckpt.restartWanted.Store(frames >= s.ckpt.restartFrames)
		}
		pause.Reset(s.ckpt.interval)
		select {
		case <-s.quit:
			pause.Stop()
			return
		case <-pause.C:
		}
	}
}

// finishCheckpoint runs on the writer goroutine between batches when the
// checkpointer asked for it: it checkpoints what is left of the WAL, so
// that the next write transaction restarts the WAL. If the checkpointer is
// running a checkpoint right now, it does nothing (the writer tries again
// after its next batch).
func (s *Store) finishCheckpoint() {
	if !s.ckpt.mu.TryLock() {
		return
	}
	defer s.ckpt.mu.Unlock()
	mode := "PASSIVE"
	if s.ckpt.walFrames.Load() >= s.ckpt.hardFrames {
		mode = "RESTART"
	}
	frames, done, err := walCheckpoint(s.wconn, mode)
	if err != nil {
		s.log.Warn("metadata store: checkpoint failed", "err", err)
		return
	}
	s.ckpt.walFrames.Store(frames)
	if done >= frames {
		s.ckpt.finished.Add(1)
		s.ckpt.restartWanted.Store(false)
	}
}

type queryRower interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// walCheckpoint runs PRAGMA wal_checkpoint(mode) and returns the number of
// frames in the WAL and how many of them are checkpointed.
func walCheckpoint(q queryRower, mode string) (frames, done int64, err error) {
	var busy int
	if err := q.QueryRowContext(context.Background(), "PRAGMA wal_checkpoint("+mode+")").Scan(&busy, &frames, &done); err != nil {
		return 0, 0, dbErr("checkpoint", err)
	}
	return frames, done, nil
}
