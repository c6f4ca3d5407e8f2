package repo

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/coffer/coffer/internal/blob"
)

// lockRecord is stored sealed under locks/gc while a garbage collection or
// index rebuild runs. Writers never take it.
type lockRecord struct {
	Session string    `json:"session"`
	Host    string    `json:"host"`
	PID     int       `json:"pid"`
	Purpose string    `json:"purpose"`
	Time    time.Time `json:"time"`
}

// lockMaintenance takes the maintenance lock (exclusive among GC and
// RebuildIndex runs, never among writers). A lock not refreshed for longer
// than timeout is considered abandoned and taken over. The lock is
// refreshed every timeout/4 until unlock is called.
func (r *Repository) lockMaintenance(ctx context.Context, purpose string, timeout time.Duration) (unlock func(), err error) {
	host, _ := os.Hostname()
	rec := func() []byte {
		b, _ := json.Marshal(lockRecord{Session: r.sess.ID(), Host: host, PID: os.Getpid(), Purpose: purpose, Time: r.clk.Now().UTC()})
		return r.sealMeta("lock", b)
	}
	for attempt := 0; ; attempt++ {
		err := r.st.PutIfAbsent(ctx, gcLockName, rec())
		if err == nil {
			break
		}
		if !errors.Is(err, blob.ErrExists) {
			return nil, fmt.Errorf("repo: take maintenance lock: %w", err)
		}
		raw, err := blob.ReadAll(ctx, r.st, gcLockName)
		if errors.Is(err, blob.ErrNotFound) && attempt < 3 {
			continue // released meanwhile
		}
		if err != nil {
			return nil, fmt.Errorf("repo: read maintenance lock: %w", err)
		}
		var held lockRecord
		plain, oerr := r.openMeta("lock", gcLockName, raw)
		if oerr == nil {
			oerr = json.Unmarshal(plain, &held)
		}
		age := r.clk.Now().Sub(held.Time)
		if oerr == nil && age <= timeout {
			return nil, fmt.Errorf("%w: %s by %s pid %d since %s (refreshed %s ago)", ErrLocked, held.Purpose, held.Host, held.PID,
				held.Time.Format(time.RFC3339), age.Round(time.Second))
		}
		if attempt >= 3 {
			return nil, fmt.Errorf("%w: could not take over an abandoned lock", ErrLocked)
		}
		// Abandoned (or unreadable): take it over, unless it changed.
		if cur, err := blob.ReadAll(ctx, r.st, gcLockName); err == nil && !bytes.Equal(cur, raw) {
			continue
		}
		r.log.Warn("taking over an abandoned maintenance lock", "holder_host", held.Host, "holder_pid", held.PID, "age", age)
		if err := r.st.Delete(ctx, gcLockName); err != nil {
			return nil, fmt.Errorf("repo: remove abandoned lock: %w", err)
		}
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			case <-r.clk.After(timeout / 4):
			}
			if err := r.st.Put(r.bg, gcLockName, rec()); err != nil {
				r.log.Warn("refreshing the maintenance lock failed", "err", err)
			}
		}
	})
	return func() {
		close(stop)
		wg.Wait()
		if err := r.st.Delete(context.WithoutCancel(ctx), gcLockName); err != nil {
			r.log.Warn("releasing the maintenance lock failed; it expires on its own", "err", err)
		}
	}, nil
}
