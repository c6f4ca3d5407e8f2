package repo

import (
	"context"
	"encoding/hex"
	"fmt"
	"sync"

	"github.com/coffer/coffer/internal/bufpool"
	"github.com/coffer/coffer/internal/repo/crypto"
	"github.com/coffer/coffer/internal/repo/index"
	"github.com/coffer/coffer/internal/repo/pack"
)

// The save pipeline:
//
//	SaveBlob (caller) ──jobs──▶ workers (compress, seal under the pack's
//	key into a reserved slot of the open pack; the worker that fills a
//	pack seals its header, appends its tail and names it) ──uploads──▶
//	uploaders (Put) ──▶ pending index ──▶ index object Put ──▶ Set.Add
//
// Small data blobs (up to Options.GroupMax: small files, the tails of larger
// ones) are not sealed alone: a worker appends their plaintext to the open
// group record, and the worker that fills it (groupTarget bytes) compresses
// and seals it as one record of the data pack (see package pack). On the
// engine benchmark's text files this stores 7% less than compressing each
// file alone, and a first backup of its data set takes 15-25% less CPU
// (one zstd input instead of thousands of small ones); members are read by
// decompressing their record (ReadPackBlobs decompresses a record once for
// all its members it delivers). Flush seals the open record.
//
// Tree blobs and data blobs go to separate open packs, so that the
// metadata of many snapshots sits in a few packs: walking trees (no-change
// backups, copies, restores of one file, GC's mark phase) reads a few
// regions of a few files instead of a small range of every data pack. A
// tree pack's buffer is allocated outside the pool (it fills slowly, and
// would otherwise hold a pooled buffer for a whole backup).
//
// Backpressure: the jobs channel holds 2×Workers jobs; data pack buffers
// are a pool of max(2, Uploads) (at least 2: a pack rolls over before the
// full one is handed to an uploader; one filling while the others upload: a 16 MiB
// pack fills in ~200 ms and syncs in ~50; a pool of Uploads+1 cost 15-20
// MiB of peak RSS for 2% of speed), so when uploads lag, workers wait for
// a buffer and SaveBlob waits on the jobs channel. Memory is bounded by
// (Uploads+1)×(PackSize+1 MiB) + 3×Workers×(largest blob).

type jobKind uint8

const (
	jobPlain   jobKind = iota // data[1:] is plaintext, data[0] free for the flag
	jobPayload                // data is a payload (flag + body), to seal
)

type job struct {
	kind jobKind
	key  index.Key
	data []byte
	raw  uint32 // plaintext length
	pool bool   // data came from the buffer pool
}

// packBuf is a pack being filled. Workers reserve slots under saver.pmu and
// fill them concurrently; wg counts unfilled slots. buf starts with room
// for the header, which finish writes.
type packBuf struct {
	buf     []byte
	entries []pack.Entry
	wg      sync.WaitGroup
	pooled  bool
	key     [crypto.KeySize]byte // the pack key, random per pack
	aead    *crypto.AEAD         // of key
	id      ID                   // set by finish
}

// start makes pb an empty pack under a fresh random key.
func (pb *packBuf) start() {
	pb.key = crypto.RandomKey()
	pb.aead, _ = crypto.NewAEAD(pb.key[:]) // cannot fail: the key has KeySize bytes
	pb.buf = pb.buf[:pack.HeaderSize]
	pb.entries = pb.entries[:0]
}

// Group records: data blobs of at most Options.GroupMax bytes are grouped;
// a record is sealed once its plaintext reaches groupTarget bytes (ratio
// gains flatten beyond ~1 MiB, and a member's read decompresses the whole
// record).
const (
	// DefaultGroupMax is the default Options.GroupMax.
	DefaultGroupMax = 64 << 10
	// MaxGroupMax bounds Options.GroupMax.
	MaxGroupMax = 1 << 20
	groupTarget = 1 << 20
	// groupMembers bounds a record's members (tiny blobs), so that a
	// record's entries always fit in a pack (maxPackEntries).
	groupMembers = 4096
)

