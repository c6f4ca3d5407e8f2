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
	// chunks hold the vaults in name order (byte-wise, like SQLite's
	// BINARY collation): each chunk is sorted and non-empty, and every
	// name of a chunk is below every name of the next. Chunks keep an
	// insert or delete at O(chunkMax) however many vaults there are.
	chunks [][]*backup.Vault
}

// chunkMax is the size at which a chunk is split in two.
const chunkMax = 128

func newVaultCache() *vaultCache {
	return &vaultCache{scopes: map[vaultScope]*scopeVaults{}}
}

func scopeOf(k backup.VaultKey) vaultScope { return vaultScope{k.Region, k.AccountID} }

// find returns where name is or would go: the chunk (len(chunks)-1 for a
// name after all; 0 when there are none) and the position in it.
func (sc *scopeVaults) find(name string) (ci, i int, found bool) {
	ci, _ = slices.BinarySearchFunc(sc.chunks, name, func(c []*backup.Vault, name string) int {
		return strings.Compare(c[len(c)-1].Name, name)
	})
	if ci == len(sc.chunks) {
		if ci == 0 {
			return 0, 0, false
		}
		ci--
	}
	i, found = slices.BinarySearchFunc(sc.chunks[ci], name, cmpName)
	return ci, i, found
}

// put inserts or replaces v, which the cache owns from now on (the caller
// must not keep or modify it).
func (c *vaultCache) put(v *backup.Vault) {
	sc := c.scopes[scopeOf(v.Key())]
	if sc == nil {
		sc = &scopeVaults{byName: map[string]*backup.Vault{}}
		c.scopes[scopeOf(v.Key())] = sc
	}
	sc.byName[v.Name] = v
	if len(sc.chunks) == 0 {
		sc.chunks = [][]*backup.Vault{{v}}
		return
	}
	ci, i, found := sc.find(v.Name)
	if found {
		sc.chunks[ci][i] = v
		return
	}
	ch := slices.Insert(sc.chunks[ci], i, v)
	if len(ch) <= chunkMax {
		sc.chunks[ci] = ch
		return
	}
	half := len(ch) / 2
	lo := slices.Clone(ch[:half])
	hi := slices.Clone(ch[half:])
	sc.chunks[ci] = lo
	sc.chunks = slices.Insert(sc.chunks, ci+1, hi)
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
	if sc == nil || sc.byName[k.Name] == nil {
		return
	}
	delete(sc.byName, k.Name)
	if len(sc.byName) == 0 {
		delete(c.scopes, scopeOf(k))
		return
	}
	ci, i, found := sc.find(k.Name)
	if !found {
		return
	}
	if ch := slices.Delete(sc.chunks[ci], i, i+1); len(ch) > 0 {
		sc.chunks[ci] = ch
	} else {
		sc.chunks = slices.Delete(sc.chunks, ci, ci+1)
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
	if sc == nil || len(sc.chunks) == 0 {
		return dst
	}
	ci, i := 0, 0
	if hasAfter {
		var found bool
		ci, i, found = sc.find(after)
		if found {
			i++
		}
	}
	for ; ci < len(sc.chunks); ci, i = ci+1, 0 {
		for _, v := range sc.chunks[ci][i:] {
			if len(dst) >= n {
				return dst
			}
			if f.VaultType != "" && v.VaultType != f.VaultType {
				continue
			}
			if f.Shared != nil && v.Shared != *f.Shared {
				continue
			}
			dst = append(dst, v)
		}
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
