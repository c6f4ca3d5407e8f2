package repo

import (
	"context"
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
	return readPackRange(ctx, r, packID, blobs, rawBlobOf, fn)
}
