package repo

import (
	"context"
	"fmt"

	"github.com/coffer/coffer/internal/repo/pack"
)

// ReadPackBlobsRaw is ReadPackBlobs without decompression: it reads the byte
// range of one pack that covers blobs (all of which must be in pack) with a
// single Get and calls fn with each blob's authenticated payload as a
// RawBlob, in offset order. The RawBlob's Data is valid only during the call
// (SaveBlobRaw copies it, so fn may pass it on). An error from fn stops the
// read and is returned; damage to one blob is returned as a *CorruptError
// after the others were delivered. For copying whole packs' worth of blobs
// to another repository without recompressing.
func (r *Repository) ReadPackBlobsRaw(ctx context.Context, packID ID, blobs []BlobLocation, fn func(BlobLocation, RawBlob) error) error {
	rawOf := func(b BlobLocation, p []byte) (RawBlob, error) {
		switch p[0] {
		case pack.PayloadStored, pack.PayloadZstd:
		default:
			ref := Ref{b.Type, b.ID}
			return RawBlob{}, &CorruptError{Pack: packID, Blob: &ref, Err: fmt.Errorf("unknown payload flag %d", p[0])}
		}
		rb := RawBlob{Compressed: p[0] == pack.PayloadZstd, Data: p[1:], Length: b.RawLength}
		if !rb.Compressed {
			rb.Length = int64(len(rb.Data))
		}
		return rb, nil
	}
	return readPackRange(ctx, r, packID, blobs, rawOf, fn)
}
