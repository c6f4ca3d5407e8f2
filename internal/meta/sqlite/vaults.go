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
		if err := t.putTags(v.ARN, tags); err != nil {
			return err
		}
		// The cache keeps the stored row: a read decodes it, so it returns
		// what a read from the database would (times as JSON gives them
		// back, no monotonic clock reading…).
		e := newEntry(&v, data, 0)
		t.onCommit(func(c *vaultCache) { c.put(vaultScope{k.Region, k.AccountID}, e) })
		return nil
	})
	if err != nil {
		return backup.Vault{}, err
	}
	return v, nil
}

// GetVault implements meta.VaultStore. It reads the vault cache.
func (s *Store) GetVault(ctx context.Context, k backup.VaultKey) (backup.Vault, error) {
	if err := s.readable(ctx); err != nil {
		return backup.Vault{}, err
	}
	e := s.vaults.get(k)
	if e == nil {
		return backup.Vault{}, vaultNotFound(k)()
	}
	v, err := e.vault()
	if err != nil {
		return backup.Vault{}, err
	}
	return cloneVault(v), nil
}

// readable is the check of the reads that the vault cache answers: the
// store is open and ctx has not ended.
func (s *Store) readable(ctx context.Context) error {
	if s.closed.Load() {
		return errClosed
	}
	return ctx.Err()
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

// ListVaults implements meta.VaultStore. It reads the vault cache.
func (s *Store) ListVaults(ctx context.Context, f meta.VaultFilter, p meta.Page) ([]backup.Vault, string, error) {
	if f.Region == "" || f.AccountID == "" {
		return nil, "", backup.MissingParameterf("listing vaults needs a region and an account")
	}
	limit, cur, ok, err := pageArgs("vaults", p)
	if err != nil {
		return nil, "", err
	}
	if err := s.readable(ctx); err != nil {
		return nil, "", err
	}
	var buf [64]*vaultEntry
	es := s.vaults.list(buf[:0], f, cur.K, ok, limit+1)
	next := ""
	if len(es) > limit {
		es = es[:limit]
		next = meta.EncodeCursor(meta.Cursor{Scope: "vaults", K: es[limit-1].name})
	}
	var out []backup.Vault
	if len(es) > 0 {
		out = make([]backup.Vault, len(es))
		for i, e := range es {
			v, err := e.vault()
			if err != nil {
				return nil, "", err
			}
			out[i] = cloneVault(v)
		}
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
		e := newEntry(&v, data, n)
		t.onCommit(func(c *vaultCache) { c.put(vaultScope{k.Region, k.AccountID}, e) })
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
		if _, err := t.exec(`DELETE FROM tags WHERE arn = ?`, arn); err != nil {
			return err
		}
		t.onCommit(func(c *vaultCache) { c.remove(k) })
		return nil
	})
}

// CountRecoveryPoints implements meta.RecoveryPointStore. It reads the
// vault cache.
func (s *Store) CountRecoveryPoints(ctx context.Context, k backup.VaultKey) (int64, error) {
	if err := s.readable(ctx); err != nil {
		return 0, err
	}
	e := s.vaults.get(k)
	if e == nil {
		return 0, vaultNotFound(k)()
	}
	return e.n, nil
}
