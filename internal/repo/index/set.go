package index

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/zeebo/blake3"
)

// DefaultSpillEntries is the overlay size at which Set spills the overlay
// into a new segment.
const DefaultSpillEntries = 100_000

// maxSegments is the number of segments above which Set merges them.
const maxSegments = 6

// Options configure a Set.
type Options struct {
	// Dir holds the segments (and, if Persistent, the manifest). It is
	// created if missing.
	Dir string
	// Persistent keeps segments and a manifest in Dir across Close/OpenSet;
	// otherwise Dir is private to this Set and removed by Close.
	Persistent bool
	// MACKey authenticates segment files.
	MACKey [32]byte
	// SpillEntries overrides DefaultSpillEntries (tests).
	SpillEntries int
	// RunEntries overrides RunEntries for builders (tests).
	RunEntries int
}

type loc struct {
	pack   [32]byte
	off    uint32
	length uint32
	raw    uint32
	grp    uint32
}

type ovEntry struct {
	loc
	more []loc // the same blob in further packs (rare)
}

type segState struct {
	seg   *Segment
	names []string
	excl  []uint64 // bit per pack number: excluded (condemned, still readable)
	dead  []uint64 // bit per pack number: deleted (never returned)
}

func bitOn(b []uint64, i int) bool { return b != nil && b[i/64]&(1<<(i%64)) != 0 }

// Set answers lookups from the overlay and the segments, skipping excluded
// packs. It is safe for concurrent use.
type Set struct {
	opts Options

	maint sync.Mutex // serializes changes to segs and reads of segs outside mu

	mu        sync.RWMutex
	segs      []*segState // oldest first
	overlay   map[Key]*ovEntry
	ovNames   []string
	packSizes map[[32]byte]int64 // packs of overlay entries
	excluded  map[[32]byte]struct{}
	dead      map[[32]byte]struct{} // packs deleted since the segments were built
	closed    bool
}

// OpenSet opens the segments listed in Dir's manifest (when Persistent),
// dropping any that fail authentication. It never fails because of a damaged
// cache: it then starts empty and the caller reloads from storage.
func OpenSet(opts Options) (*Set, error) {
	if opts.SpillEntries <= 0 {
		opts.SpillEntries = DefaultSpillEntries
	}
	if err := os.MkdirAll(opts.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("index: cache dir: %w", err)
	}
	s := &Set{opts: opts, overlay: map[Key]*ovEntry{}, packSizes: map[[32]byte]int64{},
		excluded: map[[32]byte]struct{}{}, dead: map[[32]byte]struct{}{}}
	if !opts.Persistent {
		return s, nil
	}
	unlock, err := lockDir(opts.Dir, false)
	if err != nil {
		return nil, err
	}
	defer unlock()
	m, err := readManifest(opts.Dir, opts.MACKey)
	if err != nil {
		return s, nil // no, unreadable or unauthentic manifest: start empty
	}
	for _, d := range m.Dead {
		var id [32]byte
		if _, err := hex.Decode(id[:], []byte(d)); err != nil {
			return s, nil
		}
		s.dead[id] = struct{}{}
	}
	for _, ms := range m.Segments {
		seg, err := OpenSegment(filepath.Join(opts.Dir, filepath.Base(ms.File)), opts.MACKey)
		if err != nil {
			// A damaged or missing segment: forget the whole cache, so
			// that names and entries stay consistent.
			s.closeSegs()
			s.segs = nil
			return s, nil
		}
		st := &segState{seg: seg, names: ms.Names}
		s.setExcl(st)
		s.segs = append(s.segs, st)
	}
	return s, nil
}

// Names returns the names of the index objects whose entries the Set holds.
func (s *Set) Names() map[string]bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := map[string]bool{}
	for _, st := range s.segs {
		for _, n := range st.names {
			out[n] = true
		}
	}
	for _, n := range s.ovNames {
		out[n] = true
	}
	return out
}

// Lookup returns the location of a blob in a pack that is not excluded.
func (s *Set) Lookup(k Key) (Entry, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if ov, ok := s.overlay[k]; ok {
		if s.usable(ov.pack) {
			return ov.entry(k, ov.loc), true
		}
		for _, l := range ov.more {
			if s.usable(l.pack) {
				return ov.entry(k, l), true
			}
		}
	}
	for i := len(s.segs) - 1; i >= 0; i-- {
		st := s.segs[i]
		lo, hi := st.seg.Range(k)
		for j := lo; j < hi; j++ {
			if p := st.seg.PackNo(j); bitOn(st.excl, p) || bitOn(st.dead, p) {
				continue
			}
			e, _ := st.seg.Entry(j)
			return e, true
		}
	}
	return Entry{}, false
}

