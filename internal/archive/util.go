package archive

import (
	"context"
	"fmt"
	"os/user"
	"strconv"
	"sync"

	"github.com/coffer/coffer/internal/archive/tree"
	"golang.org/x/sys/unix"
)

func quote(s string) string { return strconv.Quote(s) }

// loadTree loads and decodes one tree blob; path names the directory in
// errors.
func loadTree(ctx context.Context, r Repo, id ID, path string) (*tree.Tree, error) {
	data, err := r.LoadBlob(ctx, tree.TreeBlob, id, nil)
	if err != nil {
		return nil, &BlobError{Path: path, Type: tree.TreeBlob, ID: id, Err: err}
	}
	t, err := tree.Decode(data)
	if err != nil {
		return nil, &BlobError{Path: path, Type: tree.TreeBlob, ID: id, Err: err}
	}
	return t, nil
}

// saveTree encodes and stores a tree; it reports whether the blob was new.
func saveTree(ctx context.Context, r Repo, t *tree.Tree) (ID, bool, error) {
	data, err := tree.Encode(t)
	if err != nil {
		return ID{}, false, err
	}
	id := r.Hash(data)
	known, err := r.SaveBlob(ctx, tree.TreeBlob, id, data)
	if err != nil {
		return ID{}, false, fmt.Errorf("save tree blob %s: %w", id.Short(), err)
	}
	return id, !known, nil
}

func joinPath(dir, name string) string {
	if dir == "" {
		return name
	}
	return dir + "/" + name
}

func tsNano(ts unix.Timespec) int64 { return ts.Sec*1e9 + ts.Nsec }

// nameCache maps uids and gids to names, looking each up once.
type nameCache struct {
	mu     sync.Mutex
	users  map[uint32]string
	groups map[uint32]string
}

func (c *nameCache) user(uid uint32) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.users == nil {
		c.users = make(map[uint32]string)
	}
	if n, ok := c.users[uid]; ok {
		return n
	}
	n := ""
	if u, err := user.LookupId(strconv.FormatUint(uint64(uid), 10)); err == nil {
		n = u.Username
	}
	c.users[uid] = n
	return n
}

func (c *nameCache) group(gid uint32) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.groups == nil {
		c.groups = make(map[uint32]string)
	}
	if n, ok := c.groups[gid]; ok {
		return n
	}
	n := ""
	if g, err := user.LookupGroupId(strconv.FormatUint(uint64(gid), 10)); err == nil {
		n = g.Name
	}
	c.groups[gid] = n
	return n
}

func isZero(b []byte) bool {
	for len(b) >= 8 {
		if b[0]|b[1]|b[2]|b[3]|b[4]|b[5]|b[6]|b[7] != 0 {
			return false
		}
		b = b[8:]
	}
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}
