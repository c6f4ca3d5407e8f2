package volume_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/coffer/coffer/internal/archive/archivetest"
	"github.com/coffer/coffer/internal/backup"
	"github.com/coffer/coffer/internal/connector"
	"github.com/coffer/coffer/internal/connector/volume"
)

// TestRestoreSize: a restore to a larger volume keeps the snapshot's bytes
// and ends in a hole; a smaller one is refused before anything is written.
func TestRestoreSize(t *testing.T) {
	ctx := context.Background()
	size := int64(16*block + 123)
	img := makeImage(t, size)
	r := backup.Resource{ARN: "arn:aws:ec2:us-east-1:111122223333:volume/vol-0123456789abcdef0", Type: backup.EBS, ID: "vol-0123456789abcdef0", Target: img}
	c := &volume.Connector{BlockSize: block}
	repo := archivetest.NewMemRepo()
	res, err := c.Backup(ctx, r, connector.BackupRequest{Repo: repo})
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile(img)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name    string
		size    int64
		wantErr error
		want    int64
	}{
		{"snapshot size", 0, nil, size},
		{"same size", size, nil, size},
		{"larger", 1 << 22, nil, 1 << 22},
		{"smaller", size - 1, connector.ErrNotSupported, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dst := filepath.Join(t.TempDir(), "new.img")
			out, err := c.Restore(ctx, connector.RestoreRequest{Repo: repo, Snapshot: res.Snapshot, Target: dst, Size: tc.size})
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("got %v, want %v", err, tc.wantErr)
				}
				if _, err := os.Lstat(dst); !os.IsNotExist(err) {
					t.Errorf("a refused restore created %s", dst)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if out.Target != dst {
				t.Errorf("got Target %q, want %q", out.Target, dst)
			}
			got, err := os.ReadFile(dst)
			if err != nil {
				t.Fatal(err)
			}
			if int64(len(got)) != tc.want || !bytes.Equal(got[:size], src) || !bytes.Equal(got[size:], make([]byte, len(got)-int(size))) {
				t.Errorf("got %d bytes, want %d: the source's bytes and then zeros", len(got), tc.want)
			}
		})
	}
}
