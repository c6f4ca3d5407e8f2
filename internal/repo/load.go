package repo

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/coffer/coffer/internal/blob"
	"github.com/coffer/coffer/internal/bufpool"
	"github.com/coffer/coffer/internal/repo/crypto"
	"github.com/coffer/coffer/internal/repo/index"
	"github.com/coffer/coffer/internal/repo/pack"
)

// HasBlob reports whether the blob is stored (indexed, in a pack that garbage
// collection has not condemned) or saved and pending. A caller that reuses
// IDs from an earlier snapshot without saving the data again (an unchanged
// file) must check HasBlob for each: a blob only in a condemned pack reports
// false and must be saved again.
func (r *Repository) HasBlob(t BlobType, id ID) bool {
	k := index.Key{ID: id, Type: uint8(t)}
	r.sess.touch()
	r.saver.mu.Lock()
	f, ok := r.saver.inflight[k]
	r.saver.mu.Unlock()
	if ok && f.queued() {
		return true
	}
	_, ok = r.idx.Lookup(k)
	return ok
}

// Lookup returns where an indexed blob is stored, for reading (blobs saved
// since the last Flush are not yet indexed). Unlike HasBlob it also finds
// blobs in packs condemned by a pending garbage collection: they are
// readable until deleted, and a snapshot that references them keeps them.
func (r *Repository) Lookup(t BlobType, id ID) (BlobLocation, bool) {
	e, ok := r.idx.LookupAny(index.Key{ID: id, Type: uint8(t)})
	if !ok {
		return BlobLocation{}, false
	}
	return locationOf(e), true
}

// locate finds a blob for reading, flushing first if it is only pending.
func (r *Repository) locate(ctx context.Context, t BlobType, id ID) (BlobLocation, error) {
	if loc, ok := r.Lookup(t, id); ok {
		return loc, nil
	}
	k := index.Key{ID: id, Type: uint8(t)}
	r.saver.mu.Lock()
	_, pending := r.saver.inflight[k]
	r.saver.mu.Unlock()
	if pending {
		if err := r.Flush(ctx); err != nil {
			return BlobLocation{}, err
		}
		if loc, ok := r.Lookup(t, id); ok {
			return loc, nil
		}
	}
	return BlobLocation{}, fmt.Errorf("%w: %s", ErrBlobNotFound, Ref{t, id})
}

// LoadBlob returns the blob's authenticated plaintext, in buf if it is large
// enough. A missing blob wraps ErrBlobNotFound; damage is a *CorruptError
// naming the pack and the blob; a missing pack wraps blob.ErrNotFound in a
// *CorruptError.
func (r *Repository) LoadBlob(ctx context.Context, t BlobType, id ID, buf []byte) ([]byte, error) {
	rl, err := r.loadRaw(ctx, t, id, true)
	if err != nil {
		return nil, err
	}
	defer rl.release()
	return r.decode(rl.loc, rl.p, buf)
}

type rawLoad struct {
	loc     BlobLocation
	p       payload
	backing []byte // pooled buffers holding p (nil if not pooled)
	group   []byte
}

func (rl *rawLoad) release() {
	bufpool.Put(rl.backing)
	bufpool.Put(rl.group)
}

// payload is an opened record's flag and body. A group member's payload is
// its plaintext, sliced from its record's plaintext, flagged stored.
type payload struct {
	flag byte // pack.PayloadStored or pack.PayloadZstd
	body []byte
}

// payloadOf splits an opened record (flag + body; openRecord ensures the
// flag is there).
func payloadOf(p []byte) payload { return payload{flag: p[0], body: p[1:]} }

// loadRaw reads and authenticates one blob (decompressing its group record
// if it is a member of one); if its pack is gone (a concurrent garbage
// collection repacked it), it reloads the index once and retries at the new
// location. With pooled, the payload is in pooled buffers the caller
// returns with release.
func (r *Repository) loadRaw(ctx context.Context, t BlobType, id ID, pooled bool) (rawLoad, error) {
	loc, err := r.locate(ctx, t, id)
	if err != nil {
		return rawLoad{}, err
	}
	payload, backing, err := r.readSealed(ctx, loc, pooled)
	if err != nil && errors.Is(err, blob.ErrNotFound) {
		if serr := r.syncIndex(ctx); serr == nil {
			if loc2, ok := r.Lookup(t, id); ok && loc2.Pack != loc.Pack {
				loc = loc2
				payload, backing, err = r.readSealed(ctx, loc, pooled)
			}
		}
	}
	if err != nil {
		return rawLoad{}, err
	}
	return r.memberLoad(loc, payload, backing, pooled)
}

