package backup

import (
	crand "crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"io"
	"strings"
	"sync"
)

// IDs generates the identifiers Coffer hands out, in the shapes AWS uses.
// The zero value and NewIDs(nil) read crypto/rand; tests pass a
// deterministic reader. IDs is safe for concurrent use. If the injected
// reader fails, the generator falls back to crypto/rand rather than return
// a broken ID.
type IDs struct {
	mu sync.Mutex
	r  io.Reader
}

// NewIDs returns a generator that reads randomness from r (crypto/rand when
// r is nil).
func NewIDs(r io.Reader) *IDs { return &IDs{r: r} }

func (g *IDs) read(b []byte) {
	if g != nil && g.r != nil {
		g.mu.Lock()
		_, err := io.ReadFull(g.r, b)
		g.mu.Unlock()
		if err == nil {
			return
		}
	}
	_, _ = crand.Read(b) // never fails since Go 1.24
}

func (g *IDs) uuid() string {
	var b [16]byte
	g.read(b[:])
	b[6] = b[6]&0x0f | 0x40 // version 4
	b[8] = b[8]&0x3f | 0x80 // RFC 4122 variant
	var s [36]byte
	hex.Encode(s[0:8], b[0:4])
	s[8] = '-'
	hex.Encode(s[9:13], b[4:6])
	s[13] = '-'
	hex.Encode(s[14:18], b[6:8])
	s[18] = '-'
	hex.Encode(s[19:23], b[8:10])
	s[23] = '-'
	hex.Encode(s[24:], b[10:])
	return string(s[:])
}

func (g *IDs) hexN(n int) string {
	b := make([]byte, (n+1)/2)
	g.read(b)
	return hex.EncodeToString(b)[:n]
}

// UUID returns a random lowercase UUID (version 4).
func (g *IDs) UUID() string { return g.uuid() }

// JobID returns a backup, copy or restore job ID: an uppercase UUID such as
// D48D8717-0C9D-72DF-1F56-14E703BF2345.
func (g *IDs) JobID() string { return strings.ToUpper(g.uuid()) }

// RecoveryPointID returns the ID part of a backup-service recovery point ARN:
// a lowercase UUID.
func (g *IDs) RecoveryPointID() string { return g.uuid() }

// SnapshotID returns "snap-" followed by 17 lowercase hex digits.
func (g *IDs) SnapshotID() string { return "snap-" + g.hexN(17) }

// FileSystemID returns "fs-" followed by 17 lowercase hex digits.
func (g *IDs) FileSystemID() string { return "fs-" + g.hexN(17) }

// VolumeID returns "vol-" followed by 17 lowercase hex digits.
func (g *IDs) VolumeID() string { return "vol-" + g.hexN(17) }

// PlanID returns a backup plan ID: a lowercase UUID.
func (g *IDs) PlanID() string { return g.uuid() }

// SelectionID returns a backup selection ID: a lowercase UUID.
func (g *IDs) SelectionID() string { return g.uuid() }

// VersionID returns a backup plan version ID. AWS's are 48 characters, the
// base64 encoding of a lowercase UUID string; these are too.
func (g *IDs) VersionID() string {
	return base64.StdEncoding.EncodeToString([]byte(g.uuid()))
}

// LegalHoldID returns a legal hold ID: a lowercase UUID.
func (g *IDs) LegalHoldID() string { return g.uuid() }

// RecoveryPointARN returns a new recovery point ARN in the format AWS uses
// for the resource type: EBS → arn:aws:ec2:R::snapshot/snap-…, RDS →
// arn:aws:rds:R:A:snapshot:awsbackup:job-<uuid>, everything else (EFS) →
// arn:aws:backup:R:A:recovery-point:<uuid>.
func (g *IDs) RecoveryPointARN(t ResourceType, region, accountID string) string {
	switch t {
	case EBS:
		return "arn:aws:ec2:" + region + "::snapshot/" + g.SnapshotID()
	case RDS:
		return "arn:aws:rds:" + region + ":" + accountID + ":snapshot:awsbackup:job-" + g.uuid()
	}
	return BackupARN(RecoveryPointKind, region, accountID, g.RecoveryPointID())
}

// IsUUID reports whether s is a UUID in 8-4-4-4-12 hex form, either case
// (not mixed-case checked).
func IsUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < 36; i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !isLowerHex(c) && !(c >= 'A' && c <= 'F') {
				return false
			}
		}
	}
	return true
}

// IsJobID reports whether s has the shape of a job ID Coffer issues: an
// uppercase UUID.
func IsJobID(s string) bool { return IsUUID(s) && s == strings.ToUpper(s) }

func prefixedHex(s, prefix string) bool {
	h, ok := strings.CutPrefix(s, prefix)
	return ok && (len(h) == 8 || len(h) == 17) && allOf(h, isLowerHex, "")
}

// IsSnapshotID reports whether s is "snap-" plus 8 or 17 lowercase hex digits.
func IsSnapshotID(s string) bool { return prefixedHex(s, "snap-") }

// IsFileSystemID reports whether s is "fs-" plus 8 or 17 lowercase hex digits.
func IsFileSystemID(s string) bool { return prefixedHex(s, "fs-") }

// IsVolumeID reports whether s is "vol-" plus 8 or 17 lowercase hex digits.
func IsVolumeID(s string) bool { return prefixedHex(s, "vol-") }

// ValidateDBIdentifier checks an RDS DB instance identifier: 1 to 63
// letters, digits and hyphens, starting with a letter, without a trailing
// hyphen or two consecutive hyphens.
func ValidateDBIdentifier(s string) error {
	ok := s != "" && len(s) <= 63 && ((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z')) &&
		allOf(s, isAlnum, "-") && s[len(s)-1] != '-' && !strings.Contains(s, "--")
	if !ok {
		return InvalidParameterf("%q is not a valid DB identifier: it must be 1 to 63 letters, digits and hyphens, start with a letter, and not end with a hyphen or contain two consecutive hyphens", s)
	}
	return nil
}
