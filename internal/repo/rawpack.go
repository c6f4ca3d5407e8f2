package repo

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/coffer/coffer/internal/repo/crypto"
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
	if len(blobs) == 0 {
		return nil
	}
	bs := slices.Clone(blobs)
	slices.SortFunc(bs, func(a, b BlobLocation) int { return cmp.Compare(a.Offset, b.Offset) })
	lo, hi := bs[0].Offset, int64(0)
	for _, b := range bs {
		if b.Pack != packID {
			return fmt.Errorf("repo: read pack %s: %s is in pack %s", packID.Short(), Ref{b.Type, b.ID}, b.Pack.Short())
		}
		if b.Offset < 0 || b.Length < int64(crypto.Overhead+1) {
			return fmt.Errorf("repo: read pack %s: bad location for %s", packID.Short(), Ref{b.Type, b.ID})
		}
		hi = max(hi, b.Offset+b.Length)
	}
	rc, err := r.st.Get(ctx, pack.Name(packID), lo, hi-lo)
	if err != nil {
		return readError(packID, nil, err)
	}
	defer rc.Close()
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
	var sealed []byte
	pos := lo
	var firstErr error
	for _, b := range bs {
		if b.Offset < pos {
			// Overlapping duplicates of one range: read it again separately.
			var rb RawBlob
			p, _, err := r.readSealed(ctx, b, false)
			if err == nil {
				rb, err = rawOf(b, p)
			}
			if err != nil {
				firstErr = firstOf(firstErr, err)
				continue
			}
			if err := fn(b, rb); err != nil {
				return err
			}
			continue
		}
		if _, err := io.CopyN(io.Discard, rc, b.Offset-pos); err != nil {
			if errors.Is(err, io.EOF) {
				err = fmt.Errorf("%w at offset %d", errTruncated, pos)
			}
			return firstOf(firstErr, readError(packID, nil, err))
		}
		if int64(cap(sealed)) < b.Length {
			sealed = make([]byte, b.Length)
		}
		sealed = sealed[:b.Length]
		if _, err := io.ReadFull(rc, sealed); err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				err = fmt.Errorf("%w at offset %d", errTruncated, b.Offset)
			}
			return firstOf(firstErr, readError(packID, &Ref{b.Type, b.ID}, err))
		}
		pos = b.Offset + b.Length
		// Open in place: the payload is written over the ciphertext.
		var rb RawBlob
		p, err := r.openBlob(b, sealed, sealed[crypto.NonceSize:crypto.NonceSize])
		if err == nil {
			rb, err = rawOf(b, p)
		}
		if err != nil {
			firstErr = firstOf(firstErr, err)
			continue
		}
		if err := fn(b, rb); err != nil {
			return err
		}
	}
	return firstErr
}
