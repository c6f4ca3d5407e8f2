package repo

import (
	"context"
	"fmt"
)

// Stats summarizes a repository.
type Stats struct {
	Snapshots   int
	Blobs       int64 // index entries (a blob stored twice counts twice)
	DataBlobs   int64
	TreeBlobs   int64
	Packs       int   // packs in storage
	StoredBytes int64 // total size of the packs in storage
	RawBytes    int64 // plaintext bytes of the indexed blobs
	IndexBytes  int64 // local index segment bytes
	// Pending garbage collection plans.
	GCPlans int
}

// Stats counts blobs, packs, bytes and snapshots.
func (r *Repository) Stats(ctx context.Context) (*Stats, error) {
	if err := r.syncIndex(ctx); err != nil {
		return nil, err
	}
	st := &Stats{}
	packs, err := r.listPacks(ctx)
	if err != nil {
		return nil, err
	}
	st.Packs = len(packs)
	for _, sz := range packs {
		st.StoredBytes += sz
	}
	snaps, err := r.snapshotIDs(ctx)
	if err != nil {
		return nil, err
	}
	st.Snapshots = len(snaps)
	v, err := r.newView()
	if err != nil {
		return nil, fmt.Errorf("repo: stats: %w", err)
	}
	defer v.close()
	for i := 0; i < v.seg.Len(); i++ {
		e, _ := v.seg.Entry(i)
		st.Blobs++
		st.RawBytes += int64(e.RawLength)
		switch BlobType(e.Type) {
		case DataBlob:
			st.DataBlobs++
		case TreeBlob:
			st.TreeBlobs++
		}
	}
	st.IndexBytes = r.idx.Stats().Bytes
	if plans, err := r.loadPlans(ctx, false); err == nil {
		st.GCPlans = len(plans)
	}
	return st, nil
}