// groupBuf is the open group record: plain[0] is free for the payload flag
// (as a jobPlain's data), then the members' plaintexts.
type groupBuf struct {
	plain   []byte
	members []pack.Entry // Type, ID, RawLength, Group (1 + offset in plain[1:])
}

type uploaded struct {
	id      ID
	size    int64
	entries []pack.Entry
}

type saver struct {
	r *Repository

	flushMu sync.RWMutex // SaveBlob holds R while enqueuing; Flush holds W

	mu       sync.Mutex
	inflight map[index.Key]*flight // accepted, not yet in a written index object
	pending  []uploaded            // uploaded packs awaiting an index object
	pendingN int                   // entries in pending
	failed   error                 // poison: a pack upload failed

	jobs   chan *job
	jobsWG sync.WaitGroup // jobs accepted and not finished

	gmu   sync.Mutex // guards group
	group *groupBuf  // the open group record, nil if none

	pmu      sync.Mutex  // guards cur, and buffer allocation
	cur      [2]*packBuf // the open pack per stream: data, trees (stream)
	free     chan *packBuf
	nbufs    int
	packCap  int
	packsWG  sync.WaitGroup // packs finalized and not yet uploaded
	uploads  chan *packBuf
	idxMu    sync.Mutex // serializes index object writes
	workers  sync.WaitGroup
	uploader sync.WaitGroup
	closed   bool
}

func newSaver(r *Repository) *saver {
	s := &saver{
		r:        r,
		inflight: map[index.Key]*flight{},
		jobs:     make(chan *job, 2*r.opts.Workers),
		free:     make(chan *packBuf, max(2, r.opts.Uploads)),
		uploads:  make(chan *packBuf),
		packCap:  r.opts.PackSize + 1<<20,
	}
	for range r.opts.Workers {
		s.workers.Go(s.workLoop)
	}
	for range r.opts.Uploads {
		s.uploader.Go(s.uploadLoop)
	}
	return s
}

func (s *saver) failure() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.failed
}

func (s *saver) fail(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failed == nil {
		s.failed = fmt.Errorf("%w: %w", ErrWriteFailed, err)
		s.r.log.Error("repository write failed; refusing further writes", "location", s.r.st.Location(), "err", err)
	}
}

// SaveBlob stores data as a blob of type t under id, which must be
// r.Hash(data) (callers already hash to deduplicate; SaveBlob does not
// re-hash — Check with ReadData verifies every ID). If the blob is already
// stored or pending it returns known=true and writes nothing. Otherwise it
// copies data (the caller may reuse it on return), compresses and seals it
// on a worker and appends it to a pack uploaded in the background; it may
// block for backpressure. The blob is durable after the next successful
// Flush (or SaveSnapshot). Errors of background uploads surface here or at
// Flush; after one, the Repository refuses writes (ErrWriteFailed).
func (r *Repository) SaveBlob(ctx context.Context, t BlobType, id ID, data []byte) (known bool, err error) {
	if !t.valid() {
		return false, fmt.Errorf("repo: save blob: invalid type %d", t)
	}
	if len(data) > pack.MaxBlobSize {
		return false, fmt.Errorf("repo: save %s: %d bytes exceeds the blob limit of %d", Ref{t, id}, len(data), pack.MaxBlobSize)
	}
	return r.saver.enqueue(ctx, index.Key{ID: id, Type: uint8(t)}, func() *job { return plainJob(data) }, true)
}

// plainJob makes a job for plaintext data, copied into a pooled buffer.
func plainJob(data []byte) *job {
	j := &job{kind: jobPlain, raw: uint32(len(data)), pool: true}
	j.data = bufpool.Get(len(data) + 1)[:len(data)+1]
	copy(j.data[1:], data)
	return j
}