// memberLoad makes the rawLoad of loc from its opened record: the record
// itself for a blob sealed alone; for a group member, its plaintext from
// the decompressed record (the record's buffer is returned to the pool).
func (r *Repository) memberLoad(loc BlobLocation, record, backing []byte, pooled bool) (rawLoad, error) {
	if loc.Group == 0 {
		return rawLoad{loc: loc, p: payloadOf(record), backing: backing}, nil
	}
	var g groupCache
	p, err := g.fromRecord(r, loc, record, nil)
	bufpool.Put(backing)
	if err != nil {
		g.release()
		return rawLoad{}, err
	}
	rl := rawLoad{loc: loc, p: p}
	if pooled {
		rl.group = g.all // returned by release; otherwise left to the GC
	}
	return rl, nil
}

// readSealed fetches and opens one sealed record (a blob, or the group
// record holding it). The payload is decrypted in
// place into the read buffer, which is returned as backing when pooled (the
// caller returns it with putBuf).
func (r *Repository) readSealed(ctx context.Context, loc BlobLocation, pooled bool) (payload, backing []byte, err error) {
	var sealed []byte
	if pooled {
		sealed = bufpool.Get(int(loc.Length))[:loc.Length]
	} else {
		sealed = make([]byte, loc.Length)
	}
	pa, err := r.packAEAD(ctx, loc.Pack)
	if err == nil {
		err = r.readRange(ctx, loc.Pack, loc.Offset, sealed)
		if err != nil {
			err = readError(loc.Pack, &Ref{loc.Type, loc.ID}, err)
		}
	}
	if err != nil {
		if pooled {
			bufpool.Put(sealed)
		}
		return nil, nil, err
	}
	// Open in place: the plaintext starts NonceSize bytes in and is
	// written over the ciphertext (allowed: exact overlap).
	p, err := r.openRecord(pa, loc, sealed, sealed[crypto.NonceSize:crypto.NonceSize])
	if err != nil {
		if pooled {
			bufpool.Put(sealed)
		}
		return nil, nil, err
	}
	if !pooled {
		return p, nil, nil
	}
	return p, sealed, nil
}

// errTruncated marks a pack shorter than the index says.
var errTruncated = errors.New("pack truncated")

// readError classifies a failed pack read: a missing or truncated pack is
// damage (*CorruptError); anything else (storage unavailable, cancelled) is
// returned wrapped as is.
func readError(packID ID, ref *Ref, err error) error {
	if errors.Is(err, blob.ErrNotFound) || errors.Is(err, errTruncated) {
		return &CorruptError{Pack: packID, Blob: ref, Err: err}
	}
	if ref != nil {
		return fmt.Errorf("repo: read %s from pack %s: %w", ref, packID, err)
	}
	return fmt.Errorf("repo: read pack %s: %w", packID, err)
}

// readRange reads len(dst) bytes of a pack at off.
func (r *Repository) readRange(ctx context.Context, packID ID, off int64, dst []byte) error {
	rc, err := r.st.Get(ctx, pack.Name(packID), off, int64(len(dst)))
	if err != nil {
		return err
	}
	defer rc.Close()
	if _, err := io.ReadFull(rc, dst); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			return fmt.Errorf("%w: %d bytes at offset %d not available", errTruncated, len(dst), off)
		}
		return err
	}
	return nil
}

// openRecord authenticates the sealed record at loc — the blob, or the
// group record it is a member of — with its pack's key pa and returns its
// payload (flag + body), appended to dst. Damage names the blob.
func (r *Repository) openRecord(pa *crypto.AEAD, loc BlobLocation, sealed, dst []byte) ([]byte, error) {
	var ad [33]byte
	if loc.Group != 0 {
		p, err := pa.Open(dst, sealed, pack.GroupAD(ad[:0], uint32(loc.Offset)))
		if err == nil && len(p) < 1 {
			err = errors.New("empty payload")
		}
		if err != nil {
			ref := Ref{loc.Type, loc.ID}
			return nil, &CorruptError{Pack: loc.Pack, Blob: &ref, Err: fmt.Errorf("group record at offset %d: %w", loc.Offset, err)}
		}
		return p, nil
	}
	p, err := pa.Open(dst, sealed, pack.BlobAD(ad[:0], uint8(loc.Type), loc.ID))
	if err != nil || len(p) < 1 {
		ref := Ref{loc.Type, loc.ID}
		if err == nil {
			err = errors.New("empty payload")
		}
		return nil, &CorruptError{Pack: loc.Pack, Blob: &ref, Err: err}
	}
	return p, nil
}

