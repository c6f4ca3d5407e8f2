package repo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/coffer/coffer/internal/blob"
)

func snapshotName(id ID) string { return snapshotPrefix + id.String() }

// SaveSnapshot is the commit point of a backup. It flushes (every saved blob
// becomes durable and indexed), checks that the root tree is stored and that
// this writer's session is still valid, then writes the snapshot, durable on
// return. A crash before the write leaves only unreferenced data. A zero
// Time is set to the current time in the stored record.
func (r *Repository) SaveSnapshot(ctx context.Context, sn *Snapshot) (ID, error) {
	if sn == nil {
		return ID{}, errors.New("repo: save snapshot: nil snapshot")
	}
	if err := r.writable(); err != nil {
		return ID{}, err
	}
	if sn.Kind != "tree" && sn.Kind != "stream" {
		return ID{}, fmt.Errorf("repo: save snapshot: kind %q is not tree or stream", sn.Kind)
	}
	if err := r.Flush(ctx); err != nil {
		return ID{}, fmt.Errorf("repo: save snapshot: %w", err)
	}
	if !r.HasBlob(TreeBlob, sn.Root) {
		return ID{}, fmt.Errorf("repo: save snapshot: root %w: %s", ErrBlobNotFound, Ref{TreeBlob, sn.Root})
	}
	if err := r.sess.checkAlive(ctx); err != nil {
		return ID{}, fmt.Errorf("repo: save snapshot: %w", err)
	}
	rec := *sn
	if rec.Time.IsZero() {
		rec.Time = r.clk.Now().UTC()
	}
	plain, err := json.Marshal(&rec)
	if err != nil {
		return ID{}, fmt.Errorf("repo: save snapshot: %w", err)
	}
	id := ID(r.hasher.SumParts([]byte(snapshotIDLabel), plain))
	if err := r.st.Put(ctx, snapshotName(id), r.sealMeta("snapshot", plain)); err != nil {
		return ID{}, fmt.Errorf("repo: save snapshot: %w", err)
	}
	r.sess.touch()
	r.log.Info("snapshot saved", "snapshot", id.Short(), "kind", sn.Kind, "root", sn.Root.Short())
	return id, nil
}

// LoadSnapshot reads one snapshot. A missing one wraps ErrSnapshotNotFound; a
// damaged one ErrCorrupt.
func (r *Repository) LoadSnapshot(ctx context.Context, id ID) (*Snapshot, error) {
	plain, err := r.readMeta(ctx, "snapshot", snapshotName(id))
	if errors.Is(err, blob.ErrNotFound) {
		return nil, fmt.Errorf("%w: %s", ErrSnapshotNotFound, id)
	}
	if err != nil {
		return nil, fmt.Errorf("repo: load snapshot %s: %w", id, err)
	}
	if ID(r.hasher.SumParts([]byte(snapshotIDLabel), plain)) != id {
		return nil, fmt.Errorf("%w: snapshot %s: content does not match its ID", ErrCorrupt, id)
	}
	var sn Snapshot
	if err := json.Unmarshal(plain, &sn); err != nil {
		return nil, fmt.Errorf("%w: snapshot %s: %v", ErrCorrupt, id, err)
	}
	return &sn, nil
}

// ListSnapshots calls fn for every snapshot, in no particular order. Damaged
// snapshots are skipped and reported at the end as an error wrapping
// ErrCorrupt that names them (fn has been called for all others); an error
// from fn stops the listing and is returned.
func (r *Repository) ListSnapshots(ctx context.Context, fn func(ID, *Snapshot) error) error {
	ids, err := r.snapshotIDs(ctx)
	if err != nil {
		return err
	}
	var damaged []string
	for _, id := range ids {
		sn, err := r.LoadSnapshot(ctx, id)
		if errors.Is(err, ErrSnapshotNotFound) {
			continue // deleted meanwhile
		}
		if errors.Is(err, ErrCorrupt) {
			damaged = append(damaged, id.String())
			continue
		}
		if err != nil {
			return err
		}
		if err := fn(id, sn); err != nil {
			return err
		}
	}
	if len(damaged) > 0 {
		return fmt.Errorf("%w: damaged snapshots: %s", ErrCorrupt, strings.Join(damaged, ", "))
	}
	return nil
}

// snapshotIDs lists the IDs of all snapshot objects.
func (r *Repository) snapshotIDs(ctx context.Context) ([]ID, error) {
	var ids []ID
	err := r.st.List(ctx, snapshotPrefix, func(i blob.Info) error {
		id, err := ParseID(strings.TrimPrefix(i.Name, snapshotPrefix))
		if err != nil {
			r.log.Warn("ignoring unexpected object among snapshots", "name", i.Name)
			return nil
		}
		ids = append(ids, id)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("repo: list snapshots: %w", err)
	}
	return ids, nil
}

// DeleteSnapshot removes a snapshot; its data is freed by a later GC. A
// missing snapshot wraps ErrSnapshotNotFound.
func (r *Repository) DeleteSnapshot(ctx context.Context, id ID) error {
	if r.opts.ReadOnly {
		return ErrReadOnly
	}
	if _, err := r.st.Stat(ctx, snapshotName(id)); errors.Is(err, blob.ErrNotFound) {
		return fmt.Errorf("%w: %s", ErrSnapshotNotFound, id)
	} else if err != nil {
		return fmt.Errorf("repo: delete snapshot %s: %w", id, err)
	}
	if err := r.st.Delete(ctx, snapshotName(id)); err != nil {
		return fmt.Errorf("repo: delete snapshot %s: %w", id, err)
	}
	return nil
}