// flight is a blob accepted by SaveBlob and not yet in a written index
// object. ready is closed once the job is queued (ok) or abandoned (!ok):
// only then may other callers rely on it.
type flight struct {
	ready chan struct{}
	ok    bool
}

func (f *flight) queued() bool {
	select {
	case <-f.ready:
		return f.ok
	default:
		return false
	}
}

// enqueue dedups key against pending and indexed blobs (when dedup) and
// hands the job made by mk to the workers. A caller that finds the same blob
// being queued by another waits for that to succeed (known) or fail (then
// it queues the blob itself), so "known" is never reported for a blob whose
// saving was abandoned.
func (s *saver) enqueue(ctx context.Context, key index.Key, mk func() *job, dedup bool) (bool, error) {
	r := s.r
	if err := r.writable(); err != nil {
		return false, err
	}
	if dedup {
		r.sess.touch()
	}
	s.flushMu.RLock()
	defer s.flushMu.RUnlock()
	for {
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			return false, ErrClosed
		}
		if f, ok := s.inflight[key]; ok {
			s.mu.Unlock()
			select {
			case <-f.ready:
			case <-ctx.Done():
				return false, ctx.Err()
			}
			if f.ok {
				return true, nil
			}
			continue // the other caller gave up: take over
		}
		if dedup {
			if _, ok := r.idx.Lookup(key); ok {
				s.mu.Unlock()
				return true, nil
			}
		}
		f := &flight{ready: make(chan struct{})}
		s.inflight[key] = f
		s.jobsWG.Add(1)
		s.mu.Unlock()
		j := mk()
		j.key = key
		select {
		case s.jobs <- j:
			f.ok = true
			close(f.ready)
			return false, nil
		case <-ctx.Done():
		case <-r.bg.Done():
		}
		s.mu.Lock()
		delete(s.inflight, key)
		s.mu.Unlock()
		close(f.ready)
		s.jobsWG.Done()
		if j.pool {
			bufpool.Put(j.data)
		}
		if ctx.Err() != nil {
			return false, ctx.Err()
		}
		return false, ErrClosed
	}
}

// workerBufs are one worker's reusable buffers.
type workerBufs struct {
	scratch []byte // compressed payload
	sample  []byte // compressed sample
}

func (s *saver) workLoop() {
	var wb workerBufs
	for j := range s.jobs {
		s.process(j, &wb)
		s.jobsWG.Done()
	}
}

func (s *saver) process(j *job, wb *workerBufs) {
	r := s.r
	var payload []byte
	switch {
	case s.groupable(j):
		s.addToGroup(j, wb)
		return
	case j.kind == jobPlain:
		payload = r.compress(j.data, wb, true)
	default:
		payload = j.data
	}
	ents := [1]pack.Entry{{Type: j.key.Type, ID: j.key.ID, RawLength: j.raw}}
	pb, _, dst, roll := s.reserve(stream(j.key.Type), ents[:], len(payload)+crypto.Overhead)
	var ad [33]byte
	pb.aead.Seal(dst[:0], payload, pack.BlobAD(ad[:0], j.key.Type, j.key.ID))
	pb.wg.Done()
	if j.pool {
		bufpool.Put(j.data)
	}
	if roll != nil {
		s.finish(roll)
	}
	if cap(wb.scratch) > 16<<20 {
		wb.scratch = nil // do not pin a huge buffer
	}
}

// groupable reports whether j's blob goes into a group record: small
// plaintext data (trees stay alone: walks read them one by one).
func (s *saver) groupable(j *job) bool {
	return j.kind == jobPlain && len(j.data)-1 <= s.r.opts.GroupMax &&
		s.r.opts.Compression != CompressOff && stream(j.key.Type) == 0
}

