package backup

import (
	"strings"
	"testing"
	"time"
)

func TestValidateLifecycle(t *testing.T) {
	tests := []struct {
		name    string
		in      *Lifecycle
		msgPart string // "" means valid
	}{
		{name: "nil", in: nil},
		{name: "empty", in: &Lifecycle{}},
		{name: "delete only", in: &Lifecycle{DeleteAfterDays: Days(1)}},
		{name: "cold only", in: &Lifecycle{MoveToColdStorageAfterDays: Days(30)}},
		{name: "exactly 90 apart", in: &Lifecycle{MoveToColdStorageAfterDays: Days(30), DeleteAfterDays: Days(120)}},
		{name: "89 apart", in: &Lifecycle{MoveToColdStorageAfterDays: Days(30), DeleteAfterDays: Days(119)}, msgPart: "Invalid lifecycle. DeleteAfterDays cannot be less than 90 days apart from MoveToColdStorageAfterDays"},
		{name: "delete before cold", in: &Lifecycle{MoveToColdStorageAfterDays: Days(100), DeleteAfterDays: Days(10)}, msgPart: "90 days apart"},
		{name: "max", in: &Lifecycle{DeleteAfterDays: Days(36500)}},
		{name: "over max", in: &Lifecycle{DeleteAfterDays: Days(36501)}, msgPart: "DeleteAfterDays must be between 1 and 36500"},
		{name: "zero delete", in: &Lifecycle{DeleteAfterDays: Days(0)}, msgPart: "DeleteAfterDays must be between"},
		{name: "negative cold", in: &Lifecycle{MoveToColdStorageAfterDays: Days(-1)}, msgPart: "MoveToColdStorageAfterDays must be between"},
		{name: "cold over max", in: &Lifecycle{MoveToColdStorageAfterDays: Days(36501)}, msgPart: "MoveToColdStorageAfterDays must be between"},
		{name: "delete after event", in: &Lifecycle{DeleteAfterEvent: "DELETE_AFTER_COPY"}, msgPart: "not valid as an input"},
	}
	for _, tt := range tests {
		err := ValidateLifecycle(tt.in)
		if tt.msgPart == "" {
			if err != nil {
				t.Errorf("%s: ValidateLifecycle = %v, want nil", tt.name, err)
			}
			continue
		}
		if KindOf(err) != KindInvalidParameter || !strings.Contains(err.Error(), tt.msgPart) {
			t.Errorf("%s: ValidateLifecycle = %v; want InvalidParameter containing %q", tt.name, err, tt.msgPart)
		}
	}
}

func TestCalculateLifecycle(t *testing.T) {
	created := time.Date(2024, 2, 28, 10, 30, 0, 0, time.FixedZone("X", 3600))
	tests := []struct {
		name     string
		in       *Lifecycle
		cold     time.Time
		deleteAt time.Time
	}{
		{name: "nil", in: nil},
		{name: "delete", in: &Lifecycle{DeleteAfterDays: Days(2)}, deleteAt: time.Date(2024, 3, 1, 9, 30, 0, 0, time.UTC)},
		{name: "both", in: &Lifecycle{MoveToColdStorageAfterDays: Days(1), DeleteAfterDays: Days(91)},
			cold: time.Date(2024, 2, 29, 9, 30, 0, 0, time.UTC), deleteAt: time.Date(2024, 5, 29, 9, 30, 0, 0, time.UTC)},
	}
	for _, tt := range tests {
		got := CalculateLifecycle(created, tt.in)
		if !got.MoveToColdStorageAt.Equal(tt.cold) || !got.DeleteAt.Equal(tt.deleteAt) {
			t.Errorf("%s: CalculateLifecycle = %+v; want cold %v delete %v", tt.name, got, tt.cold, tt.deleteAt)
		}
		if !got.DeleteAt.IsZero() && got.DeleteAt.Location() != time.UTC {
			t.Errorf("%s: DeleteAt not in UTC", tt.name)
		}
	}
	rp := RecoveryPoint{CreationDate: created, Lifecycle: &Lifecycle{DeleteAfterDays: Days(2)}}
	if got := rp.CalculatedLifecycle().DeleteAt; !got.Equal(tests[1].deleteAt) {
		t.Errorf("RecoveryPoint.CalculatedLifecycle().DeleteAt = %v, want %v", got, tests[1].deleteAt)
	}
}

func TestLifecycleClone(t *testing.T) {
	b := true
	l := &Lifecycle{MoveToColdStorageAfterDays: Days(1), DeleteAfterDays: Days(100), OptInToArchiveForSupportedResources: &b}
	c := l.Clone()
	*c.DeleteAfterDays = 5
	*c.OptInToArchiveForSupportedResources = false
	if *l.DeleteAfterDays != 100 || !*l.OptInToArchiveForSupportedResources {
		t.Errorf("Clone shares pointers with the original")
	}
	if (*Lifecycle)(nil).Clone() != nil {
		t.Errorf("nil.Clone() != nil")
	}
	if !(*Lifecycle)(nil).IsEmpty() || !(&Lifecycle{}).IsEmpty() || l.IsEmpty() {
		t.Errorf("IsEmpty wrong")
	}
	if d, forever := (*Lifecycle)(nil).RetentionDays(); !forever || d != 0 {
		t.Errorf("nil RetentionDays = %d, %v; want 0, true", d, forever)
	}
}
