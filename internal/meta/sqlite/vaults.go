package sqlite

import (
	"context"
	"strconv"

	"github.com/coffer/coffer/internal/backup"
	"github.com/coffer/coffer/internal/meta"
)

func vaultNotFound(k backup.VaultKey) func() error {
	return func() error { return backup.NotFoundf("backup vault %q not found", k.Name) }
}

func checkVaultKey(k backup.VaultKey) error {
	if k.Name == "" || k.Region == "" || k.AccountID == "" {
		return backup.MissingParameterf("a backup vault needs a name, a region and an account")
	}
	return nil
}

// CreateVault implements meta.VaultStore.
func (s *Store) CreateVault(ctx context.Context, v backup.Vault, tags map[string]string) (backup.Vault, error) {
	k := v.Key()
	if err := checkVaultKey(k); err != nil {
		return backup.Vault{}, err
	}
	if v.ARN == "" {
		v.ARN = k.ARN()
	} else if v.ARN != k.ARN() {
		return backup.Vault{}, backup.InvalidParameterf("vault ARN %s does not match its name, region and account", v.ARN)
	}
	if len(tags) > meta.MaxTagsPerResource {
		return backup.Vault{}, tooManyTags(v.ARN, len(tags))
	}
	v.NumberOfRecoveryPoints = 0
	data, err := encode(&v)
	if err != nil {
		return backup.Vault{}, err
	}
	err = s.tx(ctx, func(t *wtx) error {
		res, err := t.exec(`INSERT INTO vaults (region, account, name, arn, vault_type, shared, created_ns, rp_count, data) VALUES (?, ?, ?, ?, ?, ?, ?, 0, ?)
			ON CONFLICT (region, account, name) DO NOTHING`,
			k.Region, k.AccountID, k.Name, v.ARN, string(v.VaultType), v.Shared, ns(v.CreationDate), data)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return dbErr("write", err)
		} else if n == 0 {
			var existing string
			if err := t.queryRow(`SELECT data FROM vaults WHERE region = ? AND account = ? AND name = ?`, k.Region, k.AccountID, k.Name).Scan(&existing); err != nil {
				return dbErr("read", err)
			}
			var old backup.Vault
			if err := decode(existing, &old); err != nil {
				return err
			}
			return &backup.Error{Kind: backup.KindAlreadyExists, Message: "Backup vault with the same name already exists",
				Arn: old.ARN, CreatorRequestID: old.CreatorRequestID}
		}
		return t.putTags(v.ARN, tags)
	})
	if err != nil {
		return backup.Vault{}, err
	}
	return v, nil
}

// GetVault implements meta.VaultStore.
func (s *Store) GetVault(ctx context.Context, k backup.VaultKey) (backup.Vault, error) {
	row, err := s.readRow(ctx, `SELECT data, rp_count FROM vaults WHERE region = ? AND account = ? AND name = ?`, k.Region, k.AccountID, k.Name)
	if err != nil {
		return backup.Vault{}, err
	}
	return scanVault(row, vaultNotFound(k))
}

type scanner interface{ Scan(...any) error }

func scanVault(row scanner, notFound func() error) (backup.Vault, error) {
	var data string
	var n int64
	if err := row.Scan(&data, &n); err != nil {
		return backup.Vault{}, scanErr(err, notFound)
	}
	var v backup.Vault
	if err := decode(data, &v); err != nil {
		return backup.Vault{}, err
	}
	v.NumberOfRecoveryPoints = n
	return v, nil
}

