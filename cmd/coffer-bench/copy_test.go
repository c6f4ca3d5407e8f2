package main

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// TestCopySummary checks the ratios of a run and the summary over runs:
// median (the mean of the middle two for an even count), range, and the
// runs on the right side of each target.
func TestCopySummary(t *testing.T) {
	run := func(cp, first, third time.Duration) *copyReport {
		return &copyReport{
			stored: 500e6, dataFileBytes: 1000e6, changedFileBytes: 550e6,
			cp: copyStep{took: cp}, first: copyStep{took: first, written: 1000},
			second: copyStep{took: first / 2, written: 300}, third: copyStep{took: third, written: 30},
		}
	}
	reps := []*copyReport{
		run(800*time.Millisecond, time.Second, 100*time.Millisecond), // 80%, 10% of the time
		run(700*time.Millisecond, time.Second, 200*time.Millisecond), // 70%, 20%
		run(900*time.Millisecond, time.Second, 120*time.Millisecond), // 90%, 12%
		run(600*time.Millisecond, time.Second, 140*time.Millisecond), // 60%, 14%
	}
	if q := reps[0].ratios(); q.first != 80 || q.secondBytes != 30 || q.secondTime != 50 || q.thirdBytes != 3 || q.thirdTime != 10 || q.secondFileLevel != 55 {
		t.Fatalf("ratios of the first run: %+v", q)
	}
	var b bytes.Buffer
	printCopySummary(&b, reps)
	out := b.String()
	for _, want := range []string{
		"| first copy, of cp's throughput (≥ 80%) | 75.0% | 60.0–90.0% | 2 of 4 |",
		"| in-place change, of the first copy's bytes (no target) | 30.0% | 30.0–30.0% | – |",
		"| in-place change: its changed files, of the data set (a file-level incremental's share) | 55.0% | 55.0–55.0% | – |",
		"| whole-file change, of the first copy's time (≤ 15%) | 13.0% | 10.0–20.0% | 3 of 4 |",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
}