func (s *Set) usable(pack [32]byte) bool {
	_, ex := s.excluded[pack]
	_, dead := s.dead[pack]
	return !ex && !dead
}

// LookupAny is Lookup for reading: it prefers a location in a pack that is
// not excluded but falls back to an excluded one (condemned packs stay
// readable until garbage collection deletes them).
func (s *Set) LookupAny(k Key) (Entry, bool) {
	if e, ok := s.Lookup(k); ok {
		return e, true
	}
	var out Entry
	found := false
	s.LookupAll(k, func(e Entry, _ bool) {
		if !found {
			out, found = e, true
		}
	})
	return out, found
}

// LookupAll calls fn for every known location of a blob, excluded packs
// included, with excluded reporting whether the pack is excluded. Deleted
// packs are skipped.
func (s *Set) LookupAll(k Key, fn func(e Entry, excluded bool)) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if ov, ok := s.overlay[k]; ok {
		for _, l := range append([]loc{ov.loc}, ov.more...) {
			if _, dead := s.dead[l.pack]; dead {
				continue
			}
			_, ex := s.excluded[l.pack]
			fn(ov.entry(k, l), ex)
		}
	}
	for i := len(s.segs) - 1; i >= 0; i-- {
		st := s.segs[i]
		lo, hi := st.seg.Range(k)
		for j := lo; j < hi; j++ {
			e, p := st.seg.Entry(j)
			if bitOn(st.dead, p) {
				continue
			}
			fn(e, bitOn(st.excl, p))
		}
	}
}

func (ov *ovEntry) entry(k Key, l loc) Entry {
	return Entry{ID: k.ID, Type: k.Type, Pack: l.pack, Offset: l.off, Length: l.length, RawLength: l.raw, Group: l.grp}
}

// Add adds the entries of one stored index object, named name, whose packs
// are packs (with their sizes). It spills the overlay into a segment when it grows past the threshold.
func (s *Set) Add(name string, packs []PackInfo, entries []Entry) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return errors.New("index: set closed")
	}
	for _, p := range packs {
		if p.Size > s.packSizes[p.ID] {
			s.packSizes[p.ID] = p.Size
		}
	}
	for i := range entries {
		e := &entries[i]
		l := loc{pack: e.Pack, off: e.Offset, length: e.Length, raw: e.RawLength, grp: e.Group}
		k := e.Key()
		if ov, ok := s.overlay[k]; ok {
			if ov.loc != l && !slices.Contains(ov.more, l) {
				ov.more = append(ov.more, l)
			}
			continue
		}
		s.overlay[k] = &ovEntry{loc: l}
		if _, ok := s.packSizes[e.Pack]; !ok {
			s.packSizes[e.Pack] = 0
		}
	}
	if name != "" {
		s.ovNames = append(s.ovNames, name)
	}
	full := len(s.overlay) >= s.opts.SpillEntries
	s.mu.Unlock()
	if full && s.maint.TryLock() {
		// Spill unless maintenance is already running (the overlay then
		// overshoots the threshold a little until the next Add).
		defer s.maint.Unlock()
		return s.spillLocked()
	}
	return nil
}

// Exclude hides every entry in the given packs from Lookup (packs condemned by
// garbage collection). It replaces the previous exclusion set.
func (s *Set) Exclude(packs [][32]byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.excluded = make(map[[32]byte]struct{}, len(packs))
	for _, p := range packs {
		s.excluded[p] = struct{}{}
	}
	for _, st := range s.segs {
		s.setExcl(st)
	}
}

// Excluded reports whether a pack is excluded.
func (s *Set) Excluded(pack [32]byte) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	_, ok := s.excluded[pack]
	return ok
}

// setExcl computes a segment's excluded and deleted pack bits. Called with
// mu held for writing (or before the Set is shared).
func (s *Set) setExcl(st *segState) {
	st.excl, st.dead = nil, nil
	if len(s.excluded) == 0 && len(s.dead) == 0 {
		return
	}
	n := st.seg.NumPacks()
	for i := 0; i < n; i++ {
		id := st.seg.Pack(i).ID
		if _, ok := s.excluded[id]; ok {
			if st.excl == nil {
				st.excl = make([]uint64, (n+63)/64)
			}
			st.excl[i/64] |= 1 << (i % 64)
		}
		if _, ok := s.dead[id]; ok {
			if st.dead == nil {
				st.dead = make([]uint64, (n+63)/64)
			}
			st.dead[i/64] |= 1 << (i % 64)
		}
	}
}