// ListVaults implements meta.VaultStore.
func (s *Store) ListVaults(ctx context.Context, f meta.VaultFilter, p meta.Page) (_ []backup.Vault, _ string, err error) {
	if f.Region == "" || f.AccountID == "" {
		return nil, "", backup.MissingParameterf("listing vaults needs a region and an account")
	}
	limit, cur, ok, err := pageArgs("vaults", p)
	if err != nil {
		return nil, "", err
	}
	var w where
	w.add("region = ?", f.Region)
	w.add("account = ?", f.AccountID)
	if f.VaultType != "" {
		w.add("vault_type = ?", string(f.VaultType))
	}
	if f.Shared != nil {
		w.add("shared = ?", *f.Shared)
	}
	if ok {
		w.add("name > ?", cur.K)
	}
	rows, err := s.read(ctx, `SELECT data, rp_count FROM vaults`+w.sql()+` ORDER BY name LIMIT `+strconv.Itoa(limit+1), w.args...)
	if err != nil {
		return nil, "", err
	}
	defer closeRows(rows, &err)
	var out []backup.Vault
	for rows.Next() {
		v, err := scanVault(rows, nil)
		if err != nil {
			return nil, "", err
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, "", dbErr("read", err)
	}
	next := ""
	if len(out) > limit {
		out = out[:limit]
		next = meta.EncodeCursor(meta.Cursor{Scope: "vaults", K: out[limit-1].Name})
	}
	return out, next, nil
}

// UpdateVault implements meta.VaultStore.
func (s *Store) UpdateVault(ctx context.Context, k backup.VaultKey, fn func(*backup.Vault) error) (backup.Vault, error) {
	var out backup.Vault
	err := s.tx(ctx, func(t *wtx) error {
		v, err := scanVault(t.queryRow(`SELECT data, rp_count FROM vaults WHERE region = ? AND account = ? AND name = ?`, k.Region, k.AccountID, k.Name), vaultNotFound(k))
		if err != nil {
			return err
		}
		n := v.NumberOfRecoveryPoints
		if err := fn(&v); err != nil {
			return err
		}
		if v.Key() != k || v.ARN != k.ARN() {
			return backup.InvalidRequestf("a vault's name, region, account and ARN cannot be changed")
		}
		v.NumberOfRecoveryPoints = 0
		data, err := encode(&v)
		if err != nil {
			return err
		}
		if _, err := t.exec(`UPDATE vaults SET vault_type = ?, shared = ?, data = ? WHERE region = ? AND account = ? AND name = ?`,
			string(v.VaultType), v.Shared, data, k.Region, k.AccountID, k.Name); err != nil {
			return err
		}
		v.NumberOfRecoveryPoints = n
		out = v
		return nil
	})
	return out, err
}

// DeleteVault implements meta.VaultStore.
func (s *Store) DeleteVault(ctx context.Context, k backup.VaultKey) error {
	return s.tx(ctx, func(t *wtx) error {
		var arn string
		var n int64
		if err := t.queryRow(`SELECT arn, rp_count FROM vaults WHERE region = ? AND account = ? AND name = ?`, k.Region, k.AccountID, k.Name).Scan(&arn, &n); err != nil {
			return scanErr(err, vaultNotFound(k))
		}
		if n > 0 {
			return &backup.Error{Kind: backup.KindInvalidRequest,
				Message: "Backup vault cannot be deleted because it contains recovery points (contains " + strconv.FormatInt(n, 10) + " recovery points)",
				Context: strconv.FormatInt(n, 10)}
		}
		if _, err := t.exec(`DELETE FROM vaults WHERE region = ? AND account = ? AND name = ?`, k.Region, k.AccountID, k.Name); err != nil {
			return err
		}
		_, err := t.exec(`DELETE FROM tags WHERE arn = ?`, arn)
		return err
	})
}

// CountRecoveryPoints implements meta.RecoveryPointStore.
func (s *Store) CountRecoveryPoints(ctx context.Context, k backup.VaultKey) (int64, error) {
	row, err := s.readRow(ctx, `SELECT rp_count FROM vaults WHERE region = ? AND account = ? AND name = ?`, k.Region, k.AccountID, k.Name)
	if err != nil {
		return 0, err
	}
	var n int64
	if err := row.Scan(&n); err != nil {
		return 0, scanErr(err, vaultNotFound(k))
	}
	return n, nil
}
