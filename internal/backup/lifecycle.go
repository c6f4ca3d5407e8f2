package backup

import (
	"time"
)

// Lifecycle limits.
const (
	// MaxDays is the largest DeleteAfterDays, MoveToColdStorageAfterDays and
	// retention any rule accepts (100 years).
	MaxDays = 36500
	// MinColdDays is how long a point must stay in cold storage before it
	// may be deleted.
	MinColdDays = 90
)

const day = 24 * time.Hour

// Days returns a pointer to n, for the optional day counts of Lifecycle and
// VaultLockInput.
func Days(n int64) *int64 { return &n }

// Lifecycle says when a recovery point moves to cold storage and when it is
// deleted, in days after its CreationDate. A nil *Lifecycle, or one without
// DeleteAfterDays, keeps the point forever.
type Lifecycle struct {
	MoveToColdStorageAfterDays          *int64 `json:"moveToColdStorageAfterDays,omitempty"`
	DeleteAfterDays                     *int64 `json:"deleteAfterDays,omitempty"`
	OptInToArchiveForSupportedResources *bool  `json:"optInToArchive,omitempty"`
	// DeleteAfterEvent is output-only ("DELETE_AFTER_COPY"); ValidateLifecycle
	// rejects it on input.
	DeleteAfterEvent string `json:"deleteAfterEvent,omitempty"`
}

// Clone returns a deep copy (nil for nil).
func (l *Lifecycle) Clone() *Lifecycle {
	if l == nil {
		return nil
	}
	c := &Lifecycle{DeleteAfterEvent: l.DeleteAfterEvent}
	if l.MoveToColdStorageAfterDays != nil {
		c.MoveToColdStorageAfterDays = Days(*l.MoveToColdStorageAfterDays)
	}
	if l.DeleteAfterDays != nil {
		c.DeleteAfterDays = Days(*l.DeleteAfterDays)
	}
	if l.OptInToArchiveForSupportedResources != nil {
		b := *l.OptInToArchiveForSupportedResources
		c.OptInToArchiveForSupportedResources = &b
	}
	return c
}

// IsEmpty reports whether no field is set (the same as no lifecycle).
func (l *Lifecycle) IsEmpty() bool {
	return l == nil || (l.MoveToColdStorageAfterDays == nil && l.DeleteAfterDays == nil &&
		l.OptInToArchiveForSupportedResources == nil && l.DeleteAfterEvent == "")
}

// RetentionDays returns DeleteAfterDays, or forever = true when the
// lifecycle never deletes the point.
func (l *Lifecycle) RetentionDays() (days int64, forever bool) {
	if l == nil || l.DeleteAfterDays == nil {
		return 0, true
	}
	return *l.DeleteAfterDays, false
}

// CalculatedLifecycle holds the instants a Lifecycle implies; a zero time
// means "never".
type CalculatedLifecycle struct {
	MoveToColdStorageAt time.Time
	DeleteAt            time.Time
}

// ValidateLifecycle checks a lifecycle given on input (StartBackupJob,
// StartCopyJob, UpdateRecoveryPointLifecycle, plan rules): each day count in
// 1…36,500, DeleteAfterDays at least MoveToColdStorageAfterDays + 90 when
// both are set, and no DeleteAfterEvent (output only). nil is valid. Errors
// are InvalidParameter with AWS's "Invalid lifecycle." wording.
func ValidateLifecycle(l *Lifecycle) error {
	if l == nil {
		return nil
	}
	if l.DeleteAfterEvent != "" {
		return InvalidParameterf("Invalid lifecycle. DeleteAfterEvent is an output-only field and is not valid as an input")
	}
	if d := l.MoveToColdStorageAfterDays; d != nil && (*d < 1 || *d > MaxDays) {
		return InvalidParameterf("Invalid lifecycle. MoveToColdStorageAfterDays must be between 1 and %d days, got %d", MaxDays, *d)
	}
	if d := l.DeleteAfterDays; d != nil && (*d < 1 || *d > MaxDays) {
		return InvalidParameterf("Invalid lifecycle. DeleteAfterDays must be between 1 and %d days, got %d", MaxDays, *d)
	}
	if c, d := l.MoveToColdStorageAfterDays, l.DeleteAfterDays; c != nil && d != nil && *d < *c+MinColdDays {
		return InvalidParameterf("Invalid lifecycle. DeleteAfterDays cannot be less than 90 days apart from MoveToColdStorageAfterDays")
	}
	return nil
}

// CalculateLifecycle returns the instants at which a point created at
// creation moves to cold storage and is deleted: creation plus the day
// counts (whole 24-hour days, in UTC). For copies, pass the source point's
// creation date.
func CalculateLifecycle(creation time.Time, l *Lifecycle) CalculatedLifecycle {
	var c CalculatedLifecycle
	if l == nil {
		return c
	}
	creation = creation.UTC()
	if d := l.MoveToColdStorageAfterDays; d != nil {
		c.MoveToColdStorageAt = creation.Add(time.Duration(*d) * day)
	}
	if d := l.DeleteAfterDays; d != nil {
		c.DeleteAt = creation.Add(time.Duration(*d) * day)
	}
	return c
}

// ColdStorageSupported reports whether Coffer honours
// MoveToColdStorageAfterDays for the resource type. As AWS does for types
// without a cold tier, the transition is ignored (and the point stays WARM)
// for the others; the 90-day rule is still validated for every type.
// Coffer's policy: EFS has a cold tier; EBS and RDS do not.
func ColdStorageSupported(t ResourceType) bool { return t == EFS }
