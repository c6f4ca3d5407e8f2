package sqlite

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/coffer/coffer/internal/backup"
	"github.com/coffer/coffer/internal/meta"
)

// vaultCache is the vault cache (see the package comment): every vault row
// of the database with its recovery point count, grouped by region and
// account and sorted by name. GetVault, ListVaults and CountRecoveryPoints
// read it instead of the database.
//
// It is loaded at Open and then changed only by commit hooks (wtx.onCommit),
// which the writer goroutine runs after the COMMIT that made the change and
// before it answers the writers of the batch. So the cache always holds
// committed state, and a caller whose write returned sees it in the cache
// (read-your-writes), exactly as with reads from the database. It is
// correct only while this Store is the database's only writer, which the
// ownership lock (lockFile) guarantees.
//
// Entries are immutable: a change replaces the *vaultEntry. Readers return
// deep copies (cloneVault), so callers may modify what they get.
type vaultCache struct {
	mu     sync.RWMutex
	scopes map[vaultScope]*scopeVaults
}

// vaultEntry is one vault: its row as stored (the JSON and the columns
// ListVaults filters on) and, from its first read on, the decoded vault.
// Decoding on first read keeps JSON decoding off the create path (a vault
// that is created is not necessarily read) and decodes each stored
// version at most once (twice when two readers race; both results are
// equal and one is kept).
type vaultEntry struct {
	name      string
	vaultType backup.VaultType
	shared    bool
	data      string // the data column
	n         int64  // the rp_count column
	dec       atomic.Pointer[backup.Vault]
}

func newEntry(v *backup.Vault, data string, n int64) *vaultEntry {
	return &vaultEntry{name: v.Name, vaultType: v.VaultType, shared: v.Shared, data: data, n: n}
}

// vault returns the decoded vault, with NumberOfRecoveryPoints; the caller
// must not modify it (cloneVault makes a copy that it may).
func (e *vaultEntry) vault() (*backup.Vault, error) {
	if v := e.dec.Load(); v != nil {
		return v, nil
	}
	var v backup.Vault
	if err := decode(e.data, &v); err != nil {
		return nil, err
	}
	v.NumberOfRecoveryPoints = e.n
	e.dec.CompareAndSwap(nil, &v)
	return e.dec.Load(), nil
}

type vaultScope struct{ region, account string }

// scopeVaults are the vaults of one region and account.
type scopeVaults struct {
	byName map[string]*vaultEntry
	// chunks hold the vaults in name order (byte-wise, like SQLite's
	// BINARY collation): each chunk is sorted and non-empty, and every
	// name of a chunk is below every name of the next. Chunks keep an
	// insert or delete at O(chunkMax) however many vaults there are.
	chunks [][]*vaultEntry
}

// chunkMax is the size at which a chunk is split in two.
const chunkMax = 128

func newVaultCache() *vaultCache {
	return &vaultCache{scopes: map[vaultScope]*scopeVaults{}}
}

