package volume_test

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/coffer/coffer/internal/archive/archivetest"
	"github.com/coffer/coffer/internal/backup"
	"github.com/coffer/coffer/internal/connector"
	"github.com/coffer/coffer/internal/connector/volume"
)

const block = 64 << 10

// makeImage writes a sparse image: size bytes, random data in a few
// blocks, the rest holes or zeros.
func makeImage(t *testing.T, size int64) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "vol.img")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	buf := make([]byte, block)
	for _, off := range []int64{0, 5 * block, 6 * block, size - block} {
		for i := range buf {
			buf[i] = byte(rng.Uint32())
		}
		if _, err := f.WriteAt(buf, off); err != nil {
			t.Fatal(err)
		}
	}
	// A block of explicit zeros (not a hole).
	if _, err := f.WriteAt(make([]byte, block), 10*block); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestVolumeRoundTripAndIncremental(t *testing.T) {
	ctx := context.Background()
	size := int64(64 * block)
	img := makeImage(t, size)
	r := backup.Resource{ARN: "arn:aws:ec2:us-east-1:111122223333:volume/vol-0123456789abcdef0", Type: backup.EBS, ID: "vol-0123456789abcdef0", Target: img}
	c := &volume.Connector{BlockSize: block}
	if err := c.Check(ctx, r); err != nil {
		t.Fatal(err)
	}
	repo := archivetest.NewMemRepo()
	res, err := c.Backup(ctx, r, connector.BackupRequest{Repo: repo})
	if err != nil {
		t.Fatalf("Backup: %v", err)
	}
	if res.LogicalBytes != size || res.Kind != "stream" {
		t.Errorf("got %d bytes of kind %s, want %d of a stream", res.LogicalBytes, res.Kind, size)
	}
	if res.BytesNew > 5*block {
		t.Errorf("stored %d new bytes for 4 data blocks, want holes and zeros stored cheaply", res.BytesNew)
	}
	if got := res.RestoreMetadata["volumeSize"]; got != "1" {
		t.Errorf("got volumeSize %q GiB, want 1", got)
	}
	out := filepath.Join(t.TempDir(), "restored.img")
	if _, err := c.Restore(ctx, connector.RestoreRequest{Repo: repo, Snapshot: res.Snapshot, Target: out}); err != nil {
		t.Fatalf("Restore: %v", err)
	}
	want, _ := os.ReadFile(img)
	got, _ := os.ReadFile(out)
	if !bytes.Equal(got, want) {
		t.Fatalf("restored image differs from the source")
	}
	if _, err := c.Restore(ctx, connector.RestoreRequest{Repo: repo, Snapshot: res.Snapshot, Target: out}); !errors.Is(err, connector.ErrTargetExists) {
		t.Errorf("restore onto an existing image: got %v, want ErrTargetExists", err)
	}

	// Unchanged image: not read at all.
	inc, err := c.Backup(ctx, r, connector.BackupRequest{Repo: repo, Parent: &res.Snapshot})
	if err != nil {
		t.Fatal(err)
	}
	if inc.BytesRead != 0 || inc.BytesNew != 0 {
		t.Errorf("unchanged volume: read %d, new %d; want 0 and 0", inc.BytesRead, inc.BytesNew)
	}
	// One block changed: only that block is new.
	f, _ := os.OpenFile(img, os.O_WRONLY, 0)
	if _, err := f.WriteAt(bytes.Repeat([]byte{7}, 100), 20*block+10); err != nil {
		t.Fatal(err)
	}
	f.Close()
	inc2, err := c.Backup(ctx, r, connector.BackupRequest{Repo: repo, Parent: &inc.Snapshot})
	if err != nil {
		t.Fatal(err)
	}
	if inc2.BytesNew != block {
		t.Errorf("one changed block: stored %d new bytes, want %d", inc2.BytesNew, block)
	}
	missing := r
	missing.Target = filepath.Join(t.TempDir(), "gone.img")
	if _, err := c.Backup(ctx, missing, connector.BackupRequest{Repo: repo}); !errors.Is(err, connector.ErrUnavailable) {
		t.Errorf("missing image: got %v, want ErrUnavailable", err)
	}
}
