package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"

	"github.com/coffer/coffer/internal/backup"
	"github.com/coffer/coffer/internal/meta"
)

func jobNotFound(id string) func() error {
	return func() error { return backup.NotFoundf("job %s not found", id) }
}

// jobSelect reads the columns scanJob expects.
const jobSelect = `SELECT state, lease_owner, lease_expiry_ns, attempt, bytes_done, bytes_total, items_done, items_total, percent, progress_ns, data FROM jobs`

func scanJob(row scanner, notFound func() error) (backup.Job, error) {
	var (
		state, data        string
		owner              sql.NullString
		expiry, progressAt sql.NullInt64
		attempt            int
		bd, bt, itd, itt   int64
		percent            float64
	)
	if err := row.Scan(&state, &owner, &expiry, &attempt, &bd, &bt, &itd, &itt, &percent, &progressAt, &data); err != nil {
		return backup.Job{}, scanErr(err, notFound)
	}
	var j backup.Job
	if err := decode(data, &j); err != nil {
		return backup.Job{}, err
	}
	j.State = backup.JobState(state)
	j.LeaseOwner = owner.String
	j.LeaseExpiry = fromNullNS(expiry)
	j.Attempt = attempt
	j.Progress = backup.JobProgress{BytesDone: bd, BytesTotal: bt, ItemsDone: itd, ItemsTotal: itt, Percent: percent, UpdatedAt: fromNullNS(progressAt)}
	return j, nil
}

// jobIndexColumns are the filter columns derived from a job, in the order
// of jobColumnNames.
func jobIndexColumns(j *backup.Job) []any {
	var vault, destVault, destRegion, rpArn, testPlan string
	var rpCreated any
	switch {
	case j.Backup != nil:
		vault, rpArn = j.Backup.BackupVaultName, j.Backup.RecoveryPointArn
	case j.Copy != nil:
		destVault, destRegion, rpArn = j.Copy.DestinationBackupVaultArn, j.Copy.DestinationRegion, j.Copy.SourceRecoveryPointArn
	case j.Restore != nil:
		rpArn, rpCreated = j.Restore.RecoveryPointArn, nullNS(j.Restore.RecoveryPointCreationDate)
		testPlan = j.CreatedBy.RestoreTestingPlanArn
	}
	var owner any
	if j.LeaseOwner != "" {
		owner = j.LeaseOwner
	}
	p := j.Progress
	return []any{string(j.Kind), j.Region, j.AccountID, string(j.State), j.ResourceArn, string(j.ResourceType),
		vault, destVault, destRegion, rpArn, j.ParentJobID, j.MessageCategory, testPlan, rpCreated,
		ns(j.CreationDate), nullNS(j.CompletionDate), ns(j.NotBefore), owner, nullNS(j.LeaseExpiry), j.Attempt,
		j.IdempotencyToken, p.BytesDone, p.BytesTotal, p.ItemsDone, p.ItemsTotal, p.Percent, nullNS(p.UpdatedAt)}
}

const jobColumnNames = `kind, region, account, state, resource_arn, resource_type, vault_name, dest_vault_arn, dest_region, recovery_point_arn, parent_job_id, message_category, restore_testing_plan_arn, rp_created_ns, created_ns, completed_ns, not_before_ns, lease_owner, lease_expiry_ns, attempt, idempotency_token, bytes_done, bytes_total, items_done, items_total, percent, progress_ns`

var (
	insertJobSQL = `INSERT INTO jobs (id, ` + jobColumnNames + `, data) VALUES (?` + strings.Repeat(", ?", strings.Count(jobColumnNames, ",")+2) + `)`
	updateJobSQL = `UPDATE jobs SET ` + strings.ReplaceAll(jobColumnNames, ",", " = ?,") + ` = ?, data = ? WHERE id = ?`
)

// CreateJob implements meta.JobStore.
func (s *Store) CreateJob(ctx context.Context, j backup.Job, ttl time.Duration) (backup.Job, bool, error) {
	if err := j.Validate(); err != nil {
		return backup.Job{}, false, err
	}
	data, err := encode(&j)
	if err != nil {
		return backup.Job{}, false, err
	}
	var out backup.Job
	created := false
	err = s.tx(ctx, func(t *wtx) error {
		if j.IdempotencyToken != "" && ttl > 0 {
			prev, err := scanJob(t.queryRow(jobSelect+` WHERE kind = ? AND account = ? AND idempotency_token = ? AND region = ? AND created_ns > ? ORDER BY created_ns DESC LIMIT 1`,
				string(j.Kind), j.AccountID, j.IdempotencyToken, j.Region, ns(j.CreationDate.Add(-ttl))), nil)
			if err == nil {
				out = prev
				return nil
			}
			if !errors.Is(err, sql.ErrNoRows) {
				return err
			}
		}
		var one int
		err := t.queryRow(`SELECT 1 FROM jobs WHERE id = ?`, j.ID).Scan(&one)
		if err == nil {
			return &backup.Error{Kind: backup.KindAlreadyExists, Message: "job " + j.ID + " already exists"}
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return dbErr("read", err)
		}
		args := append([]any{j.ID}, jobIndexColumns(&j)...)
		args = append(args, data)
		if _, err := t.exec(insertJobSQL, args...); err != nil {
			return err
		}
		out, created = j, true
		return nil
	})
	if err != nil {
		return backup.Job{}, false, err
	}
	return out, created, nil
}

// GetJob implements meta.JobStore.
func (s *Store) GetJob(ctx context.Context, id string) (backup.Job, error) {
	row, err := s.readRow(ctx, jobSelect+` WHERE id = ?`, id)
	if err != nil {
		return backup.Job{}, err
	}
	return scanJob(row, jobNotFound(id))
}