// decode turns a blob's payload into plaintext, in buf if large enough.
func (r *Repository) decode(loc BlobLocation, p payload, buf []byte) ([]byte, error) {
	raw := loc.RawLength
	if loc.Group != 0 {
		raw = int64(len(p.body)) // a member's payload is its plaintext
	}
	return r.decodeBody(loc, p, raw, buf)
}

// decodeBody decompresses p into buf (if large enough) and checks that the
// plaintext has raw bytes (unless raw is 0, or -1 for "unknown").
func (r *Repository) decodeBody(loc BlobLocation, p payload, raw int64, buf []byte) ([]byte, error) {
	ref := Ref{loc.Type, loc.ID}
	switch p.flag {
	case pack.PayloadStored:
		return append(buf[:0], p.body...), nil
	case pack.PayloadZstd:
		if raw > 0 && int64(cap(buf)) < raw {
			buf = make([]byte, 0, raw)
		}
		out, err := r.dec.DecodeAll(p.body, buf[:0])
		if err != nil {
			return nil, &CorruptError{Pack: loc.Pack, Blob: &ref, Err: fmt.Errorf("decompress: %w", err)}
		}
		if raw > 0 && int64(len(out)) != raw {
			return nil, &CorruptError{Pack: loc.Pack, Blob: &ref, Err: fmt.Errorf("decompressed to %d bytes, index says %d", len(out), raw)}
		}
		return out, nil
	}
	return nil, &CorruptError{Pack: loc.Pack, Blob: &ref, Err: fmt.Errorf("unknown payload flag %d", p.flag)}
}

// decodeGroup returns the whole plaintext of the group record whose
// payload is p (loc is a member, for errors), in buf if large enough.
func (r *Repository) decodeGroup(loc BlobLocation, p payload, buf []byte) ([]byte, error) {
	all, err := r.decodeBody(loc, p, -1, buf)
	if err == nil && len(all) > pack.MaxGroupSize {
		ref := Ref{loc.Type, loc.ID}
		err = &CorruptError{Pack: loc.Pack, Blob: &ref, Err: fmt.Errorf("group record of %d bytes", len(all))}
	}
	return all, err
}

// groupMember slices member loc's plaintext out of its record's plaintext.
func groupMember(loc BlobLocation, all []byte) ([]byte, error) {
	inner := int64(loc.Group) - 1
	if inner+loc.RawLength > int64(len(all)) {
		ref := Ref{loc.Type, loc.ID}
		return nil, &CorruptError{Pack: loc.Pack, Blob: &ref, Err: fmt.Errorf("group record holds %d bytes, the blob is at %d..%d", len(all), inner, inner+loc.RawLength)}
	}
	return all[inner : inner+loc.RawLength : inner+loc.RawLength], nil
}

// groupCache keeps the plaintext of the group record last decoded, so that
// the members of one record, read in offset order, decompress it once.
type groupCache struct {
	valid bool
	pack  ID
	off   int64
	all   []byte // pooled
	err   error  // the record's damage
}

// has reports whether loc is a member of the cached record.
func (g *groupCache) has(loc BlobLocation) bool {
	return loc.Group != 0 && g.valid && g.pack == loc.Pack && g.off == loc.Offset
}

// open authenticates the record at loc (sealed; opened into dst) unless
// loc is a member of the cached record, and returns loc's payload (see
// fromRecord).
func (g *groupCache) open(r *Repository, pa *crypto.AEAD, loc BlobLocation, sealed, dst []byte) (payload, error) {
	if g.has(loc) {
		return g.member(loc)
	}
	record, err := r.openRecord(pa, loc, sealed, dst)
	return g.fromRecord(r, loc, record, err)
}

// fromRecord returns loc's payload given its opened record (or the error
// opening it): the record's own for a blob sealed alone; for a group
// member, its plaintext from the decoded record, which is cached for the
// record's next members (record is not used when loc's record is cached).
func (g *groupCache) fromRecord(r *Repository, loc BlobLocation, record []byte, err error) (payload, error) {
	switch {
	case loc.Group == 0 && err != nil:
		return payload{}, err
	case loc.Group == 0:
		return payloadOf(record), nil
	case !g.has(loc):
		g.fill(r, loc, record, err)
	}
	return g.member(loc)
}

