package backup

import (
	"bytes"
	"encoding/base64"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
)

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, errors.New("boom") }

func TestIDShapes(t *testing.T) {
	ids := NewIDs(rand.NewChaCha8([32]byte{1}))
	for i := 0; i < 100; i++ {
		if j := ids.JobID(); !IsJobID(j) {
			t.Fatalf("JobID() = %q, not an uppercase UUID", j)
		}
		if u := ids.RecoveryPointID(); !IsUUID(u) || u != strings.ToLower(u) {
			t.Fatalf("RecoveryPointID() = %q, not a lowercase UUID", u)
		}
		if s := ids.SnapshotID(); !IsSnapshotID(s) || len(s) != len("snap-")+17 {
			t.Fatalf("SnapshotID() = %q, want snap- + 17 hex", s)
		}
		if s := ids.FileSystemID(); !IsFileSystemID(s) || len(s) != len("fs-")+17 {
			t.Fatalf("FileSystemID() = %q, want fs- + 17 hex", s)
		}
		if s := ids.VolumeID(); !IsVolumeID(s) {
			t.Fatalf("VolumeID() = %q, want vol- + 17 hex", s)
		}
		v := ids.VersionID()
		dec, err := base64.StdEncoding.DecodeString(v)
		if len(v) != 48 || err != nil || !IsUUID(string(dec)) {
			t.Fatalf("VersionID() = %q (decoded %q, %v); want 48 chars, base64 of a UUID", v, dec, err)
		}
		if p := ids.PlanID(); !IsUUID(p) {
			t.Fatalf("PlanID() = %q, not a UUID", p)
		}
	}
}

func TestIDsDeterministic(t *testing.T) {
	a := NewIDs(rand.NewChaCha8([32]byte{7}))
	b := NewIDs(rand.NewChaCha8([32]byte{7}))
	for i := 0; i < 10; i++ {
		if x, y := a.JobID(), b.JobID(); x != y {
			t.Fatalf("same seed gave %q and %q", x, y)
		}
	}
	z := NewIDs(bytes.NewReader(make([]byte, 16)))
	if got, want := z.UUID(), "00000000-0000-4000-8000-000000000000"; got != want {
		t.Errorf("UUID from zero bytes = %q, want %q", got, want)
	}
}

func TestIDsFallBackWhenReaderFails(t *testing.T) {
	ids := NewIDs(failingReader{})
	a, b := ids.JobID(), ids.JobID()
	if !IsJobID(a) || a == b {
		t.Errorf("JobID() with failing reader = %q, %q; want two distinct valid IDs", a, b)
	}
	var zero IDs
	if !IsUUID(zero.UUID()) {
		t.Errorf("zero IDs value does not produce a UUID")
	}
}

func TestIDPredicates(t *testing.T) {
	for _, tt := range []struct {
		f    func(string) bool
		in   string
		want bool
	}{
		{IsJobID, "D48D8717-0C9D-72DF-1F56-14E703BF2345", true},
		{IsJobID, "d48d8717-0c9d-72df-1f56-14e703bf2345", false},
		{IsUUID, "d48d8717-0c9d-72df-1f56-14e703bf2345", true},
		{IsUUID, "d48d8717-0c9d-72df-1f56-14e703bf234", false},
		{IsUUID, "d48d8717x0c9d-72df-1f56-14e703bf2345", false},
		{IsSnapshotID, "snap-0123456789abcdef0", true},
		{IsSnapshotID, "snap-01234567", true},
		{IsSnapshotID, "snap-0123456789ABCDEF0", false},
		{IsFileSystemID, "fs-01234567", true},
		{IsFileSystemID, "fs-0123456", false},
		{IsVolumeID, "vol-0123456789abcdef0", true},
		{IsVolumeID, "volume-0123456789abcdef0", false},
	} {
		if got := tt.f(tt.in); got != tt.want {
			t.Errorf("predicate(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}
