package repo

import (
	"context"
	"errors"
	"fmt"

	"github.com/coffer/coffer/internal/blob"
	"github.com/coffer/coffer/internal/repo/crypto"
	"github.com/coffer/coffer/internal/repo/index"
	"github.com/coffer/coffer/internal/repo/pack"
)

// ErrNotAdoptable: AdoptPack declined a pack (some of its blobs are not
// wanted); nothing was written and the caller copies the blobs it wants
// one by one.
var ErrNotAdoptable = errors.New("repo: pack not adoptable whole")

// AdoptPack copies the whole pack packID of src into r, when r names blobs
// as src does (one deduplication domain), r lacks every blob the pack
// holds and want reports true for each. The sealed blobs are written unchanged: only the
// header (the pack key, sealed again under r's key) and the trailer are
// r's own. One pass over the pack's body both checks it against its name
// (packID comes from src's authenticated index, so every blob is
// authenticated on the way) and names the copy. The pack is durable when
// AdoptPack returns; its blobs are indexed at the next Flush. It returns the
// adopted blobs' entries, or ErrNotAdoptable (nothing written) when some
// blob is not wanted or already in r, or a *CorruptError naming the pack when it does not
// match its name or its header or trailer does not open.
func (r *Repository) AdoptPack(ctx context.Context, src *Repository, packID ID, want func(t BlobType, id ID) bool) ([]pack.Entry, error) {
	if err := r.writable(); err != nil {
		return nil, err
	}
	if r.Hash(adoptProbe) != src.Hash(adoptProbe) {
		return nil, fmt.Errorf("repo: adopt pack %s: the repositories name blobs differently (not one deduplication domain)", packID.Short())
	}
	data, err := blob.ReadAll(ctx, src.st, pack.Name(packID))
	if err != nil {
		return nil, readError(packID, nil, err)
	}
	corrupt := func(err error) error { return &CorruptError{Pack: packID, Err: err} }
	header, body, tail, ok := pack.Split(data)
	if !ok {
		return nil, corrupt(fmt.Errorf("%w: %d bytes do not hold a pack", errTruncated, len(data)))
	}
	sum := pack.BodySum(body)
	if pack.IDOf(header, sum, tail) != packID {
		return nil, corrupt(errors.New("content does not match the pack's name (bytes changed or truncated)"))
	}
	key, err := pack.OpenHeader(src.aead, header)
	if err != nil {
		return nil, corrupt(err)
	}
	trailerOff := len(data) - len(tail)
	entries, err := pack.OpenTrailer(src.aead, tail[:len(tail)-pack.TailSize], int64(trailerOff))
	if err != nil {
		return nil, corrupt(err)
	}
	for _, e := range entries {
		if t := BlobType(e.Type); !want(t, e.ID) || r.HasBlob(t, e.ID) {
			return nil, ErrNotAdoptable
		}
	}
	// The copy: r's header, the same body, r's trailer.
	pack.SealHeader(r.aead, data[:pack.HeaderSize], key)
	data = pack.AppendTrailer(r.aead, data[:trailerOff], entries)
	newID := ID(pack.IDOf(data[:pack.HeaderSize], sum, data[trailerOff:]))
	s := r.saver
	s.flushMu.RLock() // a Flush started from here on indexes this pack
	defer s.flushMu.RUnlock()
	if err := r.st.Put(ctx, pack.Name(newID), data); err != nil {
		return nil, fmt.Errorf("repo: adopt pack %s: write %s: %w", packID.Short(), newID.Short(), err)
	}
	if a, err := crypto.NewAEAD(key[:]); err == nil {
		r.packKeys.put(newID, a)
	}
	s.mu.Lock()
	for _, e := range entries {
		k := index.Key{ID: e.ID, Type: e.Type}
		if _, ok := s.inflight[k]; !ok {
			s.inflight[k] = adoptedFlight
		}
	}
	s.mu.Unlock()
	s.addUploaded(uploaded{id: newID, size: int64(len(data)), entries: entries})
	return entries, nil
}

var adoptProbe = []byte("coffer adopt: blob naming identity")

// adoptedFlight marks blobs of an adopted pack as saved until indexed.
var adoptedFlight = func() *flight {
	f := &flight{ready: make(chan struct{}), ok: true}
	close(f.ready)
	return f
}()
