package service

import (
	"cmp"
	"context"
	"slices"
	"strconv"
	"time"

	"github.com/coffer/coffer/internal/api/backupapi"
	"github.com/coffer/coffer/internal/backup"
	"github.com/coffer/coffer/internal/meta"
)

// Special values of the *JobSummaries dimensions.
const (
	summaryAny          = "ANY"
	summaryAggregateAll = "AGGREGATE_ALL"
)

// summaryQuery is a *JobSummaries request: per dimension "" or ANY (one row
// per value), AGGREGATE_ALL (one summed row) or a value (only that value).
type summaryQuery struct {
	kind                                   backup.JobKind
	account, state, resourceType, category string
	period                                 backupapi.AggregationPeriod
	page                                   meta.Page
}

// summaryRow is one row of a *JobSummaries answer.
type summaryRow struct {
	region, account, state, resourceType, category string
	count                                          int64
	start, end                                     time.Time
}

const day = 24 * time.Hour

// jobSummaries aggregates the job counts of the call region the way AWS
// documents: AggregationPeriod ONE_DAY (the default) gives one row per UTC
// day for the 14 days ending today, SEVEN_DAYS and FOURTEEN_DAYS one row
// for the last 7 or 14 days (today included). Rows with a zero count are
// left out; rows are ordered by StartTime, then account, state, resource
// type and message category. Jobs of other accounts are never counted
// (AccountId ANY and AGGREGATE_ALL matter only to AWS Organizations).
func (s *Service) jobSummaries(ctx context.Context, q summaryQuery) ([]summaryRow, string, error) {
	region, err := s.region(ctx)
	if err != nil {
		return nil, "", err
	}
	limit, err := meta.Limit(q.page)
	if err != nil {
		return nil, "", err
	}
	offset := 0
	if c, ok, err := meta.DecodeCursor("job-summaries:"+string(q.kind), q.page.NextToken); err != nil {
		return nil, "", err
	} else if ok {
		if offset, err = strconv.Atoi(c.K); err != nil || offset < 0 {
			return nil, "", backup.InvalidParameterf("the NextToken is not valid for this list; start again without one")
		}
	}
	switch a := q.account; {
	case a == "" || a == summaryAny || a == summaryAggregateAll || a == s.account:
	case len(a) == 12:
		return nil, "", nil // another account: nothing here
	default:
		return nil, "", backup.InvalidParameterf("Invalid value for AccountId: %q; use a 12-digit account ID, ANY or AGGREGATE_ALL", a)
	}
	if st := q.state; st != "" && st != summaryAny && st != summaryAggregateAll && !backup.ValidState(q.kind, backup.JobState(st)) {
		return nil, "", backup.InvalidParameterf("Invalid value for State: %q", st)
	}
	if t := q.resourceType; t != "" && t != summaryAny && t != summaryAggregateAll && !backup.ResourceType(t).Known() {
		return nil, "", backup.InvalidParameterf("Invalid value for ResourceType: %q is not a resource type", t)
	}

	now := s.clock.Now().UTC()
	today := now.Truncate(day)
	from, to := today.Add(-13*day), today.Add(day)
	type window struct{ start, end time.Time }
	var windows []window
	switch q.period {
	case "", backupapi.AggregationPeriodOneDay:
		q.period = backupapi.AggregationPeriodOneDay
		for d := from; d.Before(to); d = d.Add(day) {
			windows = append(windows, window{d, d.Add(day)})
		}
	case backupapi.AggregationPeriodSevenDays:
		windows = []window{{today.Add(-6 * day), to}}
	case backupapi.AggregationPeriodFourteenDays:
		windows = []window{{from, to}}
	default:
		return nil, "", backup.InvalidParameterf("Invalid value for AggregationPeriod: %q", q.period)
	}
	counts, err := s.store.JobCounts(ctx, q.kind, from, to)
	if err != nil {
		return nil, "", err
	}
	pick := func(want, got string) (string, bool) {
		switch want {
		case "", summaryAny:
			return got, true
		case summaryAggregateAll:
			return summaryAggregateAll, true
		}
		return want, want == got
	}
	acc := map[summaryRow]int64{}
	for _, c := range counts {
		if c.Region != region || c.AccountID != s.account {
			continue
		}
		var w *window
		for i := range windows {
			if !c.Day.Before(windows[i].start) && c.Day.Before(windows[i].end) {
				w = &windows[i]
				break
			}
		}
		if w == nil {
			continue
		}
		k := summaryRow{region: region, start: w.start, end: w.end}
		var ok bool
		if k.account, ok = pick(q.account, c.AccountID); !ok {
			continue
		}
		if q.account == "" {
			k.account = c.AccountID
		}
		if k.state, ok = pick(q.state, string(c.State)); !ok {
			continue
		}
		if k.resourceType, ok = pick(q.resourceType, string(c.ResourceType)); !ok {
			continue
		}
		if k.category, ok = pick(q.category, c.MessageCategory); !ok {
			continue
		}
		acc[k] += c.Count
	}
	rows := make([]summaryRow, 0, len(acc))
	for k, n := range acc {
		k.count = n
		rows = append(rows, k)
	}
	slices.SortFunc(rows, func(a, b summaryRow) int {
		return cmp.Or(a.start.Compare(b.start), cmp.Compare(a.account, b.account), cmp.Compare(a.state, b.state),
			cmp.Compare(a.resourceType, b.resourceType), cmp.Compare(a.category, b.category))
	})
	if offset > len(rows) {
		offset = len(rows)
	}
	rows = rows[offset:]
	next := ""
	if len(rows) > limit {
		rows = rows[:limit]
		next = meta.EncodeCursor(meta.Cursor{Scope: "job-summaries:" + string(q.kind), K: strconv.Itoa(offset + limit)})
	}
	return rows, next, nil
}

// ListBackupJobSummaries counts the call region's backup jobs by account,
// state, resource type and message category over the aggregation period
// (see jobSummaries).
func (s *Service) ListBackupJobSummaries(ctx context.Context, in *backupapi.ListBackupJobSummariesInput) (*backupapi.ListBackupJobSummariesOutput, error) {
	q := summaryQuery{
		kind:         backup.BackupJob,
		account:      str(in.AccountId),
		state:        string(in.State),
		resourceType: str(in.ResourceType),
		category:     str(in.MessageCategory),
		period:       in.AggregationPeriod,
		page:         page(in.MaxResults, in.NextToken),
	}
	rows, next, err := s.jobSummaries(ctx, q)
	if err != nil {
		return nil, apiError(err)
	}
	period := string(q.period)
	if period == "" {
		period = string(backupapi.AggregationPeriodOneDay)
	}
	out := &backupapi.ListBackupJobSummariesOutput{AggregationPeriod: &period, NextToken: optString(next), BackupJobSummaries: make([]backupapi.BackupJobSummary, 0, len(rows))}
	for _, r := range rows {
		n := int32(min(r.count, int64(1<<31-1)))
		out.BackupJobSummaries = append(out.BackupJobSummaries, backupapi.BackupJobSummary{
			AccountId:       optString(r.account),
			Count:           &n,
			EndTime:         optTime(r.end),
			MessageCategory: optString(r.category),
			Region:          optString(r.region),
			ResourceType:    optString(r.resourceType),
			StartTime:       optTime(r.start),
			State:           backupapi.BackupJobStatus(r.state),
		})
	}
	return out, nil
}