// find returns where name is or would go: the chunk (len(chunks)-1 for a
// name after all; 0 when there are none) and the position in it.
func (sc *scopeVaults) find(name string) (ci, i int, found bool) {
	ci, _ = slices.BinarySearchFunc(sc.chunks, name, func(c []*vaultEntry, name string) int {
		return strings.Compare(c[len(c)-1].name, name)
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

func cmpName(e *vaultEntry, name string) int { return strings.Compare(e.name, name) }

// put inserts or replaces the entry of the vault named e.name in scope sc.
func (c *vaultCache) put(sc vaultScope, e *vaultEntry) {
	vs := c.scopes[sc]
	if vs == nil {
		vs = &scopeVaults{byName: map[string]*vaultEntry{}}
		c.scopes[sc] = vs
	}
	vs.byName[e.name] = e
	if len(vs.chunks) == 0 {
		vs.chunks = [][]*vaultEntry{{e}}
		return
	}
	ci, i, found := vs.find(e.name)
	if found {
		vs.chunks[ci][i] = e
		return
	}
	ch := slices.Insert(vs.chunks[ci], i, e)
	if len(ch) <= chunkMax {
		vs.chunks[ci] = ch
		return
	}
	half := len(ch) / 2
	lo := slices.Clone(ch[:half])
	hi := slices.Clone(ch[half:])
	vs.chunks[ci] = lo
	vs.chunks = slices.Insert(vs.chunks, ci+1, hi)
}

// putVault inserts or replaces a vault from its stored row.
func (c *vaultCache) putVault(v *backup.Vault, data string, n int64) {
	c.put(vaultScope{v.Region, v.AccountID}, newEntry(v, data, n))
}

// setCount replaces the vault's recovery point count.
func (c *vaultCache) setCount(k backup.VaultKey, n int64) {
	vs := c.scopes[vaultScope{k.Region, k.AccountID}]
	if vs == nil {
		return
	}
	old := vs.byName[k.Name]
	if old == nil {
		return
	}
	e := &vaultEntry{name: old.name, vaultType: old.vaultType, shared: old.shared, data: old.data, n: n}
	if d := old.dec.Load(); d != nil {
		nv := *d // pointer fields are shared: decoded vaults are never modified
		nv.NumberOfRecoveryPoints = n
		e.dec.Store(&nv)
	}
	c.put(vaultScope{k.Region, k.AccountID}, e)
}

// remove deletes the vault.
func (c *vaultCache) remove(k backup.VaultKey) {
	sc := vaultScope{k.Region, k.AccountID}
	vs := c.scopes[sc]
	if vs == nil || vs.byName[k.Name] == nil {
		return
	}
	delete(vs.byName, k.Name)
	if len(vs.byName) == 0 {
		delete(c.scopes, sc)
		return
	}
	ci, i, found := vs.find(k.Name)
	if !found {
		return
	}
	if ch := slices.Delete(vs.chunks[ci], i, i+1); len(ch) > 0 {
		vs.chunks[ci] = ch
	} else {
		vs.chunks = slices.Delete(vs.chunks, ci, ci+1)
	}
}

// get returns the vault's entry, nil when there is none.
func (c *vaultCache) get(k backup.VaultKey) *vaultEntry {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if vs := c.scopes[vaultScope{k.Region, k.AccountID}]; vs != nil {
		return vs.byName[k.Name]
	}
	return nil
}

// list appends to dst the entries of f's scope that match f, in name
// order, after the name after (when hasAfter), at most n of them.
func (c *vaultCache) list(dst []*vaultEntry, f meta.VaultFilter, after string, hasAfter bool, n int) []*vaultEntry {
	c.mu.RLock()
	defer c.mu.RUnlock()
	vs := c.scopes[vaultScope{f.Region, f.AccountID}]
	if vs == nil || len(vs.chunks) == 0 {
		return dst
	}
	ci, i := 0, 0
	if hasAfter {
		var found bool
		ci, i, found = vs.find(after)
		if found {
			i++
		}
	}
	for ; ci < len(vs.chunks); ci, i = ci+1, 0 {
		for _, e := range vs.chunks[ci][i:] {
			if len(dst) >= n {
				return dst
			}
			if f.VaultType != "" && e.vaultType != f.VaultType {
				continue
			}
			if f.Shared != nil && e.shared != *f.Shared {
				continue
			}
			dst = append(dst, e)
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
// It does not decode the rows: each is decoded on its first read.
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
		rows, err := t.query(`SELECT region, account, name, vault_type, shared, data, rp_count FROM vaults`)
		if err != nil {
			return err
		}
		defer closeRows(rows, &err)
		for rows.Next() {
			var v backup.Vault
			var data string
			var n int64
			if err := rows.Scan(&v.Region, &v.AccountID, &v.Name, &v.VaultType, &v.Shared, &data, &n); err != nil {
				return dbErr("read", err)
			}
			c.putVault(&v, data, n)
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