// addToGroup appends j's plaintext to the open group record and seals the
// record if that filled it.
func (s *saver) addToGroup(j *job, wb *workerBufs) {
	s.gmu.Lock()
	g := s.group
	if g == nil {
		g = &groupBuf{plain: bufpool.Get(1 + groupTarget + s.r.opts.GroupMax)[:1]}
		s.group = g
	}
	g.members = append(g.members, pack.Entry{Type: j.key.Type, ID: j.key.ID, RawLength: j.raw, Group: uint32(len(g.plain))})
	g.plain = append(g.plain, j.data[1:]...)
	full := len(g.plain)-1 >= groupTarget || len(g.members) >= groupMembers
	if full {
		s.group = nil
	}
	s.gmu.Unlock()
	if j.pool {
		bufpool.Put(j.data)
	}
	if full {
		s.sealGroup(g, wb)
	}
}

// sealGroup compresses a group record and seals it into the open data pack.
func (s *saver) sealGroup(g *groupBuf, wb *workerBufs) {
	payload := s.r.compress(g.plain, wb, false)
	pb, off, dst, roll := s.reserve(0, g.members, len(payload)+crypto.Overhead)
	var ad [5]byte
	pb.aead.Seal(dst[:0], payload, pack.GroupAD(ad[:0], uint32(off)))
	pb.wg.Done()
	bufpool.Put(g.plain)
	if roll != nil {
		s.finish(roll)
	}
}

// sealOpenGroup seals the open group record, if any (at Flush).
func (s *saver) sealOpenGroup() {
	s.gmu.Lock()
	g := s.group
	s.group = nil
	s.gmu.Unlock()
	if g != nil {
		var wb workerBufs
		s.sealGroup(g, &wb)
	}
}

// compress returns the payload for plaintext data[1:] (data[0] is free):
// zstd-compressed into wb.scratch if that saves at least 1/64, else data
// itself with the stored flag. Incompressible data is detected cheaply by
// compressing an 8 KiB sample from the middle with the fastest level first
// (unless !sample: a group record's middle may be one incompressible file
// among text).
func (r *Repository) compress(data []byte, wb *workerBufs, sample bool) []byte {
	plain := data[1:]
	data[0] = pack.PayloadStored
	if r.opts.Compression == CompressOff || len(plain) < 128 {
		return data
	}
	if sample && len(plain) >= 32<<10 {
		mid := len(plain) / 2
		sample := plain[mid-4<<10 : mid+4<<10]
		wb.sample = r.sample.EncodeAll(sample, wb.sample[:0])
		if len(wb.sample) > len(sample)*31/32 {
			return data
		}
	}
	if cap(wb.scratch) < len(plain)+1 {
		wb.scratch = make([]byte, 0, len(plain)+len(plain)/8+64)
	}
	out := r.enc.EncodeAll(plain, append(wb.scratch[:0], pack.PayloadZstd))
	wb.scratch = out[:0]
	if len(out)-1 >= len(plain)-len(plain)/64 {
		return data
	}
	return out
}

// reserve finds room for an n-byte sealed record in the open pack of stream
// k, rolling to a new pack when the open one is full, and lists ents (a
// blob, or a group record's members) at its offset off; the caller fills
// dst (n bytes of the pack's buffer), then calls pb.wg.Done, then finishes
// roll if it is not nil.
func (s *saver) reserve(k int, ents []pack.Entry, n int) (pb *packBuf, off int, dst []byte, roll *packBuf) {
	s.pmu.Lock()
	defer s.pmu.Unlock()
	cur := s.cur[k]
	if cur != nil && len(cur.entries) > 0 &&
		(len(cur.buf)+n > s.r.opts.PackSize || len(cur.buf)+n > cap(cur.buf) || len(cur.entries)+len(ents) > maxPackEntries) {
		roll = cur
		s.packsWG.Add(1)
		cur = nil
	}
	if cur == nil {
		cur = s.getBuf(k, n)
		cur.start()
	} else if len(cur.buf)+n > cap(cur.buf) {
		// An empty buffer too small for one huge blob.
		s.release(cur)
		cur = s.getBuf(k, n)
		cur.start()
	}
	s.cur[k] = cur
	off = len(cur.buf)
	cur.buf = cur.buf[:off+n]
	for _, e := range ents {
		e.Offset, e.Length = uint32(off), uint32(n)
		cur.entries = append(cur.entries, e)
	}
	cur.wg.Add(1)
	return cur, off, cur.buf[off : off+n : off+n], roll
}