// Drop records packs as deleted: their entries are never returned again,
// and the next compaction removes them. Used when garbage collection
// rewrote index objects (their replacements list the dropped packs), so the
// cache is updated without a rebuild.
func (s *Set) Drop(packs [][32]byte) {
	if len(packs) == 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range packs {
		s.dead[p] = struct{}{}
		delete(s.packSizes, p)
	}
	for k, ov := range s.overlay {
		ls := slices.DeleteFunc(append([]loc{ov.loc}, ov.more...), func(l loc) bool { _, d := s.dead[l.pack]; return d })
		if len(ls) == 0 {
			delete(s.overlay, k)
			continue
		}
		ov.loc, ov.more = ls[0], ls[1:]
	}
	for _, st := range s.segs {
		s.setExcl(st)
	}
}

// Forget removes names from the Set's record of loaded index objects (their
// entries stay: the caller has loaded the objects that supersede them).
func (s *Set) Forget(names []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	gone := func(n string) bool { return slices.Contains(names, n) }
	for _, st := range s.segs {
		st.names = slices.DeleteFunc(st.names, gone)
	}
	s.ovNames = slices.DeleteFunc(s.ovNames, gone)
}

func (s *Set) newSegPath() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return filepath.Join(s.opts.Dir, "seg-"+hex.EncodeToString(b[:])+".idx")
}

// Spill moves the overlay's entries into a new segment and merges segments
// when there are too many.
func (s *Set) Spill() error {
	s.maint.Lock()
	defer s.maint.Unlock()
	return s.spillLocked()
}

func (s *Set) spillLocked() error {
	s.mu.RLock()
	if len(s.overlay) == 0 {
		s.mu.RUnlock()
		return nil
	}
	b := NewBuilder(s.opts.Dir, s.opts.RunEntries)
	for k, ov := range s.overlay {
		for _, l := range append([]loc{ov.loc}, ov.more...) {
			b.AddPack(l.pack, s.packSizes[l.pack])
			b.Add(Entry{ID: k.ID, Type: k.Type, Pack: l.pack, Offset: l.off, Length: l.length, RawLength: l.raw, Group: l.grp})
		}
	}
	names := slices.Clone(s.ovNames)
	nOv := len(s.overlay)
	s.mu.RUnlock()
	seg, err := b.Finish(s.newSegPath(), s.opts.MACKey)
	if err != nil {
		return err
	}
	s.mu.Lock()
	if len(s.overlay) != nOv || len(s.ovNames) != len(names) {
		// Entries were added meanwhile: keep the new segment and drop from
		// the overlay only what it holds.
		for k := range s.overlay {
			if lo, hi := seg.Range(k); hi > lo && len(s.overlay[k].more) == 0 {
				delete(s.overlay, k)
			}
		}
		s.ovNames = slices.DeleteFunc(s.ovNames, func(n string) bool { return slices.Contains(names, n) })
	} else {
		s.overlay = map[Key]*ovEntry{}
		s.ovNames = nil
		s.packSizes = map[[32]byte]int64{}
	}
	st := &segState{seg: seg, names: names}
	s.setExcl(st)
	s.segs = append(s.segs, st)
	many := len(s.segs) > maxSegments
	s.mu.Unlock()
	if many {
		return s.compactLocked()
	}
	return nil
}

// Compact merges all segments into one.
func (s *Set) Compact() error {
	s.maint.Lock()
	defer s.maint.Unlock()
	return s.compactLocked()
}