// UpdateJob implements meta.JobStore.
func (s *Store) UpdateJob(ctx context.Context, id string, fn func(*backup.Job) error) (backup.Job, error) {
	var out backup.Job
	err := s.tx(ctx, func(t *wtx) error {
		j, err := scanJob(t.queryRow(jobSelect+` WHERE id = ?`, id), jobNotFound(id))
		if err != nil {
			return err
		}
		kind, state := j.Kind, j.State
		if err := fn(&j); err != nil {
			return err
		}
		if j.ID != id || j.Kind != kind {
			return backup.InvalidRequestf("a job's ID and kind cannot be changed")
		}
		if j.State != state && !backup.CanReach(kind, state, j.State) {
			return backup.InvalidRequestf("%s job %s cannot go from %s to %s", strings.ToLower(string(kind)), id, state, j.State)
		}
		if err := j.Validate(); err != nil {
			return err
		}
		if j.Terminal() {
			j.LeaseOwner, j.LeaseExpiry = "", time.Time{}
		}
		if err := t.writeJob(&j); err != nil {
			return err
		}
		out = j
		return nil
	})
	return out, err
}

func (t *wtx) writeJob(j *backup.Job) error {
	data, err := encode(j)
	if err != nil {
		return err
	}
	args := append(jobIndexColumns(j), data, j.ID)
	_, err = t.exec(updateJobSQL, args...)
	return err
}

// jobWhere builds the conditions of a JobFilter.
func jobWhere(f meta.JobFilter) *where {
	var w where
	if len(f.Kinds) > 0 {
		k := make([]string, len(f.Kinds))
		for i, x := range f.Kinds {
			k[i] = string(x)
		}
		w.in("kind", k)
	}
	eq := func(col, v string) {
		if v != "" {
			w.add(col+" = ?", v)
		}
	}
	eq("account", f.AccountID)
	eq("region", f.Region)
	if len(f.States) > 0 {
		st := make([]string, len(f.States))
		for i, x := range f.States {
			st[i] = string(x)
		}
		w.in("state", st)
	}
	eq("resource_arn", f.ResourceArn)
	eq("resource_type", string(f.ResourceType))
	eq("vault_name", f.VaultName)
	eq("dest_vault_arn", f.DestinationVaultArn)
	eq("dest_region", f.DestinationRegion)
	eq("recovery_point_arn", f.RecoveryPointArn)
	eq("parent_job_id", f.ParentJobID)
	eq("message_category", f.MessageCategory)
	eq("restore_testing_plan_arn", f.RestoreTestingPlanArn)
	bound := func(col, op string, t time.Time) {
		if !t.IsZero() {
			w.add(col+" "+op+" ?", ns(t))
		}
	}
	bound("created_ns", ">", f.CreatedAfter)
	bound("created_ns", "<", f.CreatedBefore)
	bound("completed_ns", ">", f.CompletedAfter)
	bound("completed_ns", "<", f.CompletedBefore)
	bound("rp_created_ns", ">", f.RecoveryPointCreatedAfter)
	bound("rp_created_ns", "<", f.RecoveryPointCreatedBefore)
	return &w
}

// ListJobs implements meta.JobStore.
func (s *Store) ListJobs(ctx context.Context, f meta.JobFilter, p meta.Page) (_ []backup.Job, _ string, err error) {
	limit, cur, ok, err := pageArgs("jobs", p)
	if err != nil {
		return nil, "", err
	}
	w := jobWhere(f)
	if ok {
		w.add("(created_ns < ? OR (created_ns = ? AND id < ?))", cur.T, cur.T, cur.K)
	}
	return readPage(ctx, s, jobSelect+w.sql()+` ORDER BY created_ns DESC, id DESC`, w.args, limit,
		func(row scanner) (backup.Job, error) { return scanJob(row, nil) },
		func(j backup.Job) meta.Cursor { return meta.Cursor{Scope: "jobs", T: ns(j.CreationDate), K: j.ID} })
}

// CountJobs implements meta.JobStore.
func (s *Store) CountJobs(ctx context.Context, f meta.JobFilter) (int64, error) {
	w := jobWhere(f)
	row, err := s.readRow(ctx, `SELECT COUNT(*) FROM jobs`+w.sql(), w.args...)
	if err != nil {
		return 0, err
	}
	var n int64
	if err := row.Scan(&n); err != nil {
		return 0, dbErr("read", err)
	}
	return n, nil
}

const nsPerDay = int64(24 * time.Hour)

// JobCounts implements meta.JobStore.
func (s *Store) JobCounts(ctx context.Context, kind backup.JobKind, from, to time.Time) (_ []meta.JobCount, err error) {
	rows, err := s.read(ctx, `SELECT region, account, state, resource_type, message_category, created_ns / ? AS day, COUNT(*)
		FROM jobs WHERE kind = ? AND created_ns >= ? AND created_ns < ?
		GROUP BY region, account, state, resource_type, message_category, day`,
		nsPerDay, string(kind), ns(from), ns(to))
	if err != nil {
		return nil, err
	}
	defer closeRows(rows, &err)
	var out []meta.JobCount
	for rows.Next() {
		var c meta.JobCount
		var state, rt string
		var day int64
		if err := rows.Scan(&c.Region, &c.AccountID, &state, &rt, &c.MessageCategory, &day, &c.Count); err != nil {
			return nil, dbErr("read", err)
		}
		c.State, c.ResourceType, c.Day = backup.JobState(state), backup.ResourceType(rt), fromNS(day*nsPerDay)
		if day == 0 {
			c.Day = time.Unix(0, 0).UTC()
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, dbErr("read", err)
	}
	return out, nil
}