// stream returns the open-pack slot of a blob type: 1 for trees, 0 for the
// rest.
func stream(t uint8) int {
	if BlobType(t) == TreeBlob {
		return 1
	}
	return 0
}

// getBuf returns an empty pack buffer for stream k with room for n bytes;
// for data, a pooled one, waiting for a free one when all are in use
// (backpressure). Called with pmu.
func (s *saver) getBuf(k, n int) *packBuf {
	if n+pack.HeaderSize > s.packCap || k == 1 {
		return &packBuf{buf: make([]byte, 0, max(pack.HeaderSize+n+n/64+4096, min(s.packCap, 4<<20)))}
	}
	select {
	case b := <-s.free:
		return b
	default:
	}
	if s.nbufs < cap(s.free) {
		s.nbufs++
		return &packBuf{buf: make([]byte, 0, s.packCap), pooled: true}
	}
	return <-s.free
}

func (s *saver) release(pb *packBuf) {
	if !pb.pooled {
		return
	}
	pb.buf = pb.buf[:0]
	pb.entries = pb.entries[:0]
	s.free <- pb
}

// finish waits for the pack's slots to be filled, writes the header,
// appends the trailer and hands the pack to an uploader.
func (s *saver) finish(pb *packBuf) {
	pb.wg.Wait()
	pack.SealHeader(s.r.aead, pb.buf[:pack.HeaderSize], pb.key)
	tail := len(pb.buf)
	pb.buf = pack.AppendTail(s.r.aead, pb.buf, pb.entries, pack.BodySum(pb.buf[pack.HeaderSize:]))
	pb.id = ID(pack.IDOf(pb.buf[:pack.HeaderSize], pb.buf[tail:]))
	s.uploads <- pb
}

func (s *saver) uploadLoop() {
	for pb := range s.uploads {
		s.upload(pb)
		s.packsWG.Done()
	}
}

func (s *saver) upload(pb *packBuf) {
	r := s.r
	id := pb.id
	size := int64(len(pb.buf))
	entries := append([]pack.Entry(nil), pb.entries...)
	err := r.st.Put(r.bg, pack.Name(id), pb.buf)
	if err == nil {
		r.packKeys.put(id, pb.aead)
	}
	s.release(pb)
	if err != nil && r.bg.Err() != nil {
		return // closing: unflushed data is discarded
	}
	if err != nil {
		s.fail(fmt.Errorf("upload pack %s: %w", id.Short(), err))
		return
	}
	s.addUploaded(uploaded{id: id, size: size, entries: entries}, 64)
}

// addUploaded queues a durable pack for the next index object, writing one
// at once when at least eager packs (or many entries) wait.
func (s *saver) addUploaded(u uploaded, eager int) {
	r := s.r
	s.mu.Lock()
	s.pending = append(s.pending, u)
	s.pendingN += len(u.entries)
	many := len(s.pending) >= eager || s.pendingN >= index.MaxObjectEntries/2
	s.mu.Unlock()
	if many {
		// Long backups index as they go, so that an interrupted one leaves
		// reusable data behind. A failure is retried by the next Flush.
		if err := s.writeIndex(r.bg); err != nil {
			r.log.Warn("writing an index object failed; will retry at flush", "err", err)
		}
	}
}

// Flush makes every blob saved before it durable: it waits for the workers,
// closes the open pack, waits for the uploads and writes an index object.
// New SaveBlob calls wait while Flush runs.
func (r *Repository) Flush(ctx context.Context) error {
	if r.closed.Load() {
		return ErrClosed
	}
	if r.opts.ReadOnly {
		return nil
	}
	return r.saver.flush(ctx)
}

