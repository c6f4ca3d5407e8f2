package repo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash"
	"io"

	"github.com/coffer/coffer/internal/blob"
	"github.com/coffer/coffer/internal/repo/crypto"
	"github.com/coffer/coffer/internal/repo/index"
	"github.com/coffer/coffer/internal/repo/pack"
)

// ErrNotAdoptable: AdoptPack declined a pack (some of its blobs are not
// wanted, or already stored); nothing was written and the caller copies
// the blobs it wants one by one.
var ErrNotAdoptable = errors.New("repo: pack not adoptable whole")

// AdoptPack copies the whole pack packID of src into r, when r names blobs
// as src does (one deduplication domain), r lacks every blob the pack
// holds and want reports true for each. The sealed blobs are streamed
// unchanged: only the header (the pack key, sealed again under r's key)
// and the trailer are r's own, so the copy's name is known before its body
// moves. The body is hashed on the way and checked against the body sum of
// the source's tail, which packID (from src's authenticated index) covers:
// every blob is authenticated on the way, and a mismatch fails the write
// before anything is published. The pack is durable when AdoptPack
// returns; its blobs are indexed at the next Flush.
//
// It returns the adopted blobs' entries; ErrNotAdoptable, with nothing
// written, when some blob is not wanted or already in r; or a
// *CorruptError naming the pack when it does not match its name or its
// header or trailer does not open.
func (r *Repository) AdoptPack(ctx context.Context, src *Repository, packID ID, want func(t BlobType, id ID) bool) ([]pack.Entry, error) {
	if err := r.writable(); err != nil {
		return nil, err
	}
	if r.Hash(adoptProbe) != src.Hash(adoptProbe) {
		return nil, fmt.Errorf("repo: adopt pack %s: the repositories name blobs differently (not one deduplication domain)", packID.Short())
	}
	corrupt := func(err error) error { return &CorruptError{Pack: packID, Err: err} }
	name := pack.Name(packID)
	info, err := src.st.Stat(ctx, name)
	if err != nil {
		return nil, readError(packID, nil, err)
	}
	if info.Size < pack.HeaderSize+pack.TailSize {
		return nil, corrupt(fmt.Errorf("%w: %d bytes do not hold a pack", errTruncated, info.Size))
	}
	tail, err := src.readTail(ctx, packID, info.Size)
	if err != nil {
		return nil, err
	}
	_, sum, err := pack.ParseEnd(tail[len(tail)-pack.TailSize:], info.Size-pack.HeaderSize)
	if err != nil {
		return nil, corrupt(err)
	}
	// The trailer is sealed under src's key by itself: what the pack
	// holds is known, and the pack declined, before its body is asked for.
	trailerOff := info.Size - int64(len(tail))
	entries, err := pack.OpenTrailer(src.aead, tail[:len(tail)-pack.TailSize], trailerOff)
	if err != nil {
		return nil, corrupt(err)
	}
	for _, e := range entries {
		if t := BlobType(e.Type); !want(t, e.ID) || r.HasBlob(t, e.ID) {
			return nil, ErrNotAdoptable
		}
	}
	// One read from the header to the trailer: the header first, then
	// the body streams on (one request per pack fewer than reading the
	// header apart: on S3 a round trip; locally no measurable change).
	rc, err := src.st.Get(ctx, name, 0, trailerOff)
	if err != nil {
		return nil, readError(packID, nil, err)
	}
	defer rc.Close()
	header := make([]byte, pack.HeaderSize)
	if _, err := io.ReadFull(rc, header); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			err = fmt.Errorf("%w: the pack's header is cut short", errTruncated)
		}
		return nil, readError(packID, nil, err)
	}
	if pack.IDOf(header, tail) != packID {
		return nil, corrupt(errors.New("header or trailer does not match the pack's name"))
	}
	key, err := pack.OpenHeader(src.aead, header)
	if err != nil {
		return nil, corrupt(err)
	}

	// The copy: r's header, the same body, r's tail.
	pack.SealHeader(r.aead, header, key)
	newTail := pack.AppendTail(r.aead, nil, entries, sum)
	newID := ID(pack.IDOf(header, newTail))
	bodyLen := trailerOff - pack.HeaderSize
	size := pack.HeaderSize + bodyLen + int64(len(newTail))
	body := &checkedBody{r: rc, h: pack.NewBodyHasher(), left: bodyLen, want: sum, pack: packID}
	s := r.saver
	s.flushMu.RLock() // a Flush started from here on indexes this pack
	defer s.flushMu.RUnlock()
	err = blob.PutStream(ctx, r.st, pack.Name(newID), size, io.MultiReader(bytes.NewReader(header), body, bytes.NewReader(newTail)))
	if err != nil {
		var ce *CorruptError
		if errors.As(err, &ce) {
			return nil, ce
		}
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
	// Adopted packs are indexed eight at a time while the copy goes on,
	// so its commit has few left to index.
	s.addUploaded(uploaded{id: newID, size: size, entries: entries}, 8)
	return entries, nil
}

// checkedBody reads a pack's body from r, hashing it; once left bytes have
// passed it returns io.EOF only if they hash to want, else a
// *CorruptError (so a streamed write of a damaged body fails, unpublished).
type checkedBody struct {
	r    io.Reader
	h    hash.Hash
	left int64
	want [32]byte
	pack ID
}

func (b *checkedBody) Read(p []byte) (int, error) {
	if b.left == 0 {
		var got [32]byte
		b.h.Sum(got[:0])
		if got != b.want {
			return 0, &CorruptError{Pack: b.pack, Err: errors.New("the pack's sealed blobs do not match its body sum (bytes changed)")}
		}
		return 0, io.EOF
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.r.Read(p)
	b.h.Write(p[:n])
	b.left -= int64(n)
	if err == io.EOF {
		if b.left > 0 {
			return n, &CorruptError{Pack: b.pack, Err: fmt.Errorf("%w: the pack's body ends %d bytes early", errTruncated, b.left)}
		}
		err = nil
	}
	return n, err
}

var adoptProbe = []byte("coffer adopt: blob naming identity")

// adoptedFlight marks blobs of an adopted pack as saved until indexed.
var adoptedFlight = func() *flight {
	f := &flight{ready: make(chan struct{}), ok: true}
	close(f.ready)
	return f
}()
