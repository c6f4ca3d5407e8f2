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

func checkLease(workerID string, leaseFor time.Duration) error {
	if workerID == "" {
		return backup.MissingParameterf("a worker ID is required to lease jobs")
	}
	if leaseFor <= 0 {
		return backup.InvalidParameterf("a lease must last a positive duration, got %v", leaseFor)
	}
	return nil
}

// queuedCondition returns "((kind = ? AND state IN (?, ?)) OR …)" for kinds
// and its arguments.
func queuedCondition(kinds []backup.JobKind) (string, []any) {
	if len(kinds) == 0 {
		kinds = backup.JobKinds
	}
	var parts []string
	var args []any
	for _, k := range kinds {
		qs := backup.QueuedStates(k)
		if len(qs) == 0 {
			continue
		}
		parts = append(parts, "(j.kind = ? AND j.state IN ("+strings.TrimSuffix(strings.Repeat("?,", len(qs)), ",")+"))")
		args = append(args, string(k))
		for _, q := range qs {
			args = append(args, string(q))
		}
	}
	if len(parts) == 0 {
		return "0", nil
	}
	return "(" + strings.Join(parts, " OR ") + ")", args
}

// ClaimJob implements meta.JobQueue. The pick and the lease are one write
// transaction on the single writer connection, so two claims cannot pick
// the same job or two jobs of one resource.
func (s *Store) ClaimJob(ctx context.Context, workerID string, kinds []backup.JobKind, now time.Time, leaseFor time.Duration) (backup.Job, bool, error) {
	if err := checkLease(workerID, leaseFor); err != nil {
		return backup.Job{}, false, err
	}
	cond, args := queuedCondition(kinds)
	n := ns(now)
	args = append(args, n, n, n)
	q := `SELECT j.seq FROM jobs j WHERE ` + cond + `
		AND j.not_before_ns <= ?
		AND (j.lease_owner IS NULL OR j.lease_expiry_ns <= ?)
		AND (j.kind NOT IN ('BACKUP', 'COPY') OR NOT EXISTS (
			SELECT 1 FROM jobs o
			WHERE o.resource_arn = j.resource_arn AND o.kind IN ('BACKUP', 'COPY') AND o.seq <> j.seq
			  AND (o.state IN ('RUNNING', 'ABORTING')
			       OR (o.state IN ('CREATED', 'PENDING') AND o.lease_owner IS NOT NULL AND o.lease_expiry_ns > ?))))
		ORDER BY j.created_ns, j.seq
		LIMIT 1`
	var out backup.Job
	found := false
	err := s.tx(ctx, func(t *wtx) error {
		var seq int64
		err := t.queryRow(q, args...).Scan(&seq)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return dbErr("read", err)
		}
		j, err := t.lease(seq, workerID, now, leaseFor)
		if err != nil {
			return err
		}
		out, found = j, true
		return nil
	})
	if err != nil {
		return backup.Job{}, false, err
	}
	return out, found, nil
}

// lease gives the job at seq to workerID and returns it.
func (t *wtx) lease(seq int64, workerID string, now time.Time, leaseFor time.Duration) (backup.Job, error) {
	if _, err := t.exec(`UPDATE jobs SET lease_owner = ?, lease_expiry_ns = ?, attempt = attempt + 1 WHERE seq = ?`,
		workerID, ns(now.Add(leaseFor)), seq); err != nil {
		return backup.Job{}, err
	}
	return scanJob(t.queryRow(jobSelect+` WHERE seq = ?`, seq), nil)
}

// RenewLease implements meta.JobQueue.
func (s *Store) RenewLease(ctx context.Context, id, workerID string, now time.Time, leaseFor time.Duration) error {
	if err := checkLease(workerID, leaseFor); err != nil {
		return err
	}
	return s.tx(ctx, func(t *wtx) error {
		res, err := t.exec(`UPDATE jobs SET lease_expiry_ns = ? WHERE id = ? AND lease_owner = ?`, ns(now.Add(leaseFor)), id, workerID)
		if err != nil {
			return err
		}
		return t.leaseResult(res, id, workerID)
	})
}

// leaseResult turns "no row updated" into NotFound or ErrLeaseLost.
func (t *wtx) leaseResult(res sql.Result, id, workerID string) error {
	n, err := res.RowsAffected()
	if err != nil {
		return dbErr("write", err)
	}
	if n > 0 {
		return nil
	}
	var one int
	if err := t.queryRow(`SELECT 1 FROM jobs WHERE id = ?`, id).Scan(&one); err != nil {
		return scanErr(err, jobNotFound(id))
	}
	return meta.LeaseLost(id, workerID)
}

// ReleaseExpired implements meta.JobQueue.
func (s *Store) ReleaseExpired(ctx context.Context, workerID string, now time.Time, leaseFor time.Duration) ([]backup.Job, error) {
	if err := checkLease(workerID, leaseFor); err != nil {
		return nil, err
	}
	var out []backup.Job
	err := s.tx(ctx, func(t *wtx) (err error) {
		rows, err := t.query(`SELECT seq FROM jobs WHERE state IN ('RUNNING', 'ABORTING') AND (lease_owner IS NULL OR lease_expiry_ns <= ?) ORDER BY created_ns, seq`, ns(now))
		if err != nil {
			return err
		}
		var seqs []int64
		for rows.Next() {
			var seq int64
			if err := rows.Scan(&seq); err != nil {
				rows.Close()
				return dbErr("read", err)
			}
			seqs = append(seqs, seq)
		}
		if err := rows.Err(); err != nil {
			rows.Close()
			return dbErr("read", err)
		}
		rows.Close()
		for _, seq := range seqs {
			j, err := t.lease(seq, workerID, now, leaseFor)
			if err != nil {
				return err
			}
			out = append(out, j)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// UpdateProgress implements meta.JobQueue.
func (s *Store) UpdateProgress(ctx context.Context, id, workerID string, p backup.JobProgress) error {
	return s.tx(ctx, func(t *wtx) error {
		res, err := t.exec(`UPDATE jobs SET bytes_done = ?, bytes_total = ?, items_done = ?, items_total = ?, percent = ?, progress_ns = ? WHERE id = ? AND lease_owner = ?`,
			p.BytesDone, p.BytesTotal, p.ItemsDone, p.ItemsTotal, p.Percent, nullNS(p.UpdatedAt), id, workerID)
		if err != nil {
			return err
		}
		return t.leaseResult(res, id, workerID)
	})
}
