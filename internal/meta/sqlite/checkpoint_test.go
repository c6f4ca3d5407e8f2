package sqlite

import (
	"context"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coffer/coffer/internal/meta"
)

// TestWALRestartsUnderSustainedWrites: with writers that never pause and
// readers that keep reading, the WAL keeps restarting (the writer finishes
// the checkpoints the checkpointer asks for), so its file stays near the
// restart threshold instead of growing with everything written.
func TestWALRestartsUnderSustainedWrites(t *testing.T) {
	ctx := context.Background()
	const restart = 128 // frames (512 KiB of 4 KiB pages)
	s := openT(t, Options{ckpt: ckptTuning{interval: 2 * time.Millisecond, restartFrames: restart}})
	wal := s.Path() + "-wal"

	// Each vault with its tag adds about two pages to the WAL: without
	// restarts the file would grow to about 2*perWriter*writers frames.
	const writers = 6
	perWriter := 400
	if testing.Short() {
		perWriter = 100
	}
	stop := make(chan struct{})
	var wg, others sync.WaitGroup
	var maxWAL atomic.Int64
	tags := map[string]string{"key": "a tag value that takes some room in the page"}
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perWriter {
				if _, err := s.CreateVault(ctx, tVault(fmt.Sprintf("w%d-%06d", w, i)), tags); err != nil {
					t.Errorf("CreateVault: %v", err)
					return
				}
			}
		}()
	}
	for range 2 { // readers of the database (tags are not cached)
		others.Add(1)
		go func() {
			defer others.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := s.ListTags(ctx, tKey(fmt.Sprintf("w0-%06d", i%100)).ARN()); err != nil {
					t.Errorf("ListTags: %v", err)
					return
				}
			}
		}()
	}
	others.Add(1)
	go func() {
		defer others.Done()
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			if fi, err := os.Stat(wal); err == nil && fi.Size() > maxWAL.Load() {
				maxWAL.Store(fi.Size())
			}
		}
	}()
	wg.Wait()
	close(stop)
	others.Wait()

	n := int64(writers * perWriter)
	if got := s.ckpt.finished.Load(); got < 2 {
		t.Errorf("the writer finished %d checkpoints in %d vault creations, want several", got, n)
	}
	const pageFrame = 4096 + 24
	// 24 restarts' worth: checkpoints lag on a loaded machine (2,104
	// frames seen with other test packages running), and unbounded growth
	// would reach about 4,800.
	if limit := int64(24 * restart * pageFrame); maxWAL.Load() > limit {
		t.Errorf("WAL file reached %d bytes (%d frames) after %d vault creations; want it bounded near %d frames",
			maxWAL.Load(), maxWAL.Load()/pageFrame, n, restart)
	}
	t.Logf("%d vaults created, %d writer checkpoints, WAL at most %d frames", n, s.ckpt.finished.Load(), maxWAL.Load()/pageFrame)

	// Nothing was lost on the way.
	path := s.Path()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(wal); err == nil && fi.Size() != 0 {
		t.Errorf("WAL after Close: %d bytes, want 0", fi.Size())
	}
	s2, err := OpenFile(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	var total int64
	p := meta.Page{}
	for {
		vs, next, err := s2.ListVaults(ctx, meta.VaultFilter{Region: tRegion, AccountID: tAccount}, p)
		if err != nil {
			t.Fatal(err)
		}
		total += int64(len(vs))
		if next == "" {
			break
		}
		p.NextToken = next
	}
	if total != n {
		t.Fatalf("after reopen: %d vaults, want %d", total, n)
	}
}