// fill decodes the record of member loc from its opened record (or keeps
// the record's damage, err).
func (g *groupCache) fill(r *Repository, loc BlobLocation, record []byte, err error) {
	g.valid, g.pack, g.off, g.err = true, loc.Pack, loc.Offset, err
	if err != nil {
		return
	}
	if cap(g.all) < int(min(loc.Length*4, pack.MaxGroupSize)) {
		bufpool.Put(g.all)
		g.all = bufpool.Get(int(min(loc.Length*4, pack.MaxGroupSize)))
	}
	all, err := r.decodeGroup(loc, payloadOf(record), g.all)
	if cap(all) > cap(g.all) {
		bufpool.Put(g.all)
	}
	g.all, g.err = all, err
}

// member returns loc's payload from the cached record; damage to the
// record is reported for each member.
func (g *groupCache) member(loc BlobLocation) (payload, error) {
	if g.err != nil {
		var ce *CorruptError
		if errors.As(g.err, &ce) {
			ref := Ref{loc.Type, loc.ID}
			return payload{}, &CorruptError{Pack: loc.Pack, Blob: &ref, Err: ce.Err}
		}
		return payload{}, g.err
	}
	m, err := groupMember(loc, g.all)
	return payload{flag: pack.PayloadStored, body: m}, err
}

func (g *groupCache) release() {
	bufpool.Put(g.all)
	*g = groupCache{}
}

// ReadPackBlobs reads the byte range of one pack that covers blobs (all of
// which must be in pack) with a single Get, and calls fn with each blob's
// authenticated plaintext in offset order. The plaintext is valid only during
// the call. An error from fn stops the read and is returned; damage to one
// blob is returned as a *CorruptError after the others were delivered.
// Callers plan ranges from Lookup; a range spanning large gaps reads them too.
func (r *Repository) ReadPackBlobs(ctx context.Context, packID ID, blobs []BlobLocation, fn func(BlobLocation, []byte) error) error {
	var plain []byte // pooled: a restore reads every pack through here
	defer func() { bufpool.Put(plain) }()
	decode := func(b BlobLocation, p payload) ([]byte, error) {
		if b.Group != 0 {
			return p.body, nil // a slice of the decoded record, valid during fn
		}
		if need := max(b.RawLength, int64(len(p.body))); int64(cap(plain)) < need {
			bufpool.Put(plain)
			plain = bufpool.Get(int(need))
		}
		out, err := r.decode(b, p, plain)
		if cap(out) > cap(plain) { // decode outgrew it: keep the larger
			bufpool.Put(plain)
			plain = out
		}
		return out, err
	}
	return readPackRange(ctx, r, packID, blobs, decode, fn)
}

