package backup

import (
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2025, 1, 10, 12, 0, 0, 0, time.UTC)

func TestValidateVaultLockInput(t *testing.T) {
	tests := []struct {
		name    string
		in      VaultLockInput
		msgPart string
	}{
		{name: "empty", in: VaultLockInput{}},
		{name: "min max", in: VaultLockInput{MinRetentionDays: Days(1), MaxRetentionDays: Days(36500)}},
		{name: "equal", in: VaultLockInput{MinRetentionDays: Days(7), MaxRetentionDays: Days(7)}},
		{name: "compliance", in: VaultLockInput{MinRetentionDays: Days(7), ChangeableForDays: Days(3)}},
		{name: "min zero", in: VaultLockInput{MinRetentionDays: Days(0)}, msgPart: "MinRetentionDays must be between 1 and 36500"},
		{name: "max over", in: VaultLockInput{MaxRetentionDays: Days(36501)}, msgPart: "MaxRetentionDays must be between 1 and 36500"},
		{name: "min > max", in: VaultLockInput{MinRetentionDays: Days(10), MaxRetentionDays: Days(9)}, msgPart: "cannot be greater than"},
		{name: "changeable 2", in: VaultLockInput{ChangeableForDays: Days(2)}, msgPart: "ChangeableForDays must be between 3 and 36500"},
		{name: "changeable over", in: VaultLockInput{ChangeableForDays: Days(36501)}, msgPart: "ChangeableForDays must be between"},
	}
	for _, tt := range tests {
		err := ValidateVaultLockInput(tt.in)
		if tt.msgPart == "" {
			if err != nil {
				t.Errorf("%s: got %v, want nil", tt.name, err)
			}
			continue
		}
		if KindOf(err) != KindInvalidParameter || !strings.Contains(err.Error(), tt.msgPart) {
			t.Errorf("%s: got %v; want InvalidParameter containing %q", tt.name, err, tt.msgPart)
		}
	}
}

func TestPutVaultLockModes(t *testing.T) {
	gov, err := PutVaultLock(nil, VaultLockInput{MinRetentionDays: Days(1)}, t0)
	if err != nil {
		t.Fatal(err)
	}
	if gov.Mode() != Governance || !gov.LockDate.IsZero() || !gov.AppliedAt.Equal(t0) {
		t.Errorf("governance lock = %+v; want mode governance, no LockDate, AppliedAt %v", gov, t0)
	}
	if gov.Immutable(t0.AddDate(100, 0, 0)) {
		t.Errorf("governance lock immutable, want never")
	}
	// Governance can be changed and deleted any time; AppliedAt is kept.
	later := t0.Add(1000 * time.Hour)
	comp, err := PutVaultLock(gov, VaultLockInput{MinRetentionDays: Days(7), MaxRetentionDays: Days(30), ChangeableForDays: Days(3)}, later)
	if err != nil {
		t.Fatal(err)
	}
	if comp.Mode() != Compliance || !comp.LockDate.Equal(later.Add(72*time.Hour)) || !comp.AppliedAt.Equal(t0) {
		t.Errorf("compliance lock = %+v; want LockDate %v, AppliedAt %v", comp, later.Add(72*time.Hour), t0)
	}
	tests := []struct {
		name      string
		at        time.Time
		immutable bool
	}{
		{"before lock date", comp.LockDate.Add(-time.Nanosecond), false},
		{"at lock date", comp.LockDate, true},
		{"after lock date", comp.LockDate.Add(time.Hour), true},
	}
	for _, tt := range tests {
		if got := comp.Immutable(tt.at); got != tt.immutable {
			t.Errorf("%s: Immutable = %v, want %v", tt.name, got, tt.immutable)
		}
		_, perr := PutVaultLock(comp, VaultLockInput{MinRetentionDays: Days(1)}, tt.at)
		derr := CheckDeleteVaultLock(comp, tt.at)
		for what, err := range map[string]error{"put": perr, "delete": derr} {
			if tt.immutable && (KindOf(err) != KindInvalidRequest || !strings.Contains(err.Error(), "lock date")) {
				t.Errorf("%s: %s = %v; want InvalidRequest about the lock date", tt.name, what, err)
			}
			if !tt.immutable && err != nil {
				t.Errorf("%s: %s = %v; want nil", tt.name, what, err)
			}
		}
	}
	if err := CheckDeleteVaultLock(nil, t0); err != nil {
		t.Errorf("CheckDeleteVaultLock(nil) = %v, want nil", err)
	}
	if _, err := PutVaultLock(nil, VaultLockInput{ChangeableForDays: Days(1)}, t0); KindOf(err) != KindInvalidParameter {
		t.Errorf("PutVaultLock with bad input = %v, want InvalidParameter", err)
	}
}

func TestCheckRetention(t *testing.T) {
	lock := &VaultLock{MinRetentionDays: Days(7), MaxRetentionDays: Days(30)}
	tests := []struct {
		name    string
		lock    *VaultLock
		l       *Lifecycle
		msgPart string
	}{
		{name: "no lock", lock: nil, l: nil},
		{name: "inside", lock: lock, l: &Lifecycle{DeleteAfterDays: Days(7)}},
		{name: "max edge", lock: lock, l: &Lifecycle{DeleteAfterDays: Days(30)}},
		{name: "too short", lock: lock, l: &Lifecycle{DeleteAfterDays: Days(6)}, msgPart: "shorter than the vault lock's minimum retention of 7 days"},
		{name: "too long", lock: lock, l: &Lifecycle{DeleteAfterDays: Days(31)}, msgPart: "longer than the vault lock's maximum retention of 30 days"},
		{name: "forever with max", lock: lock, l: nil, msgPart: "kept forever"},
		{name: "forever min only", lock: &VaultLock{MinRetentionDays: Days(7)}, l: &Lifecycle{}},
		{name: "cold only is forever", lock: lock, l: &Lifecycle{MoveToColdStorageAfterDays: Days(1)}, msgPart: "kept forever"},
	}
	for _, tt := range tests {
		got := CheckRetention(tt.lock, tt.l)
		if (tt.msgPart == "") != (got == "") || !strings.Contains(got, tt.msgPart) {
			t.Errorf("%s: CheckRetention = %q, want containing %q", tt.name, got, tt.msgPart)
		}
	}
}

