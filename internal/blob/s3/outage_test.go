package s3

import (
	"bytes"
	"context"
	"errors"
	"io"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coffer/coffer/internal/blob"
	"github.com/coffer/coffer/internal/blob/blobtest"
	"github.com/coffer/coffer/internal/blob/retry"
	"github.com/coffer/coffer/internal/blob/s3/s3test"
)

// TestOutage stops the server in the middle of work: every operation must
// fail with ErrUnavailable (never hang, never claim NotFound), a reader
// open across the outage must fail the same way, and after a restart the
// same operations succeed.
func TestOutage(t *testing.T) {
	srv := s3test.StartServer(t)
	s := newStore(t, srv, srv.Bucket, "")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	small := []byte("survives the outage")
	big := blobtest.Data(9, 32<<20)
	if err := s.Put(ctx, "small", small); err != nil {
		t.Fatal(err)
	}
	if err := s.Put(ctx, "big", big); err != nil {
		t.Fatal(err)
	}
	rc, err := s.Get(ctx, "big", 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if _, err := io.ReadFull(rc, make([]byte, 1)); err != nil {
		t.Fatal(err)
	}

	srv.Stop()

	ops := []struct {
		name string
		fn   func() error
	}{
		{"Put", func() error { return s.Put(ctx, "new", small) }},
		{"PutIfAbsent", func() error { return s.PutIfAbsent(ctx, "lock", small) }},
		{"Get", func() error { _, err := blob.ReadAll(ctx, s, "small"); return err }},
		{"GetRange", func() error { _, err := s.Get(ctx, "small", 2, 3); return err }},
		{"Stat", func() error { _, err := s.Stat(ctx, "small"); return err }},
		{"List", func() error { return s.List(ctx, "", func(blob.Info) error { return nil }) }},
		{"Delete", func() error { return s.Delete(ctx, "small") }},
	}
	for _, op := range ops {
		start := time.Now()
		if err := op.fn(); !errors.Is(err, blob.ErrUnavailable) {
			t.Errorf("%s during the outage: got %v, want ErrUnavailable", op.name, err)
		}
		if d := time.Since(start); d > 10*time.Second {
			t.Errorf("%s during the outage took %v, want a prompt failure", op.name, d)
		}
	}
	// The open reader: the rest of the body is lost with the server (unless
	// the kernel had already buffered all of it).
	n, err := io.Copy(io.Discard, rc)
	if err != nil && !errors.Is(err, blob.ErrUnavailable) {
		t.Errorf("reading across the outage: got %v after %d bytes, want ErrUnavailable", err, n)
	}
	t.Logf("reader across the outage: %d more bytes, error %v", n, err)
	if err == nil && n != int64(len(big))-1 {
		t.Errorf("reading across the outage: got %d bytes and no error, want %d or ErrUnavailable", n, len(big)-1)
	}

	srv.Restart(t)

	for _, op := range ops {
		if err := op.fn(); err != nil {
			t.Errorf("%s after the restart: %v", op.name, err)
		}
	}
	got, err := blob.ReadAll(ctx, s, "big")
	if err != nil || !bytes.Equal(got, big) {
		t.Errorf("ReadAll(big) after the restart: got %d bytes, %v, want the %d bytes written", len(got), err, len(big))
	}
}

// TestOutageWithRetry checks that the retry decorator carries operations
// and an open reader across a server restart.
func TestOutageWithRetry(t *testing.T) {
	srv := s3test.StartServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var retried atomic.Int64
	var readRetried atomic.Bool
	s, err := retry.New(newStore(t, srv, srv.Bucket, ""), retry.Options{
		InitialBackoff: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond,
		MaxAttempts: 200, MaxElapsed: 30 * time.Second,
		OnRetry: func(op, name string, attempt int, err error, wait time.Duration) {
			retried.Add(1)
			if op == "read" {
				readRetried.Store(true)
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	big := blobtest.Data(10, 32<<20)
	if err := s.Put(ctx, "big", big); err != nil {
		t.Fatal(err)
	}
	rc, err := s.Get(ctx, "big", 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	head := make([]byte, 1000)
	if _, err := io.ReadFull(rc, head); err != nil {
		t.Fatal(err)
	}

	srv.Stop()
	restarted := make(chan struct{})
	go func() {
		defer close(restarted)
		time.Sleep(300 * time.Millisecond)
		srv.Restart(t)
	}()

	putErr := make(chan error, 1)
	go func() { putErr <- s.Put(ctx, "during", []byte("written during the outage")) }()
	rest, err := io.ReadAll(rc)
	if err != nil {
		t.Errorf("reading across the restart: %v", err)
	}
	if got := append(head, rest...); !bytes.Equal(got, big) {
		t.Errorf("reading across the restart: got %d bytes, want the %d bytes written", len(got), len(big))
	}
	if err := <-putErr; err != nil {
		t.Errorf("Put during the outage: %v", err)
	}
	<-restarted
	t.Logf("%d retries; the reader resumed: %v", retried.Load(), readRetried.Load())
	if retried.Load() == 0 {
		t.Errorf("no operation was retried: the outage was not observed")
	}
	got, err := blob.ReadAll(ctx, s, "during")
	if err != nil || string(got) != "written during the outage" {
		t.Errorf("ReadAll(during): got %q, %v", got, err)
	}
}
