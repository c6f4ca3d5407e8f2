package repo

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/coffer/coffer/internal/repo/index"
)

// view is a frozen, position-addressable copy of the index (one merged
// segment), used by GC and Check: memory is one bit per entry for marks.
type view struct {
	seg  *index.Segment
	path string
}

func (r *Repository) newView() (*view, error) {
	if err := os.MkdirAll(r.idx.Dir(), 0o700); err != nil {
		return nil, err
	}
	path := filepath.Join(r.idx.Dir(), "view-"+randomHex(8)+".idx")
	seg, err := r.idx.Merged(path)
	if err != nil {
		os.Remove(path)
		return nil, err
	}
	return &view{seg: seg, path: path}, nil
}

func (v *view) close() {
	v.seg.Close()
	os.Remove(v.path)
}

// packIDs returns the pack IDs of the view's pack table by number.
func (v *view) packIDs() []ID {
	out := make([]ID, v.seg.NumPacks())
	for i := range out {
		out[i] = v.seg.Pack(i).ID
	}
	return out
}

// packEntries counts the entries of each pack number (a pack table may name
// a pack whose entries were all dropped: such a pack is not indexed).
func (v *view) packEntries() []int {
	n := make([]int, v.seg.NumPacks())
	for i := 0; i < v.seg.Len(); i++ {
		n[v.seg.PackNo(i)]++
	}
	return n
}

type bitset []uint64

func newBitset(n int) bitset    { return make(bitset, (n+63)/64) }
func (b bitset) has(i int) bool { return b[i/64]&(1<<(i%64)) != 0 }
func (b bitset) set(i int)      { b[i/64] |= 1 << (i % 64) }

// missingRef is a referenced blob absent from the index.
type missingRef struct {
	Snapshot ID
	Ref      Ref
}

// marker walks snapshots' blob graphs over a view and marks, for every
// referenced blob, one of its index entries.
type marker struct {
	r       *Repository
	v       *view
	refs    TreeRefsFunc
	marks   bitset
	avoid   func(packNo int) bool // prefer copies in other packs
	missing []missingRef
	nMiss   int
	buf     []byte
}

func newMarker(r *Repository, v *view, refs TreeRefsFunc) *marker {
	return &marker{r: r, v: v, refs: refs, marks: newBitset(v.seg.Len())}
}

// pick chooses the entry of a blob to mark: the first whose pack is not
// avoided, else the first.
func (m *marker) pick(k index.Key) (int, bool) {
	lo, hi := m.v.seg.Range(k)
	if lo == hi {
		return 0, false
	}
	if m.avoid != nil {
		for j := lo; j < hi; j++ {
			if !m.avoid(m.v.seg.PackNo(j)) {
				return j, true
			}
		}
	}
	return lo, true
}

// walk marks everything reachable from a snapshot's root tree. A tree that
// cannot be read or decoded is an error: its children are unknown.
func (m *marker) walk(ctx context.Context, snap ID, roots []Ref) error {
	stack := make([]index.Key, 0, len(roots))
	for _, ref := range roots {
		stack = append(stack, ref.key())
	}
	for len(stack) > 0 {
		if err := ctx.Err(); err != nil {
			return err
		}
		k := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		j, ok := m.pick(k)
		if !ok {
			m.nMiss++
			if len(m.missing) < 100 {
				m.missing = append(m.missing, missingRef{Snapshot: snap, Ref: Ref{BlobType(k.Type), k.ID}})
			}
			continue
		}
		if m.marks.has(j) {
			continue
		}
		m.marks.set(j)
		if BlobType(k.Type) != TreeBlob {
			continue
		}
		e, _ := m.v.seg.Entry(j)
		plain, err := m.r.loadEntry(ctx, e, m.buf)
		if err != nil {
			return fmt.Errorf("snapshot %s: %w", snap.Short(), err)
		}
		m.buf = plain
		refs, err := m.refs(plain)
		if err != nil {
			return fmt.Errorf("snapshot %s: decode %s: %w", snap.Short(), Ref{TreeBlob, k.ID}, err)
		}
		for _, ref := range refs {
			stack = append(stack, ref.key())
		}
	}
	return nil
}

// loadEntry reads and decodes one blob at an explicit location.
func (r *Repository) loadEntry(ctx context.Context, e index.Entry, buf []byte) ([]byte, error) {
	loc := locationOf(e)
	record, backing, err := r.readSealed(ctx, loc, true)
	if err != nil {
		return nil, err
	}
	rl, err := r.memberLoad(loc, record, backing, true)
	if err != nil {
		return nil, err
	}
	defer rl.release()
	return r.decode(loc, rl.p, buf)
}