// readPackRange is the range reader behind ReadPackBlobs and
// ReadPackBlobsRaw: it checks the locations, reads the covering range with a
// single Get, authenticates each blob's payload in place and hands it to
// decode (a group record is decompressed once for all its members), then
// calls fn with the result, in offset order. A decode or
// authentication error is remembered and reading goes on, so the other blobs
// are still delivered; an error from fn stops the read.
func readPackRange[T any](ctx context.Context, r *Repository, packID ID, blobs []BlobLocation,
	decode func(BlobLocation, payload) (T, error), fn func(BlobLocation, T) error) error {
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
	pa, err := r.packAEAD(ctx, packID)
	if err != nil {
		return err
	}
	rc, err := r.st.Get(ctx, pack.Name(packID), lo, hi-lo)
	if err != nil {
		return readError(packID, nil, err)
	}
	defer rc.Close()
	// Stream through the range, holding one blob at a time.
	var sealed []byte
	defer func() { bufpool.Put(sealed) }()
	var group groupCache
	defer group.release()
	pos := lo
	var firstErr error
	for _, b := range bs {
		var pl payload
		if group.has(b) {
			// Another member of the record just read.
			pl, err = group.member(b)
		} else if b.Offset < pos {
			// Overlapping duplicates of one range: read it again separately.
			var p []byte
			p, _, err = r.readSealed(ctx, b, false)
			pl, err = group.fromRecord(r, b, p, err)
		} else {
			if _, err := io.CopyN(io.Discard, rc, b.Offset-pos); err != nil {
				if errors.Is(err, io.EOF) {
					err = fmt.Errorf("%w at offset %d", errTruncated, pos)
				}
				return firstOf(firstErr, readError(packID, nil, err))
			}
			if int64(cap(sealed)) < b.Length {
				bufpool.Put(sealed)
				sealed = bufpool.Get(int(b.Length))
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
			pl, err = group.open(r, pa, b, sealed, sealed[crypto.NonceSize:crypto.NonceSize])
		}
		var v T
		if err == nil {
			v, err = decode(b, pl)
		}
		if err != nil {
			firstErr = firstOf(firstErr, err)
			continue
		}
		if err := fn(b, v); err != nil {
			return err
		}
	}
	return firstErr
}

func firstOf(first, err error) error {
	if first != nil {
		return first
	}
	return err
}

// RawBlob is a blob's decrypted but still compressed payload.
type RawBlob struct {
	// Compressed reports whether Data is zstd-compressed.
	Compressed bool
	// Data is the stored (possibly compressed) body.
	Data []byte
	// Length is the plaintext length.
	Length int64
	// Verified, set by the caller of SaveBlobRaw, asserts that the caller
	// has checked that the ID passed to SaveBlobRaw is the destination
	// repository's Hash of the plaintext (a copy between repositories must
	// decompress and re-hash anyway to compute the destination ID). When
	// false, SaveBlobRaw decompresses and hashes to check. LoadBlobRaw
	// always returns false.
	Verified bool
}

// LoadBlobRaw returns a blob's authenticated payload without decompressing
// it, for copying to another repository without recompressing.
func (r *Repository) LoadBlobRaw(ctx context.Context, t BlobType, id ID) (RawBlob, error) {
	rl, err := r.loadRaw(ctx, t, id, false)
	if err != nil {
		return RawBlob{}, err
	}
	return rawBlobOf(rl.loc, rl.p)
}

// rawBlobOf makes the RawBlob of a blob's payload (a group member's is its
// plaintext, stored).
func rawBlobOf(loc BlobLocation, p payload) (RawBlob, error) {
	switch p.flag {
	case pack.PayloadStored:
		return RawBlob{Data: p.body, Length: int64(len(p.body))}, nil
	case pack.PayloadZstd:
		return RawBlob{Compressed: true, Data: p.body, Length: loc.RawLength}, nil
	}
	ref := Ref{loc.Type, loc.ID}
	return RawBlob{}, &CorruptError{Pack: loc.Pack, Blob: &ref, Err: fmt.Errorf("unknown payload flag %d", p.flag)}
}

// DecodeRaw returns a RawBlob's plaintext (decompressing it), in buf if
// large enough.
func (r *Repository) DecodeRaw(rb RawBlob, buf []byte) ([]byte, error) {
	if !rb.Compressed {
		return append(buf[:0], rb.Data...), nil
	}
	out, err := r.dec.DecodeAll(rb.Data, buf[:0])
	if err != nil {
		return nil, fmt.Errorf("%w: decompress: %v", ErrCorrupt, err)
	}
	return out, nil
}

// SaveBlobRaw stores a blob given its payload, re-encrypting it under this
// repository's key without recompressing. Unless raw.Verified, it first
// decompresses and checks that id is this repository's Hash of the
// plaintext (a mismatch is an error, nothing is stored). Deduplication,
// durability and errors are as for SaveBlob.
func (r *Repository) SaveBlobRaw(ctx context.Context, t BlobType, id ID, raw RawBlob) (known bool, err error) {
	if !t.valid() {
		return false, fmt.Errorf("repo: save blob: invalid type %d", t)
	}
	if len(raw.Data) > pack.MaxBlobSize || raw.Length > pack.MaxBlobSize || raw.Length < 0 {
		return false, fmt.Errorf("repo: save %s: too large", Ref{t, id})
	}
	if !raw.Verified || (raw.Compressed && raw.Length == 0 && len(raw.Data) > 0) {
		plain, err := r.DecodeRaw(raw, nil)
		if err != nil {
			return false, fmt.Errorf("repo: save raw %s: %w", Ref{t, id}, err)
		}
		if r.Hash(plain) != id {
			return false, fmt.Errorf("repo: save raw %s: ID is not the hash of the data under this repository's key", Ref{t, id})
		}
		raw.Length = int64(len(plain))
	}
	if !raw.Compressed {
		raw.Length = int64(len(raw.Data))
		if raw.Length <= int64(r.opts.GroupMax) {
			// Small plaintext (a group member's, read from the source's
			// record): compressed and grouped here as SaveBlob would.
			return r.saver.enqueue(ctx, index.Key{ID: id, Type: uint8(t)}, func() *job { return plainJob(raw.Data) }, true)
		}
	}
	return r.saver.enqueue(ctx, index.Key{ID: id, Type: uint8(t)}, func() *job {
		j := &job{kind: jobPayload, raw: uint32(raw.Length), pool: true}
		j.data = bufpool.Get(len(raw.Data) + 1)[:len(raw.Data)+1]
		j.data[0] = pack.PayloadStored
		if raw.Compressed {
			j.data[0] = pack.PayloadZstd
		}
		copy(j.data[1:], raw.Data)
		return j
	}, true)
}
