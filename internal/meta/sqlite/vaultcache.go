package sqlite

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/coffer/coffer/internal/backup"
	"github.com/coffer/coffer/internal/meta"
)

// vaultCache is the vault cache (see the package comment): every vault of
// the database, decoded, with its recovery point count, grouped by region
// and account and sorted by name. GetVault, ListVaults and
// CountRecoveryPoints read it instead of the database.
//
// It is loaded at Open and then changed only by commit hooks (wtx.onCommit),
// which the writer goroutine runs after the COMMIT that made the change and
// before it answers the writers of the batch. So the cache always holds
// committed state, and a caller whose write returned sees it in the cache
// (read-your-writes), exactly as with reads from the database. It is
// correct only while this Store is the database's only writer, which the
// ownership lock (lockFile) guarantees.
//
// Values in the cache are immutable: a change replaces the *backup.Vault.
// Readers return deep copies (cloneVault), so callers may modify what they
// get.
type vaultCache struct {
	mu     sync.RWMutex
	scopes map[vaultScope]*scopeVaults
}

type vaultScope struct{ region, account string }

// scopeVaults are the vaults of one region and account.
type scopeVaults struct {
	byName map[string]*backup.Vault
	sorted []*backup.Vault // by name, byte-wise like SQLite's BINARY collation
}

func newVaultCache() *vaultCache {
	return &vaultCache{scopes: map[vaultScope]*scopeVaults{}}
}

func scopeOf(k backup.VaultKey) vaultScope { return vaultScope{k.Region, k.AccountID} }

// put inserts or replaces v, which the cache owns from now on (the caller
// must not keep or modify it).
func (c *vaultCache) put(v *backup.Vault) {
	sc := c.scopes[scopeOf(v.Key())]
	if sc == nil {
		sc = &scopeVaults{byName: map[string]*backup.Vault{}}
		c.scopes[scopeOf(v.Key())] = sc
	}
	i, found := slices.BinarySearchFunc(sc.sorted, v.Name, cmpName)
	if found {
		sc.sorted[i] = v
	} else {
		sc.sorted = slices.Insert(sc.sorted, i, v)
	}
	sc.byName[v.Name] = v
}

// setCount replaces the vault's recovery point count.
func (c *vaultCache) setCount(k backup.VaultKey, n int64) {
	sc := c.scopes[scopeOf(k)]
	if sc == nil {
		return
	}
	old := sc.byName[k.Name]
	if old == nil {
		return
	}
	nv := *old // pointer fields are shared: cached values are never modified
	nv.NumberOfRecoveryPoints = n
	c.put(&nv)
}

// remove deletes the vault.
func (c *vaultCache) remove(k backup.VaultKey) {
	sc := c.scopes[scopeOf(k)]
	if sc == nil {
		return
	}
	if i, found := slices.BinarySearchFunc(sc.sorted, k.Name, cmpName); found {
		sc.sorted = slices.Delete(sc.sorted, i, i+1)
	}
	delete(sc.byName, k.Name)
	if len(sc.byName) == 0 {
		delete(c.scopes, scopeOf(k))
	}
}

func cmpName(v *backup.Vault, name string) int { return strings.Compare(v.Name, name) }

// get returns the cached vault (not a copy: the caller clones it).
func (c *vaultCache) get(k backup.VaultKey) *backup.Vault {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if sc := c.scopes[scopeOf(k)]; sc != nil {
		return sc.byName[k.Name]
	}
	return nil
}

// list appends to dst the vaults of f's scope that match f, in name order,
// after the name after (when hasAfter), at most n of them; they are not
// copies.
func (c *vaultCache) list(dst []*backup.Vault, f meta.VaultFilter, after string, hasAfter bool, n int) []*backup.Vault {
	c.mu.RLock()
	defer c.mu.RUnlock()
	sc := c.scopes[vaultScope{f.Region, f.AccountID}]
	if sc == nil {
		return dst
	}
	i := 0
	if hasAfter {
		var found bool
		i, found = slices.BinarySearchFunc(sc.sorted, after, cmpName)
		if found {
			i++
		}
	}
	for ; i < len(sc.sorted) && len(dst) < n; i++ {
		v := sc.sorted[i]
		if f.VaultType != "" && v.VaultType != f.VaultType {
			continue
		}
		if f.Shared != nil && v.Shared != *f.Shared {
			continue
		}
		dst = append(dst, v)
	}
	return dst
}

// cloneVault returns a deep copy of v: nothing the copy refers to is
// shared with v. TestCloneVaultSharesNothing fails when backup.Vault gains
// a reference field this function does not copy.
func cloneVault(v *backup.Vault) backup.Vault {
	out := *v
	if l := v.Lock; l != nil {
		lc := *l
		lc.MinRetentionDays = cloneInt64(l.MinRetentionDays)
		lc.MaxRetentionDays = cloneInt64(l.MaxRetentionDays)
		lc.ChangeableForDays = cloneInt64(l.ChangeableForDays)
		out.Lock = &lc
	}
	if n := v.Notifications; n != nil {
		nc := *n
		nc.Events = slices.Clone(n.Events)
		out.Notifications = &nc
	}
	return out
}

func cloneInt64(p *int64) *int64 {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}

// loadVaults fills the cache from the database (Open, before any write).
func (s *Store) loadVaults(ctx context.Context) error {
	c, err := s.readVaults(ctx)
	if err != nil {
		return fmt.Errorf("sqlite: load vaults: %w", err)
	}
	s.vaults = c
	return nil
}

// readVaults reads every vault of the database into a new cache, on the
// writer goroutine (so it sees every committed write).
func (s *Store) readVaults(ctx context.Context) (*vaultCache, error) {
	c := newVaultCache()
	err := s.tx(ctx, func(t *wtx) (err error) {
		rows, err := t.query(`SELECT data, rp_count FROM vaults`)
		if err != nil {
			return err
		}
		defer closeRows(rows, &err)
		for rows.Next() {
			v, err := scanVault(rows, nil)
			if err != nil {
				return err
			}
			c.put(&v)
		}
		if err := rows.Err(); err != nil {
			return dbErr("read", err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}