func TestCheckRecoveryPointDelete(t *testing.T) {
	lock := &VaultLock{MinRetentionDays: Days(7), AppliedAt: t0}
	rp := func(entered time.Time, l *Lifecycle) *RecoveryPoint {
		return &RecoveryPoint{ARN: "arn:rp", VaultName: "v", CreationDate: entered, EnteredVaultAt: entered, Lifecycle: l}
	}
	tests := []struct {
		name    string
		lock    *VaultLock
		rp      *RecoveryPoint
		now     time.Time
		msgPart string
	}{
		{name: "no lock", rp: rp(t0, nil), now: t0},
		{name: "entered before lock", lock: lock, rp: rp(t0.Add(-time.Hour), nil), now: t0},
		{name: "protected, retention not ended", lock: lock, rp: rp(t0, &Lifecycle{DeleteAfterDays: Days(10)}), now: t0.Add(24 * time.Hour), msgPart: "cannot be deleted before its retention ends at 2025-01-20T12:00:00Z"},
		{name: "protected, retention ended", lock: lock, rp: rp(t0, &Lifecycle{DeleteAfterDays: Days(10)}), now: t0.Add(240 * time.Hour)},
		{name: "protected forever", lock: lock, rp: rp(t0, nil), now: t0.AddDate(5, 0, 0), msgPart: "has no retention end"},
	}
	for _, tt := range tests {
		err := CheckRecoveryPointDelete(tt.lock, tt.rp, tt.now)
		if tt.msgPart == "" {
			if err != nil {
				t.Errorf("%s: got %v, want nil", tt.name, err)
			}
			continue
		}
		if KindOf(err) != KindInvalidRequest || !strings.Contains(err.Error(), tt.msgPart) {
			t.Errorf("%s: got %v; want InvalidRequest containing %q", tt.name, err, tt.msgPart)
		}
	}
}

func TestCheckLifecycleUpdate(t *testing.T) {
	lock := &VaultLock{MinRetentionDays: Days(7), MaxRetentionDays: Days(365), AppliedAt: t0}
	point := func(l *Lifecycle, class StorageClass) *RecoveryPoint {
		return &RecoveryPoint{ARN: "arn:rp", VaultName: "v", CreationDate: t0, EnteredVaultAt: t0, Lifecycle: l, StorageClass: class}
	}
	tests := []struct {
		name    string
		lock    *VaultLock
		rp      *RecoveryPoint
		next    *Lifecycle
		kind    Kind
		msgPart string
	}{
		{name: "no lock, shorten", rp: point(&Lifecycle{DeleteAfterDays: Days(30)}, StorageWarm), next: &Lifecycle{DeleteAfterDays: Days(1)}},
		{name: "invalid lifecycle", rp: point(nil, StorageWarm), next: &Lifecycle{DeleteAfterDays: Days(0)}, kind: KindInvalidParameter, msgPart: "Invalid lifecycle"},
		{name: "lock, extend", lock: lock, rp: point(&Lifecycle{DeleteAfterDays: Days(30)}, StorageWarm), next: &Lifecycle{DeleteAfterDays: Days(60)}},
		{name: "lock, shorten", lock: lock, rp: point(&Lifecycle{DeleteAfterDays: Days(30)}, StorageWarm), next: &Lifecycle{DeleteAfterDays: Days(20)}, kind: KindInvalidRequest, msgPart: "cannot be shortened"},
		{name: "lock, extend beyond max", lock: lock, rp: point(&Lifecycle{DeleteAfterDays: Days(30)}, StorageWarm), next: &Lifecycle{DeleteAfterDays: Days(400)}, kind: KindInvalidRequest, msgPart: "maximum retention"},
		{name: "lock, remove delete", lock: lock, rp: point(&Lifecycle{DeleteAfterDays: Days(30)}, StorageWarm), next: &Lifecycle{}, kind: KindInvalidRequest, msgPart: "kept forever"},
		{name: "cold, change cold days", rp: point(&Lifecycle{MoveToColdStorageAfterDays: Days(1), DeleteAfterDays: Days(100)}, StorageCold), next: &Lifecycle{MoveToColdStorageAfterDays: Days(2), DeleteAfterDays: Days(100)}, kind: KindInvalidRequest, msgPart: "already in cold storage"},
		{name: "cold, keep cold days", rp: point(&Lifecycle{MoveToColdStorageAfterDays: Days(1), DeleteAfterDays: Days(100)}, StorageCold), next: &Lifecycle{MoveToColdStorageAfterDays: Days(1), DeleteAfterDays: Days(200)}},
	}
	for _, tt := range tests {
		err := CheckLifecycleUpdate(tt.lock, tt.rp, tt.next, t0.Add(time.Hour))
		if tt.msgPart == "" {
			if err != nil {
				t.Errorf("%s: got %v, want nil", tt.name, err)
			}
			continue
		}
		if KindOf(err) != tt.kind || !strings.Contains(err.Error(), tt.msgPart) {
			t.Errorf("%s: got %v; want %v containing %q", tt.name, err, tt.kind, tt.msgPart)
		}
	}
}