func (s *saver) flush(ctx context.Context) error {
	s.flushMu.Lock()
	defer s.flushMu.Unlock()
	if err := waitCtx(ctx, &s.jobsWG); err != nil {
		return err
	}
	s.sealOpenGroup()
	s.pmu.Lock()
	var open []*packBuf
	for k, pb := range s.cur {
		s.cur[k] = nil
		if pb != nil && len(pb.entries) > 0 {
			s.packsWG.Add(1)
			open = append(open, pb)
		} else if pb != nil {
			s.release(pb)
		}
	}
	s.pmu.Unlock()
	for _, pb := range open {
		s.finish(pb)
	}
	if err := waitCtx(ctx, &s.packsWG); err != nil {
		return err
	}
	// Index what was uploaded even after a failure, so a retry reuses it.
	ierr := s.writeIndex(ctx)
	if err := s.failure(); err != nil {
		return err
	}
	if ierr != nil {
		return fmt.Errorf("repo: flush: %w", ierr)
	}
	return nil
}

// writeIndex writes the pending uploaded packs as index objects and adds
// their entries to the index.
func (s *saver) writeIndex(ctx context.Context) error {
	s.idxMu.Lock()
	defer s.idxMu.Unlock()
	// Exclusive with syncIndex: a rebuild of the local index from a
	// listing taken before this object exists must not drop its entries.
	s.r.syncMu.Lock()
	defer s.r.syncMu.Unlock()
	s.mu.Lock()
	todo := s.pending
	s.pending, s.pendingN = nil, 0
	s.mu.Unlock()
	for len(todo) > 0 {
		o := &index.Object{}
		n := 0
		i := 0
		for ; i < len(todo) && (i == 0 || n+len(todo[i].entries) <= index.MaxObjectEntries); i++ {
			o.Packs = append(o.Packs, index.ObjectPack{ID: todo[i].id, Size: todo[i].size, Blobs: todo[i].entries})
			n += len(todo[i].entries)
		}
		name, err := s.r.putIndexObject(ctx, o)
		if err != nil {
			s.mu.Lock()
			s.pending = append(todo, s.pending...)
			for _, u := range todo {
				s.pendingN += len(u.entries)
			}
			s.mu.Unlock()
			return err
		}
		packs, entries := index.ObjectEntries(o)
		if err := s.r.idx.Add(name, packs, entries); err != nil {
			return err
		}
		s.mu.Lock()
		for _, e := range entries {
			delete(s.inflight, e.Key())
		}
		s.mu.Unlock()
		todo = todo[i:]
	}
	return nil
}

// putIndexObject seals and stores an index object, named after the keyed
// hash of its plaintext.
func (r *Repository) putIndexObject(ctx context.Context, o *index.Object) (string, error) {
	plain := index.EncodeObject(o)
	id := r.hasher.SumParts([]byte(indexIDLabel), plain)
	name := indexPrefix + hex.EncodeToString(id[:])
	if err := r.st.Put(ctx, name, r.sealMeta("index", plain)); err != nil {
		return "", fmt.Errorf("write index object: %w", err)
	}
	return name, nil
}

// close discards pending work and stops the goroutines. The caller has
// cancelled r.bg, so blocked SaveBlob calls return and uploads end quickly.
func (s *saver) close() {
	s.flushMu.Lock()
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.flushMu.Unlock()
	close(s.jobs)
	s.workers.Wait()
	if s.group != nil {
		bufpool.Put(s.group.plain)
		s.group = nil
	}
	s.pmu.Lock()
	for k, pb := range s.cur {
		if pb != nil {
			s.release(pb)
			s.cur[k] = nil
		}
	}
	s.pmu.Unlock()
	close(s.uploads)
	s.uploader.Wait()
}

// pending reports whether blobs are saved but not yet indexed.
func (s *saver) busy() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.inflight) > 0
}
