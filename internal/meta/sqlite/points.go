package sqlite

import (
	"context"
	"database/sql"
	"errors"

	"github.com/coffer/coffer/internal/backup"
	"github.com/coffer/coffer/internal/meta"
)

func pointNotFound(arn string) func() error {
	return func() error { return backup.NotFoundf("recovery point %s not found", arn) }
}

// pointColumns returns the indexed columns of rp, in the order of the
// INSERT and UPDATE statements below (after arn and the vault key).
func pointColumns(rp *backup.RecoveryPoint) []any {
	cl := rp.CalculatedLifecycle()
	return []any{rp.ResourceArn, string(rp.ResourceType), rp.CreatedBy.BackupPlanID, rp.ParentRecoveryPointArn,
		string(rp.Status), string(rp.StorageClass), ns(rp.CreationDate), nullNS(cl.DeleteAt), nullNS(cl.MoveToColdStorageAt)}
}

// CreateRecoveryPoint implements meta.RecoveryPointStore.
func (s *Store) CreateRecoveryPoint(ctx context.Context, rp backup.RecoveryPoint, tags map[string]string) error {
	switch {
	case rp.ARN == "":
		return backup.MissingParameterf("a recovery point needs an ARN")
	case rp.VaultName == "" || rp.Region == "" || rp.AccountID == "":
		return backup.MissingParameterf("recovery point %s needs a vault name, a region and an account", rp.ARN)
	case rp.ResourceArn == "":
		return backup.MissingParameterf("recovery point %s needs a resource ARN", rp.ARN)
	case rp.CreationDate.IsZero():
		return backup.MissingParameterf("recovery point %s needs a creation date", rp.ARN)
	case len(tags) > meta.MaxTagsPerResource:
		return tooManyTags(rp.ARN, len(tags))
	}
	k := backup.VaultKey{Region: rp.Region, AccountID: rp.AccountID, Name: rp.VaultName}
	if rp.VaultArn == "" {
		rp.VaultArn = k.ARN()
	}
	data, err := encode(&rp)
	if err != nil {
		return err
	}
	return s.tx(ctx, func(t *wtx) error {
		var one int
		if err := t.queryRow(`SELECT 1 FROM vaults WHERE region = ? AND account = ? AND name = ?`, k.Region, k.AccountID, k.Name).Scan(&one); err != nil {
			return scanErr(err, vaultNotFound(k))
		}
		err := t.queryRow(`SELECT 1 FROM recovery_points WHERE arn = ?`, rp.ARN).Scan(&one)
		if err == nil {
			return &backup.Error{Kind: backup.KindAlreadyExists, Message: "recovery point " + rp.ARN + " already exists", Arn: rp.ARN}
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return dbErr("read", err)
		}
		args := append([]any{rp.ARN, k.Region, k.AccountID, k.Name}, pointColumns(&rp)...)
		args = append(args, data)
		if _, err := t.exec(`INSERT INTO recovery_points (arn, region, account, vault_name, resource_arn, resource_type, backup_plan_id, parent_arn, status, storage_class, created_ns, delete_at_ns, cold_at_ns, data)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, args...); err != nil {
			return err
		}
		if err := t.addPoints(k, 1); err != nil {
			return err
		}
		return t.putTags(rp.ARN, tags)
	})
}

// addPoints adds delta to the vault's recovery point count, in the
// database and (on commit) in the vault cache.
func (t *wtx) addPoints(k backup.VaultKey, delta int) error {
	var n int64
	if err := t.queryRow(`UPDATE vaults SET rp_count = rp_count + ? WHERE region = ? AND account = ? AND name = ? RETURNING rp_count`,
		delta, k.Region, k.AccountID, k.Name).Scan(&n); err != nil {
		return scanErr(err, vaultNotFound(k))
	}
	t.onCommit(func(c *vaultCache) { c.setCount(k, n) })
	return nil
}

func scanPoint(row scanner, notFound func() error) (backup.RecoveryPoint, error) {
	var data string
	if err := row.Scan(&data); err != nil {
		return backup.RecoveryPoint{}, scanErr(err, notFound)
	}
	var rp backup.RecoveryPoint
	err := decode(data, &rp)
	return rp, err
}

// GetRecoveryPoint implements meta.RecoveryPointStore.
func (s *Store) GetRecoveryPoint(ctx context.Context, arn string) (backup.RecoveryPoint, error) {
	row, err := s.readRow(ctx, `SELECT data FROM recovery_points WHERE arn = ?`, arn)
	if err != nil {
		return backup.RecoveryPoint{}, err
	}
	return scanPoint(row, pointNotFound(arn))
}

// UpdateRecoveryPoint implements meta.RecoveryPointStore.
func (s *Store) UpdateRecoveryPoint(ctx context.Context, arn string, fn func(*backup.RecoveryPoint) error) (backup.RecoveryPoint, error) {
	var out backup.RecoveryPoint
	err := s.tx(ctx, func(t *wtx) error {
		rp, err := scanPoint(t.queryRow(`SELECT data FROM recovery_points WHERE arn = ?`, arn), pointNotFound(arn))
		if err != nil {
			return err
		}
		before := rp
		if err := fn(&rp); err != nil {
			return err
		}
		if rp.ARN != before.ARN || rp.VaultName != before.VaultName || rp.Region != before.Region || rp.AccountID != before.AccountID || rp.VaultArn != before.VaultArn {
			return backup.InvalidRequestf("a recovery point's ARN and vault cannot be changed")
		}
		data, err := encode(&rp)
		if err != nil {
			return err
		}
		args := append(pointColumns(&rp), data, arn)
		if _, err := t.exec(`UPDATE recovery_points SET resource_arn = ?, resource_type = ?, backup_plan_id = ?, parent_arn = ?, status = ?, storage_class = ?, created_ns = ?, delete_at_ns = ?, cold_at_ns = ?, data = ? WHERE arn = ?`, args...); err != nil {
			return err
		}
		out = rp
		return nil
	})
	return out, err
}

// DeleteRecoveryPoint implements meta.RecoveryPointStore.
func (s *Store) DeleteRecoveryPoint(ctx context.Context, arn string) error {
	return s.tx(ctx, func(t *wtx) error {
		var region, account, vault string
		if err := t.queryRow(`SELECT region, account, vault_name FROM recovery_points WHERE arn = ?`, arn).Scan(&region, &account, &vault); err != nil {
			return scanErr(err, pointNotFound(arn))
		}
		if _, err := t.exec(`DELETE FROM recovery_points WHERE arn = ?`, arn); err != nil {
			return err
		}
		if err := t.addPoints(backup.VaultKey{Region: region, AccountID: account, Name: vault}, -1); err != nil {
			return err
		}
		_, err := t.exec(`DELETE FROM tags WHERE arn = ?`, arn)
		return err
	})
}

// ListRecoveryPoints implements meta.RecoveryPointStore.
func (s *Store) ListRecoveryPoints(ctx context.Context, f meta.RecoveryPointFilter, p meta.Page) (_ []backup.RecoveryPoint, _ string, err error) {
	limit, cur, ok, err := pageArgs("recovery-points", p)
	if err != nil {
		return nil, "", err
	}
	var w where
	if f.Vault != nil {
		w.add("region = ?", f.Vault.Region)
		w.add("account = ?", f.Vault.AccountID)
		w.add("vault_name = ?", f.Vault.Name)
	}
	if f.ResourceArn != "" {
		w.add("resource_arn = ?", f.ResourceArn)
	}
	if f.ResourceType != "" {
		w.add("resource_type = ?", string(f.ResourceType))
	}
	if f.BackupPlanID != "" {
		w.add("backup_plan_id = ?", f.BackupPlanID)
	}
	if f.ParentRecoveryPointArn != "" {
		w.add("parent_arn = ?", f.ParentRecoveryPointArn)
	}
	if !f.CreatedAfter.IsZero() {
		w.add("created_ns > ?", ns(f.CreatedAfter))
	}
	if !f.CreatedBefore.IsZero() {
		w.add("created_ns < ?", ns(f.CreatedBefore))
	}
	if len(f.Statuses) > 0 {
		st := make([]string, len(f.Statuses))
		for i, x := range f.Statuses {
			st[i] = string(x)
		}
		w.in("status", st)
	}
	if !f.ExpiresBefore.IsZero() {
		w.add("delete_at_ns < ?", ns(f.ExpiresBefore))
	}
	if !f.ColdBefore.IsZero() {
		w.add("cold_at_ns < ?", ns(f.ColdBefore))
		w.add("storage_class IN ('', 'WARM')")
	}
	if ok {
		w.add("(created_ns < ? OR (created_ns = ? AND arn < ?))", cur.T, cur.T, cur.K)
	}
	return readPage(ctx, s, `SELECT data FROM recovery_points`+w.sql()+` ORDER BY created_ns DESC, arn DESC`, w.args, limit,
		func(row scanner) (backup.RecoveryPoint, error) { return scanPoint(row, nil) },
		func(rp backup.RecoveryPoint) meta.Cursor {
			return meta.Cursor{Scope: "recovery-points", T: ns(rp.CreationDate), K: rp.ARN}
		})
}

// LatestRecoveryPoint implements meta.RecoveryPointStore.
func (s *Store) LatestRecoveryPoint(ctx context.Context, k backup.VaultKey, resourceArn string) (backup.RecoveryPoint, error) {
	row, err := s.readRow(ctx, `SELECT data FROM recovery_points WHERE region = ? AND account = ? AND vault_name = ? AND resource_arn = ? AND status IN ('COMPLETED', 'AVAILABLE') ORDER BY created_ns DESC, arn DESC LIMIT 1`,
		k.Region, k.AccountID, k.Name, resourceArn)
	if err != nil {
		return backup.RecoveryPoint{}, err
	}
	return scanPoint(row, func() error {
		return backup.NotFoundf("backup vault %q has no completed recovery point of %s", k.Name, resourceArn)
	})
}
