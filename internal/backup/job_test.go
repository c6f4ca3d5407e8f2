package backup

import (
	"math"
	"strings"
	"testing"
	"time"
)

func TestCanTransition(t *testing.T) {
	tests := []struct {
		kind     JobKind
		from, to JobState
		want     bool
	}{
		{BackupJob, JobCreated, JobRunning, true},
		{BackupJob, JobCreated, JobPending, true},
		{BackupJob, JobCreated, JobExpired, true},
		{BackupJob, JobPending, JobRunning, true},
		{BackupJob, JobRunning, JobCompleted, true},
		{BackupJob, JobRunning, JobPartial, true},
		{BackupJob, JobRunning, JobAborting, true},
		{BackupJob, JobRunning, JobPending, true},
		{BackupJob, JobAborting, JobAborted, true},
		{BackupJob, JobCompleted, JobRunning, false},
		{BackupJob, JobFailed, JobRunning, false},
		{BackupJob, JobAborted, JobCompleted, false},
		{BackupJob, JobCreated, JobCompleted, false},
		{BackupJob, JobRunning, JobRunning, false},
		{CopyJob, JobCreated, JobRunning, true},
		{CopyJob, JobRunning, JobCompleted, true},
		{CopyJob, JobRunning, JobCreated, true},
		{CopyJob, JobCreated, JobPending, false},
		{CopyJob, JobRunning, JobAborted, false},
		{CopyJob, JobCompleted, JobFailed, false},
		{RestoreJob, JobPending, JobRunning, true},
		{RestoreJob, JobRunning, JobCompleted, true},
		{RestoreJob, JobRunning, JobAborted, true},
		{RestoreJob, JobCreated, JobRunning, false},
		{RestoreJob, JobRunning, JobPartial, false},
		{RestoreJob, JobCompleted, JobPending, false},
		{JobKind("SCAN"), JobCreated, JobRunning, false},
	}
	for _, tt := range tests {
		if got := CanTransition(tt.kind, tt.from, tt.to); got != tt.want {
			t.Errorf("CanTransition(%s, %s, %s) = %v, want %v", tt.kind, tt.from, tt.to, got, tt.want)
		}
	}
}

func TestCanReach(t *testing.T) {
	tests := []struct {
		kind     JobKind
		from, to JobState
		want     bool
	}{
		{BackupJob, JobCreated, JobCompleted, true},
		{BackupJob, JobPending, JobAborted, true},
		{BackupJob, JobRunning, JobCreated, false},
		{BackupJob, JobCompleted, JobRunning, false},
		{BackupJob, JobRunning, JobRunning, true}, // RUNNING -> PENDING -> RUNNING
		{BackupJob, JobCreated, JobCreated, false},
		{CopyJob, JobCreated, JobPartial, true},
		{CopyJob, JobFailed, JobCreated, false},
		{RestoreJob, JobPending, JobCompleted, true},
		{RestoreJob, JobAborted, JobPending, false},
		{JobKind("X"), JobCreated, JobRunning, false},
	}
	for _, tt := range tests {
		if got := CanReach(tt.kind, tt.from, tt.to); got != tt.want {
			t.Errorf("CanReach(%s, %s, %s) = %v, want %v", tt.kind, tt.from, tt.to, got, tt.want)
		}
	}
}

func TestStateMachinesAreConsistent(t *testing.T) {
	for _, k := range JobKinds {
		states := States(k)
		if !ValidState(k, InitialState(k)) {
			t.Errorf("%s: initial state %s not valid", k, InitialState(k))
		}
		for _, from := range states {
			for _, to := range states {
				if CanTransition(k, from, to) && IsTerminal(k, from) {
					t.Errorf("%s: terminal state %s has a transition to %s", k, from, to)
				}
			}
			if !IsTerminal(k, from) {
				// every non-terminal state can reach a terminal state in one step
				ok := false
				for _, to := range states {
					ok = ok || (CanTransition(k, from, to) && IsTerminal(k, to))
				}
				if !ok {
					t.Errorf("%s: non-terminal state %s cannot end", k, from)
				}
			}
			for _, to := range machine(k).next[from] {
				if !ValidState(k, to) {
					t.Errorf("%s: transition %s -> %s to a state the kind does not have", k, from, to)
				}
			}
		}
	}
}

