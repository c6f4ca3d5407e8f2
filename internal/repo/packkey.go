package repo

import (
	"container/list"
	"context"
	"sync"

	"github.com/coffer/coffer/internal/repo/crypto"
	"github.com/coffer/coffer/internal/repo/pack"
)

// packKeyCacheSize bounds the opened pack keys a Repository keeps: about
// 0.5 KB each, so the cache stays under 2 MB whatever the vault's size. A
// miss costs one read of the pack's HeaderSize-byte header.
const packKeyCacheSize = 4096

// packKeys is an LRU cache of the AEADs of packs' keys, by pack ID.
type packKeys struct {
	mu  sync.Mutex
	m   map[ID]*list.Element // of *packKeyEntry
	lru list.List            // front: most recently used
}

type packKeyEntry struct {
	id   ID
	aead *crypto.AEAD
}

func (c *packKeys) get(id ID) *crypto.AEAD {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.m[id]; ok {
		c.lru.MoveToFront(e)
		return e.Value.(*packKeyEntry).aead
	}
	return nil
}

func (c *packKeys) put(id ID, a *crypto.AEAD) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[ID]*list.Element{}
	}
	if e, ok := c.m[id]; ok {
		c.lru.MoveToFront(e)
		return
	}
	c.m[id] = c.lru.PushFront(&packKeyEntry{id: id, aead: a})
	if c.lru.Len() > packKeyCacheSize {
		old := c.lru.Back()
		c.lru.Remove(old)
		delete(c.m, old.Value.(*packKeyEntry).id)
	}
}

// packAEAD returns the AEAD of a pack's key, reading and opening the pack's
// header unless the key is cached. A header that fails to open is a
// *CorruptError naming the pack.
func (r *Repository) packAEAD(ctx context.Context, id ID) (*crypto.AEAD, error) {
	if a := r.packKeys.get(id); a != nil {
		return a, nil
	}
	var hdr [pack.HeaderSize]byte
	if err := r.readRange(ctx, id, 0, hdr[:]); err != nil {
		return nil, readError(id, nil, err)
	}
	return r.openPackHeader(id, hdr[:])
}

// openPackHeader opens a pack's header (its first pack.HeaderSize bytes)
// and caches the key.
func (r *Repository) openPackHeader(id ID, hdr []byte) (*crypto.AEAD, error) {
	k, err := pack.OpenHeader(r.aead, hdr)
	if err != nil {
		return nil, &CorruptError{Pack: id, Err: err}
	}
	a, err := crypto.NewAEAD(k[:])
	if err != nil {
		return nil, &CorruptError{Pack: id, Err: err}
	}
	r.packKeys.put(id, a)
	return a, nil
}