func (s *Set) compactLocked() error {
	s.mu.RLock()
	segs := slices.Clone(s.segs)
	s.mu.RUnlock()
	if len(segs) <= 1 {
		return nil
	}
	b := NewBuilder(s.opts.Dir, s.opts.RunEntries)
	var names []string
	s.mu.RLock()
	dead := maps.Clone(s.dead)
	s.mu.RUnlock()
	for _, st := range segs {
		b.AddSegment(st.seg, func(p [32]byte) bool { _, d := dead[p]; return d })
		names = append(names, st.names...)
	}
	seg, err := b.Finish(s.newSegPath(), s.opts.MACKey)
	if err != nil {
		return err
	}
	st := &segState{seg: seg, names: names}
	s.mu.Lock()
	old := s.segs
	// Every segment was merged without the deleted packs, and Drop purged
	// them from the overlay: tombstones recorded before the merge are done.
	for p := range dead {
		delete(s.dead, p)
	}
	s.setExcl(st)
	s.segs = []*segState{st}
	s.mu.Unlock()
	for _, o := range old {
		o.seg.Close()
		if !s.opts.Persistent {
			os.Remove(o.seg.Path())
		}
	}
	return nil
}

// Replace discards everything and rebuilds the Set from fill, which adds
// entries to the builder it is given and returns the names of the index
// objects they came from.
func (s *Set) Replace(fill func(b *Builder) (names []string, err error)) error {
	s.maint.Lock()
	defer s.maint.Unlock()
	b := NewBuilder(s.opts.Dir, s.opts.RunEntries)
	names, err := fill(b)
	if err != nil {
		b.Discard()
		return err
	}
	seg, err := b.Finish(s.newSegPath(), s.opts.MACKey)
	if err != nil {
		return err
	}
	st := &segState{seg: seg, names: slices.Clone(names)}
	s.mu.Lock()
	old := s.segs
	s.dead = map[[32]byte]struct{}{}
	s.setExcl(st)
	s.segs = []*segState{st}
	s.overlay = map[Key]*ovEntry{}
	s.ovNames = nil
	s.packSizes = map[[32]byte]int64{}
	s.mu.Unlock()
	for _, o := range old {
		o.seg.Close()
		if !s.opts.Persistent {
			os.Remove(o.seg.Path())
		}
	}
	return nil
}

// AddSegment adds a segment built by the caller (for example from a batch of
// index objects) holding the entries of names. The Set takes ownership.
func (s *Set) AddSegment(seg *Segment, names []string) error {
	s.maint.Lock()
	defer s.maint.Unlock()
	st := &segState{seg: seg, names: slices.Clone(names)}
	s.mu.Lock()
	s.setExcl(st)
	s.segs = append(s.segs, st)
	many := len(s.segs) > maxSegments
	s.mu.Unlock()
	if many {
		return s.compactLocked()
	}
	return nil
}

// NewBuilder returns a Builder whose temporary files live in the Set's
// directory; pass its result to AddSegment via FinishInto.
func (s *Set) NewBuilder() *Builder { return NewBuilder(s.opts.Dir, s.opts.RunEntries) }

// FinishInto finishes b into a new segment file of this Set and adds it.
func (s *Set) FinishInto(b *Builder, names []string) error {
	seg, err := b.Finish(s.newSegPath(), s.opts.MACKey)
	if err != nil {
		return err
	}
	return s.AddSegment(seg, names)
}

// Merged writes all current entries (excluded packs included, deleted packs
// not) into one new
// segment file at path, which the caller owns (Close it and remove the file).
// Garbage collection and check use it for a stable, position-addressable
// view.
func (s *Set) Merged(path string) (*Segment, error) {
	s.maint.Lock()
	defer s.maint.Unlock()
	b := NewBuilder(filepath.Dir(path), s.opts.RunEntries)
	s.mu.RLock()
	segs := slices.Clone(s.segs)
	dead := maps.Clone(s.dead)
	for k, ov := range s.overlay {
		for _, l := range append([]loc{ov.loc}, ov.more...) {
			b.AddPack(l.pack, s.packSizes[l.pack])
			b.Add(Entry{ID: k.ID, Type: k.Type, Pack: l.pack, Offset: l.off, Length: l.length, RawLength: l.raw, Group: l.grp})
		}
	}
	s.mu.RUnlock()
	for _, st := range segs { // stable: maint is held
		b.AddSegment(st.seg, func(p [32]byte) bool { _, d := dead[p]; return d })
	}
	return b.Finish(path, s.opts.MACKey)
}

// Dir is the Set's directory.
func (s *Set) Dir() string { return s.opts.Dir }

// MACKey is the key that authenticates the Set's segments.
func (s *Set) MACKey() [32]byte { return s.opts.MACKey }