func TestStateClasses(t *testing.T) {
	tests := []struct {
		kind                       JobKind
		state                      JobState
		queued, active, isTerminal bool
	}{
		{BackupJob, JobCreated, true, false, false},
		{BackupJob, JobPending, true, false, false},
		{BackupJob, JobRunning, false, true, false},
		{BackupJob, JobAborting, false, true, false},
		{BackupJob, JobExpired, false, false, true},
		{BackupJob, JobPartial, false, false, true},
		{CopyJob, JobCreated, true, false, false},
		{CopyJob, JobRunning, false, true, false},
		{CopyJob, JobPartial, false, false, true},
		{RestoreJob, JobPending, true, false, false},
		{RestoreJob, JobRunning, false, true, false},
		{RestoreJob, JobAborted, false, false, true},
		{RestoreJob, JobCreated, false, false, false},
	}
	for _, tt := range tests {
		if q, a, term := IsQueued(tt.kind, tt.state), IsActive(tt.kind, tt.state), IsTerminal(tt.kind, tt.state); q != tt.queued || a != tt.active || term != tt.isTerminal {
			t.Errorf("%s %s: queued/active/terminal = %v/%v/%v, want %v/%v/%v", tt.kind, tt.state, q, a, term, tt.queued, tt.active, tt.isTerminal)
		}
	}
	if !ExclusivePerResource(BackupJob) || !ExclusivePerResource(CopyJob) || ExclusivePerResource(RestoreJob) {
		t.Errorf("ExclusivePerResource wrong")
	}
}

func TestJobSetState(t *testing.T) {
	j := &Job{ID: "J", Kind: BackupJob, State: JobCreated}
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	if err := j.SetState(JobRunning, now); err != nil {
		t.Fatal(err)
	}
	if !j.InitiationDate.Equal(now) || !j.CompletionDate.IsZero() {
		t.Errorf("after RUNNING: initiation %v completion %v; want %v and zero", j.InitiationDate, j.CompletionDate, now)
	}
	if err := j.SetState(JobRunning, now.Add(time.Hour)); err != nil {
		t.Errorf("same state: %v, want nil", err)
	}
	if err := j.SetState(JobCompleted, now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if !j.CompletionDate.Equal(now.Add(time.Hour)) || !j.Terminal() {
		t.Errorf("after COMPLETED: completion %v terminal %v", j.CompletionDate, j.Terminal())
	}
	err := j.SetState(JobRunning, now)
	if KindOf(err) != KindInvalidRequest || !strings.Contains(err.Error(), "cannot go from COMPLETED to RUNNING") {
		t.Errorf("COMPLETED -> RUNNING: got %v, want InvalidRequest", err)
	}
}

func TestJobValidate(t *testing.T) {
	now := time.Now()
	good := Job{ID: "J", Kind: CopyJob, State: JobCreated, Region: "us-east-1", AccountID: "123456789012", ResourceArn: "arn:x", CreationDate: now, Copy: &CopyDetails{}}
	if err := good.Validate(); err != nil {
		t.Fatalf("valid job: %v", err)
	}
	tests := []struct {
		name string
		mod  func(*Job)
	}{
		{"bad kind", func(j *Job) { j.Kind = "SCAN" }},
		{"no id", func(j *Job) { j.ID = "" }},
		{"bad state", func(j *Job) { j.State = JobPending }},
		{"wrong details", func(j *Job) { j.Copy = nil; j.Backup = &BackupDetails{} }},
		{"two details", func(j *Job) { j.Backup = &BackupDetails{} }},
		{"no resource", func(j *Job) { j.ResourceArn = "" }},
		{"no region", func(j *Job) { j.Region = "" }},
		{"no creation", func(j *Job) { j.CreationDate = time.Time{} }},
	}
	for _, tt := range tests {
		j := good
		c := *good.Copy
		j.Copy = &c
		tt.mod(&j)
		if err := j.Validate(); err == nil {
			t.Errorf("%s: Validate = nil, want an error", tt.name)
		}
	}
}

func TestFormatPercent(t *testing.T) {
	tests := []struct {
		in   float64
		want string
	}{
		{0, "0.0"}, {12.345, "12.3"}, {99.96, "100.0"}, {100, "100.0"}, {150, "100.0"}, {-1, "0.0"}, {math.NaN(), "0.0"},
	}
	for _, tt := range tests {
		if got := FormatPercent(tt.in); got != tt.want {
			t.Errorf("FormatPercent(%v) = %q, want %q", tt.in, got, tt.want)
		}
	}
	j := Job{Progress: JobProgress{Percent: 50, BytesDone: 7}}
	if j.PercentDone() != "50.0" || j.BytesTransferred() != 7 {
		t.Errorf("PercentDone/BytesTransferred = %q/%d", j.PercentDone(), j.BytesTransferred())
	}
}
