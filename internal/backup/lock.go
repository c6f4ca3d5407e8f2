package backup

import (
	"fmt"
	"time"
)

// Vault lock limits.
const (
	MinChangeableForDays = 3
)

// LockMode is governance or compliance.
type LockMode int

// Lock modes.
const (
	// Governance: no ChangeableForDays; the lock can be changed or removed
	// at any time.
	Governance LockMode = iota + 1
	// Compliance: ChangeableForDays given; the lock can be changed or
	// removed until its LockDate and is immutable from then on.
	Compliance
)

func (m LockMode) String() string {
	switch m {
	case Governance:
		return "governance"
	case Compliance:
		return "compliance"
	}
	return fmt.Sprintf("LockMode(%d)", int(m))
}

// VaultLockInput is a PutBackupVaultLockConfiguration request.
type VaultLockInput struct {
	MinRetentionDays  *int64
	MaxRetentionDays  *int64
	ChangeableForDays *int64
}

// VaultLock is a vault's lock configuration.
type VaultLock struct {
	MinRetentionDays  *int64 `json:"minRetentionDays,omitempty"`
	MaxRetentionDays  *int64 `json:"maxRetentionDays,omitempty"`
	ChangeableForDays *int64 `json:"changeableForDays,omitempty"`
	// LockDate is when a compliance lock becomes immutable; zero for
	// governance.
	LockDate time.Time `json:"lockDate,omitzero"`
	// AppliedAt is when a lock was first put on the vault (kept across
	// changes of the configuration, reset by deleting the lock). Recovery
	// points that entered the vault before it are not affected.
	AppliedAt time.Time `json:"appliedAt"`
}

// Mode returns Compliance when ChangeableForDays is set, else Governance.
func (l *VaultLock) Mode() LockMode {
	if l.ChangeableForDays != nil {
		return Compliance
	}
	return Governance
}

// Immutable reports whether the lock can no longer be changed or removed:
// a compliance lock on or after its LockDate.
func (l *VaultLock) Immutable(now time.Time) bool {
	return l != nil && l.Mode() == Compliance && !now.Before(l.LockDate)
}

// ValidateVaultLockInput checks the limits: MinRetentionDays 1…36,500,
// MaxRetentionDays 1…36,500, Min ≤ Max, ChangeableForDays 3…36,500.
func ValidateVaultLockInput(in VaultLockInput) error {
	if v := in.MinRetentionDays; v != nil && (*v < 1 || *v > MaxDays) {
		return InvalidParameterf("MinRetentionDays must be between 1 and %d days, got %d", MaxDays, *v)
	}
	if v := in.MaxRetentionDays; v != nil && (*v < 1 || *v > MaxDays) {
		return InvalidParameterf("MaxRetentionDays must be between 1 and %d days, got %d", MaxDays, *v)
	}
	if mn, mx := in.MinRetentionDays, in.MaxRetentionDays; mn != nil && mx != nil && *mn > *mx {
		return InvalidParameterf("MinRetentionDays (%d) cannot be greater than MaxRetentionDays (%d)", *mn, *mx)
	}
	if v := in.ChangeableForDays; v != nil && (*v < MinChangeableForDays || *v > MaxDays) {
		return InvalidParameterf("ChangeableForDays must be between %d and %d days, got %d", MinChangeableForDays, MaxDays, *v)
	}
	return nil
}

// PutVaultLock returns the lock configuration that replaces cur (nil when
// the vault has none) after a PutBackupVaultLockConfiguration at now. An
// immutable lock → InvalidRequest; bad limits → InvalidParameter. The new
// lock's LockDate is now + ChangeableForDays for compliance mode.
func PutVaultLock(cur *VaultLock, in VaultLockInput, now time.Time) (*VaultLock, error) {
	if cur.Immutable(now) {
		return nil, InvalidRequestf("the vault lock configuration cannot be changed: its compliance lock date %s has passed", cur.LockDate.UTC().Format(time.RFC3339))
	}
	if err := ValidateVaultLockInput(in); err != nil {
		return nil, err
	}
	l := &VaultLock{AppliedAt: now.UTC()}
	if cur != nil && !cur.AppliedAt.IsZero() {
		l.AppliedAt = cur.AppliedAt
	}
	if in.MinRetentionDays != nil {
		l.MinRetentionDays = Days(*in.MinRetentionDays)
	}
	if in.MaxRetentionDays != nil {
		l.MaxRetentionDays = Days(*in.MaxRetentionDays)
	}
	if in.ChangeableForDays != nil {
		l.ChangeableForDays = Days(*in.ChangeableForDays)
		l.LockDate = now.UTC().Add(time.Duration(*in.ChangeableForDays) * day)
	}
	return l, nil
}