// Save spills the overlay and, when Persistent, records the segments and
// their index-object names in the manifest so the next OpenSet reuses them.
func (s *Set) Save() error {
	if !s.opts.Persistent {
		return nil
	}
	s.maint.Lock()
	defer s.maint.Unlock()
	if err := s.spillLocked(); err != nil {
		return err
	}
	s.mu.RLock()
	m := manifest{Version: 1}
	keep := map[string]bool{}
	for _, st := range s.segs {
		f := filepath.Base(st.seg.Path())
		m.Segments = append(m.Segments, manifestSeg{File: f, Names: st.names})
		keep[f] = true
	}
	for p := range s.dead {
		m.Dead = append(m.Dead, hex.EncodeToString(p[:]))
	}
	s.mu.RUnlock()
	unlock, err := lockDir(s.opts.Dir, true)
	if err != nil {
		return err
	}
	defer unlock()
	if err := writeManifest(s.opts.Dir, &m, s.opts.MACKey); err != nil {
		return err
	}
	// Remove segment files nobody references any more. Files younger than
	// an hour may belong to another process sharing the directory.
	ents, _ := os.ReadDir(s.opts.Dir)
	for _, e := range ents {
		n := e.Name()
		if keep[n] || !(strings.HasPrefix(n, "seg-") || strings.HasPrefix(n, "run-")) {
			continue
		}
		if info, err := e.Info(); err == nil && time.Since(info.ModTime()) > time.Hour {
			os.Remove(filepath.Join(s.opts.Dir, n))
		}
	}
	return nil
}

func (s *Set) closeSegs() {
	for _, st := range s.segs {
		st.seg.Close()
	}
}

// Close releases the segments; a non-persistent Set also removes its
// directory.
func (s *Set) Close() error {
	s.maint.Lock()
	defer s.maint.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	s.closeSegs()
	s.segs = nil
	if !s.opts.Persistent {
		return os.RemoveAll(s.opts.Dir)
	}
	return nil
}

// Stats summarizes the Set.
type Stats struct {
	Entries  int   // including duplicates and excluded packs
	Segments int   // segment files
	Overlay  int   // entries in memory
	Bytes    int64 // segment bytes on disk
}

// Stats returns counts for monitoring.
func (s *Set) Stats() Stats {
	s.mu.RLock()
	defer s.mu.RUnlock()
	st := Stats{Segments: len(s.segs), Overlay: len(s.overlay)}
	for _, x := range s.segs {
		st.Entries += x.seg.Len()
		st.Bytes += x.seg.FileSize()
	}
	st.Entries += len(s.overlay)
	return st
}

type manifest struct {
	Version  int           `json:"version"`
	Segments []manifestSeg `json:"segments"`
	Dead     []string      `json:"dead,omitempty"`
}

type manifestSeg struct {
	File  string   `json:"file"`
	Names []string `json:"names"`
}

// manifestFile wraps the manifest with a keyed MAC: a damaged or edited
// manifest (names it does not hold) is never trusted.
type manifestFile struct {
	Body json.RawMessage `json:"body"`
	MAC  string          `json:"mac"`
}

const manifestName = "manifest.json"

func manifestMAC(key [32]byte, body []byte) string {
	h, _ := blake3.NewKeyed(key[:])
	_, _ = h.WriteString("coffer index manifest v1")
	_, _ = h.Write(body)
	return hex.EncodeToString(h.Sum(nil))
}

func readManifest(dir string, key [32]byte) (*manifest, error) {
	b, err := os.ReadFile(filepath.Join(dir, manifestName))
	if err != nil {
		return nil, err
	}
	var f manifestFile
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("%w: manifest", ErrCorrupt)
	}
	if subtle.ConstantTimeCompare([]byte(f.MAC), []byte(manifestMAC(key, f.Body))) != 1 {
		return nil, fmt.Errorf("%w: manifest MAC", ErrCorrupt)
	}
	var m manifest
	if err := json.Unmarshal(f.Body, &m); err != nil || m.Version != 1 {
		return nil, fmt.Errorf("%w: manifest", ErrCorrupt)
	}
	return &m, nil
}

func writeManifest(dir string, m *manifest, key [32]byte) error {
	body, err := json.Marshal(m)
	if err != nil {
		return err
	}
	b, err := json.Marshal(manifestFile{Body: body, MAC: manifestMAC(key, body)})
	if err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, "manifest-*.tmp")
	if err != nil {
		return fmt.Errorf("index: %w", err)
	}
	_, err = f.Write(b)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), filepath.Join(dir, manifestName))
	}
	if err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("index: manifest: %w", err)
	}
	return nil
}