// CheckDeleteVaultLock returns nil when DeleteBackupVaultLockConfiguration
// may remove cur at now (also when there is no lock), and InvalidRequest
// when cur is an immutable compliance lock.
func CheckDeleteVaultLock(cur *VaultLock, now time.Time) error {
	if cur.Immutable(now) {
		return InvalidRequestf("the vault lock configuration cannot be deleted: its compliance lock date %s has passed", cur.LockDate.UTC().Format(time.RFC3339))
	}
	return nil
}

// CheckRetention checks the lifecycle of a backup or copy job going into a
// vault with lock (nil: no lock) against the lock's retention range. It
// returns "" when the job may proceed, and otherwise the reason, for the
// failed job's StatusMessage. A lifecycle without DeleteAfterDays means
// "forever", which exceeds any MaxRetentionDays.
func CheckRetention(lock *VaultLock, l *Lifecycle) string {
	if lock == nil {
		return ""
	}
	days, forever := l.RetentionDays()
	if mn := lock.MinRetentionDays; mn != nil && !forever && days < *mn {
		return fmt.Sprintf("the retention period of %d days is shorter than the vault lock's minimum retention of %d days", days, *mn)
	}
	if mx := lock.MaxRetentionDays; mx != nil {
		if forever {
			return fmt.Sprintf("the recovery point would be kept forever, longer than the vault lock's maximum retention of %d days; set DeleteAfterDays", *mx)
		}
		if days > *mx {
			return fmt.Sprintf("the retention period of %d days is longer than the vault lock's maximum retention of %d days", days, *mx)
		}
	}
	return ""
}

// lockApplies reports whether the lock protects rp: the point entered the
// vault at or after the lock was applied.
func lockApplies(lock *VaultLock, rp *RecoveryPoint) bool {
	return lock != nil && !rp.EnteredVaultAt.Before(lock.AppliedAt)
}

// CheckRecoveryPointDelete returns nil when rp, stored in a vault with lock
// (nil: none), may be deleted at now, and InvalidRequest otherwise. A lock
// protects the points that entered the vault after it was applied until
// their calculated DeleteAt; a protected point without DeleteAt can never
// be deleted while the lock stands (remove a governance lock first).
func CheckRecoveryPointDelete(lock *VaultLock, rp *RecoveryPoint, now time.Time) error {
	if !lockApplies(lock, rp) {
		return nil
	}
	del := rp.CalculatedLifecycle().DeleteAt
	if !del.IsZero() && !now.Before(del) {
		return nil
	}
	if del.IsZero() {
		return InvalidRequestf("recovery point %s is protected by the %s vault lock of backup vault %s and has no retention end, so it cannot be deleted", rp.ARN, lock.Mode(), rp.VaultName)
	}
	return InvalidRequestf("recovery point %s is protected by the %s vault lock of backup vault %s and cannot be deleted before its retention ends at %s", rp.ARN, lock.Mode(), rp.VaultName, del.UTC().Format(time.RFC3339))
}

// CheckLifecycleUpdate validates an UpdateRecoveryPointLifecycle of rp to
// next in a vault with lock (nil: none) at now. next replaces the whole
// lifecycle. It refuses, with InvalidParameter for a bad lifecycle and
// InvalidRequest otherwise:
//   - an invalid lifecycle (ValidateLifecycle);
//   - changing MoveToColdStorageAfterDays of a point already in cold storage;
//   - under a lock protecting the point: an earlier DeleteAt than the
//     current one, or a retention outside the lock's range.
func CheckLifecycleUpdate(lock *VaultLock, rp *RecoveryPoint, next *Lifecycle, now time.Time) error {
	if err := ValidateLifecycle(next); err != nil {
		return err
	}
	if rp.StorageClass == StorageCold {
		var a, b *int64
		if rp.Lifecycle != nil {
			a = rp.Lifecycle.MoveToColdStorageAfterDays
		}
		if next != nil {
			b = next.MoveToColdStorageAfterDays
		}
		if (a == nil) != (b == nil) || (a != nil && *a != *b) {
			return InvalidRequestf("recovery point %s is already in cold storage; MoveToColdStorageAfterDays cannot be changed", rp.ARN)
		}
	}
	if !lockApplies(lock, rp) {
		return nil
	}
	cur := rp.CalculatedLifecycle().DeleteAt
	nxt := CalculateLifecycle(rp.CreationDate, next).DeleteAt
	if !nxt.IsZero() && (cur.IsZero() || nxt.Before(cur)) {
		return InvalidRequestf("recovery point %s is protected by the %s vault lock of backup vault %s; its retention cannot be shortened", rp.ARN, lock.Mode(), rp.VaultName)
	}
	if reason := CheckRetention(lock, next); reason != "" {
		return InvalidRequestf("recovery point %s: %s", rp.ARN, reason)
	}
	return nil
}
