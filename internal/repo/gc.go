package repo

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/coffer/coffer/internal/blob"
	"github.com/coffer/coffer/internal/repo/crypto"
	"github.com/coffer/coffer/internal/repo/index"
	"github.com/coffer/coffer/internal/repo/pack"
	"golang.org/x/sync/errgroup"
)

// GC defaults.
const (
	DefaultSessionTimeout  = time.Hour
	DefaultRepackThreshold = 0.5
)

// GCOptions configure a garbage collection.
type GCOptions struct {
	// TreeRefs decodes tree blobs (required).
	TreeRefs TreeRefsFunc
	// GracePeriod is the minimum age of a plan before its packs are
	// deleted, on top of the session protocol (default 0: packs go as soon
	// as no session that might use them is alive).
	GracePeriod time.Duration
	// SessionTimeout: a session whose heartbeat is older is considered dead
	// and expired (default DefaultSessionTimeout; keep it well above the
	// writers' HeartbeatInterval). Also the maintenance lock's timeout.
	SessionTimeout time.Duration
	// RepackThreshold: packs whose unreferenced bytes are at least this
	// fraction are repacked (live blobs copied to new packs, the pack
	// deleted). Default DefaultRepackThreshold; a value above 1 disables
	// repacking (only fully unreferenced packs are deleted).
	RepackThreshold float64
	// MaxRepackBytes bounds the live bytes copied per run (0: no bound).
	MaxRepackBytes int64
	// DryRun computes and reports without changing anything.
	DryRun bool
}

// GCReport says what a garbage collection did.
type GCReport struct {
	Snapshots       int   // snapshots marked
	LiveBlobs       int64 // referenced blobs
	LiveBytes       int64 // their stored bytes
	Packs           int   // indexed packs
	PacksCondemned  int   // packs put in the new plan (dead or repacked)
	OrphanPacks     int   // unindexed packs put in the new plan
	PacksRepacked   int
	BlobsRepacked   int64
	BytesRepacked   int64
	PacksDeleted    int
	BytesFreed      int64
	PacksRescued    int // condemned packs kept because a new snapshot uses them
	IndexRewritten  int // index objects replaced
	MissingPacks    int // indexed packs absent from storage (run Check)
	ExpiredSessions []string
	// Pending is set when a plan waits: WaitingFor lists the sessions that
	// may still use its packs (or "grace period" when it is too young).
	Pending    bool
	WaitingFor []string
}

// gcPlan is stored sealed under gc/<id>: the packs a garbage collection
// condemned, the snapshots it marked, and the sessions that may not have
// seen the plan.
type gcPlan struct {
	ID        string    `json:"id"`
	Created   time.Time `json:"created"`
	Session   string    `json:"session"`
	Snapshots []ID      `json:"snapshots"`
	Packs     []ID      `json:"packs"`
	Orphans   []ID      `json:"orphans"`
	Listed    bool      `json:"listed"`
	Sessions  []string  `json:"sessions"`
}

func (p *gcPlan) name() string { return gcPlanPrefix + p.ID }

func (r *Repository) putPlan(ctx context.Context, p *gcPlan) error {
	b, _ := json.Marshal(p)
	if err := r.st.Put(ctx, p.name(), r.sealMeta("gc plan", b)); err != nil {
		return fmt.Errorf("repo: write gc plan: %w", err)
	}
	return nil
}

// loadPlans reads every gc plan. With strict (GC), an unreadable plan is an
// error: GC cannot know which packs it condemned. Otherwise (writers) it is
// skipped with an error log: no GC can complete a plan it cannot read, so
// its packs are not deleted and writers may keep using them.
func (r *Repository) loadPlans(ctx context.Context, strict bool) ([]*gcPlan, error) {
	var names []string
	if err := r.st.List(ctx, gcPlanPrefix, func(i blob.Info) error { names = append(names, i.Name); return nil }); err != nil {
		return nil, fmt.Errorf("repo: list gc plans: %w", err)
	}
	var out []*gcPlan
	for _, n := range names {
		plain, err := r.readMeta(ctx, "gc plan", n)
		if errors.Is(err, blob.ErrNotFound) {
			continue
		}
		var p gcPlan
		if err == nil {
			if jerr := json.Unmarshal(plain, &p); jerr != nil || p.name() != n {
				err = fmt.Errorf("%w: gc plan %s does not parse", ErrCorrupt, n)
			}
		}
		if errors.Is(err, ErrCorrupt) && !strict {
			r.log.Error("ignoring a damaged gc plan; delete it (no GC can complete it)", "name", n, "err", err)
			continue
		}
		if errors.Is(err, ErrCorrupt) {
			return nil, fmt.Errorf("repo: gc plan %s is damaged: %w; delete that object and run GC again (its work is redone)", n, err)
		}
		if err != nil {
			return nil, fmt.Errorf("repo: read gc plan %s: %w", n, err)
		}
		out = append(out, &p)
	}
	return out, nil
}

// GC removes data no snapshot references, without stopping writers. See
// the package comment for the protocol. One call completes a pending plan
// whose sessions have ended, or else makes a new plan (marking from all
// snapshots, repacking mostly-dead packs) and completes it at once when no
// other session is open; otherwise a later call finishes it.
func (r *Repository) GC(ctx context.Context, opts GCOptions) (*GCReport, error) {
	if r.opts.ReadOnly {
		return nil, ErrReadOnly
	}
	if err := r.writable(); err != nil {
		return nil, err
	}
	if opts.TreeRefs == nil {
		return nil, errors.New("repo: gc: TreeRefs is required")
	}
	if opts.SessionTimeout <= 0 {
		opts.SessionTimeout = DefaultSessionTimeout
	}
	if opts.RepackThreshold <= 0 {
		opts.RepackThreshold = DefaultRepackThreshold
	}
	unlock, err := r.lockMaintenance(ctx, "gc", opts.SessionTimeout)
	if err != nil {
		return nil, err
	}
	defer unlock()
	if err := r.Flush(ctx); err != nil {
		return nil, err
	}
	rep := &GCReport{}
	// This Repository's own dedup decisions must exclude every plan's packs
	// from here on: see liveSessions.
	if err := r.refreshPlans(ctx); err != nil {
		return nil, err
	}
	plans, err := r.loadPlans(ctx, true)
	if err != nil {
		return nil, err
	}
	for _, p := range plans {
		done, err := r.gcComplete(ctx, p, opts, rep)
		if err != nil {
			return rep, err
		}
		if !done {
			rep.Pending = true
		}
	}
	if rep.Pending {
		return rep, nil // one plan at a time
	}
	p, err := r.gcPlan(ctx, opts, rep)
	if err != nil || p == nil {
		return rep, err
	}
	done, err := r.gcComplete(ctx, p, opts, rep)
	if err != nil {
		return rep, err
	}
	rep.Pending = !done
	return rep, nil
}

// gcPlan is phase 1: mark, repack, write the plan, record the sessions that
// may not have seen it. It returns nil when there is nothing to condemn.
func (r *Repository) gcPlan(ctx context.Context, opts GCOptions, rep *GCReport) (*gcPlan, error) {
	if err := r.refreshPlans(ctx); err != nil {
		return nil, err
	}
	// Order matters: snapshots, then index, then packs. A snapshot is
	// written after its index objects, and index objects after their packs,
	// so everything a listed snapshot references is in the index read next,
	// and every indexed pack is in the pack listing.
	snaps, err := r.snapshotIDs(ctx)
	if err != nil {
		return nil, err
	}
	if err := r.syncIndexComplete(ctx); err != nil {
		return nil, err
	}
	v, err := r.newView()
	if err != nil {
		return nil, err
	}
	defer v.close()
	stored, err := r.listPacks(ctx)
	if err != nil {
		return nil, err
	}
	m := newMarker(r, v, opts.TreeRefs)
	var marked []ID
	for _, id := range snaps {
		sn, err := r.LoadSnapshot(ctx, id)
		if errors.Is(err, ErrSnapshotNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("repo: gc: %w (GC needs every snapshot readable; run check)", err)
		}
		if err := m.walk(ctx, id, sn.Roots()); err != nil {
			return nil, fmt.Errorf("repo: gc: %w", err)
		}
		marked = append(marked, id)
	}
	rep.Snapshots = len(marked)
	if m.nMiss > 0 {
		var s []string
		for _, x := range m.missing[:min(len(m.missing), 5)] {
			s = append(s, fmt.Sprintf("%s (snapshot %s)", x.Ref, x.Snapshot.Short()))
		}
		return nil, fmt.Errorf("%w: gc: %d referenced blobs are not in the index, e.g. %s; run check (and rebuild-index)",
			ErrBlobNotFound, m.nMiss, strings.Join(s, ", "))
	}
	// Per-pack accounting. A group record's bytes count once, and as live
	// in proportion to its live members' plaintext, so that a record
	// whose members mostly died gets its pack repacked (records: one map
	// entry per group record, about one per MiB of small files).
	np := v.seg.NumPacks()
	total := make([]int64, np)
	live := make([]int64, np)
	type record struct {
		p   int
		off uint32
	}
	type recordUse struct {
		length, raw, liveRaw int64
		anyLive              bool
	}
	records := map[record]*recordUse{}
	for i := 0; i < v.seg.Len(); i++ {
		e, p := v.seg.Entry(i)
		isLive := m.marks.has(i)
		if isLive {
			rep.LiveBlobs++
		}
		if e.Group != 0 {
			k := record{p, e.Offset}
			u := records[k]
			if u == nil {
				u = &recordUse{length: int64(e.Length)}
				records[k] = u
			}
			u.raw += int64(e.RawLength)
			if isLive {
				u.liveRaw += int64(e.RawLength)
				u.anyLive = true
			}
			continue
		}
		total[p] += int64(e.Length)
		if isLive {
			live[p] += int64(e.Length)
			rep.LiveBytes += int64(e.Length)
		}
	}
	for k, u := range records {
		total[k.p] += u.length
		share := u.length
		if u.raw > 0 {
			share = u.length * u.liveRaw / u.raw
		}
		if u.anyLive {
			share = max(share, 1) // a pack with a live member is never dead
		}
		live[k.p] += share
		rep.LiveBytes += share
	}
	ids := v.packIDs()
	counts := v.packEntries()
	indexed := make(map[ID]bool, np)
	var dead, repack []int
	var repackBytes int64
	for p := 0; p < np; p++ {
		if counts[p] == 0 {
			continue
		}
		rep.Packs++
		indexed[ids[p]] = true
		if _, ok := stored[ids[p]]; !ok {
			rep.MissingPacks++
			continue
		}
		switch {
		case live[p] == 0:
			dead = append(dead, p)
		case opts.RepackThreshold <= 1 && float64(total[p]-live[p]) >= opts.RepackThreshold*float64(total[p]):
			if opts.MaxRepackBytes > 0 && repackBytes+live[p] > opts.MaxRepackBytes {
				continue
			}
			repack = append(repack, p)
			repackBytes += live[p]
		}
	}
	var orphans []ID
	for id := range stored {
		if !indexed[id] {
			orphans = append(orphans, id)
		}
	}
	if rep.MissingPacks > 0 {
		r.log.Warn("gc: indexed packs are missing from storage; run check", "count", rep.MissingPacks)
	}
	plan := &gcPlan{ID: randomHex(16), Created: r.clk.Now().UTC(), Session: r.sess.ID(), Snapshots: marked, Orphans: orphans}
	for _, p := range dead {
		plan.Packs = append(plan.Packs, ids[p])
	}
	if opts.DryRun {
		rep.PacksCondemned = len(dead) + len(repack)
		rep.OrphanPacks = len(orphans)
		rep.PacksRepacked = len(repack)
		rep.BytesRepacked = repackBytes
		return nil, nil
	}
	if len(repack) > 0 {
		done, err := r.repack(ctx, v, m.marks, repack, rep)
		if err != nil {
			return nil, err
		}
		for _, p := range done {
			plan.Packs = append(plan.Packs, ids[p])
		}
	}
	rep.PacksCondemned = len(plan.Packs)
	rep.OrphanPacks = len(orphans)
	if len(plan.Packs) == 0 && len(orphans) == 0 {
		return nil, nil
	}
	// The plan is visible before the sessions are listed: every session is
	// either listed below or opened after the plan was written (and then
	// excludes its packs).
	if err := r.putPlan(ctx, plan); err != nil {
		return nil, err
	}
	// Exclude the plan's packs from this Repository's own dedup decisions
	// before deciding whether its own session must be waited for.
	if err := r.refreshPlans(ctx); err != nil {
		return nil, err
	}
	if err := r.listPlanSessions(ctx, plan, opts, rep); err != nil {
		return nil, err
	}
	r.log.Info("gc plan written", "plan", plan.ID, "condemned", len(plan.Packs), "orphans", len(orphans), "waiting_for", len(plan.Sessions))
	return plan, nil
}

// listPlanSessions records in the plan the live sessions other than ours.
func (r *Repository) listPlanSessions(ctx context.Context, plan *gcPlan, opts GCOptions, rep *GCReport) error {
	alive, err := r.liveSessions(ctx, opts, rep)
	if err != nil {
		return err
	}
	plan.Sessions = alive
	plan.Listed = true
	return r.putPlan(ctx, plan)
}

// liveSessions lists the sessions that may hold dedup decisions older than
// this Repository's current view of the plans, expiring those whose
// heartbeat is older than the session timeout. This Repository's own
// session counts only if it was used for dedup decisions (a backup running
// on the same Repository); a Repository opened just to collect garbage
// completes a plan in one call. GC refreshes the plans of its own
// Repository before calling this, so later decisions exclude them.
func (r *Repository) liveSessions(ctx context.Context, opts GCOptions, rep *GCReport) ([]string, error) {
	ms, err := r.listSessions(ctx)
	if err != nil {
		return nil, err
	}
	own := r.sess.ID()
	ownUsed := r.sess.used.Load()
	now := r.clk.Now()
	var alive []string
	for _, m := range ms {
		if m.ID == own {
			if ownUsed {
				alive = append(alive, m.ID)
			}
			continue
		}
		if !m.Heartbeat.IsZero() && now.Sub(m.Heartbeat) > opts.SessionTimeout {
			r.log.Warn("expiring a dead writer session", "session", m.ID, "host", m.Host, "pid", m.PID, "last_heartbeat", m.Heartbeat)
			if err := r.st.Delete(ctx, sessionPrefix+m.ID); err != nil {
				return nil, fmt.Errorf("repo: expire session %s: %w", m.ID, err)
			}
			rep.ExpiredSessions = append(rep.ExpiredSessions, m.ID)
			continue
		}
		alive = append(alive, m.ID)
	}
	return alive, nil
}

// gcComplete is phase 2: once no session that might use the plan's packs is
// alive, mark the snapshots created since the plan, keep condemned packs
// they use, rewrite the index without the rest and delete them.
func (r *Repository) gcComplete(ctx context.Context, plan *gcPlan, opts GCOptions, rep *GCReport) (bool, error) {
	if !plan.Listed {
		// Phase 1 crashed before listing sessions: every session alive now
		// might predate the plan.
		if err := r.listPlanSessions(ctx, plan, opts, rep); err != nil {
			return false, err
		}
	}
	alive, err := r.liveSessions(ctx, opts, rep)
	if err != nil {
		return false, err
	}
	var blocked []string
	for _, s := range plan.Sessions {
		if slices.Contains(alive, s) {
			blocked = append(blocked, s)
		}
	}
	if len(blocked) > 0 {
		rep.WaitingFor = append(rep.WaitingFor, blocked...)
		return false, nil
	}
	if age := r.clk.Now().Sub(plan.Created); age < opts.GracePeriod {
		rep.WaitingFor = append(rep.WaitingFor, fmt.Sprintf("grace period (%s left)", (opts.GracePeriod-age).Round(time.Second)))
		return false, nil
	}
	snaps, err := r.snapshotIDs(ctx) // before the index: see gcPlan
	if err != nil {
		return false, err
	}
	if err := r.syncIndexComplete(ctx); err != nil {
		return false, err
	}
	v, err := r.newView()
	if err != nil {
		return false, err
	}
	defer v.close()
	condemned := map[ID]bool{}
	for _, p := range plan.Packs {
		condemned[p] = true
	}
	for _, p := range plan.Orphans {
		condemned[p] = true
	}
	ids := v.packIDs()
	m := newMarker(r, v, opts.TreeRefs)
	m.avoid = func(p int) bool { return condemned[ids[p]] }
	old := map[ID]bool{}
	for _, s := range plan.Snapshots {
		old[s] = true
	}
	for _, id := range snaps {
		if old[id] {
			continue
		}
		sn, err := r.LoadSnapshot(ctx, id)
		if errors.Is(err, ErrSnapshotNotFound) {
			continue
		}
		if err != nil {
			return false, fmt.Errorf("repo: gc: %w", err)
		}
		if err := m.walk(ctx, id, sn.Roots()); err != nil {
			return false, fmt.Errorf("repo: gc: %w", err)
		}
	}
	if m.nMiss > 0 {
		r.log.Warn("gc: snapshots created since the plan reference blobs missing from the index; run check", "count", m.nMiss)
	}
	rescued := map[ID]bool{}
	indexed := map[ID]bool{}
	for p, n := range v.packEntries() {
		if n > 0 {
			indexed[ids[p]] = true
		}
	}
	for i := 0; i < v.seg.Len(); i++ {
		if m.marks.has(i) {
			if id := ids[v.seg.PackNo(i)]; condemned[id] {
				rescued[id] = true
			}
		}
	}
	var del []ID
	for _, p := range plan.Packs {
		if !rescued[p] {
			del = append(del, p)
		}
	}
	for _, p := range plan.Orphans {
		if !indexed[p] && !rescued[p] {
			del = append(del, p) // still unindexed: its writer is gone
		}
	}
	rep.PacksRescued += len(rescued)
	if len(rescued) > 0 {
		r.log.Info("gc: keeping condemned packs used by new snapshots", "count", len(rescued))
	}
	delSet := map[ID]bool{}
	for _, p := range del {
		delSet[p] = true
	}
	// Index first (a crash leaves unindexed packs, which the next GC
	// removes), then packs, then the plan.
	if err := r.rewriteIndex(ctx, delSet, rep); err != nil {
		return false, err
	}
	sizes, err := r.listPacks(ctx)
	if err != nil {
		return false, err
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(4)
	for _, p := range del {
		rep.PacksDeleted++
		rep.BytesFreed += sizes[p]
		g.Go(func() error {
			if err := r.st.Delete(gctx, pack.Name(p)); err != nil {
				return fmt.Errorf("repo: gc: delete pack %s: %w", p.Short(), err)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return false, err
	}
	if err := r.st.Delete(ctx, plan.name()); err != nil {
		return false, fmt.Errorf("repo: gc: delete plan: %w", err)
	}
	r.log.Info("gc plan completed", "plan", plan.ID, "deleted_packs", len(del), "freed_bytes", rep.BytesFreed)
	if err := r.refreshPlans(ctx); err != nil {
		return true, err
	}
	return true, r.syncIndex(ctx)
}

// listPacks returns every stored pack with its size.
func (r *Repository) listPacks(ctx context.Context) (map[ID]int64, error) {
	out := map[ID]int64{}
	err := r.st.List(ctx, pack.Prefix, func(i blob.Info) error {
		if id, ok := pack.ParseName(i.Name); ok {
			out[id] = i.Size
		} else {
			r.log.Warn("ignoring unexpected object among packs", "name", i.Name)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("repo: list packs: %w", err)
	}
	return out, nil
}

// rewriteIndex replaces the index objects that list packs in drop by
// objects without them, and consolidates small objects when there are many.
// New objects are written before old ones are deleted.
func (r *Repository) rewriteIndex(ctx context.Context, drop map[ID]bool, rep *GCReport) error {
	var names []string
	if err := r.st.List(ctx, indexPrefix, func(i blob.Info) error { names = append(names, i.Name); return nil }); err != nil {
		return fmt.Errorf("repo: list index: %w", err)
	}
	consolidate := len(names) > 64
	var replaced []string
	var supersedes, dropped [][32]byte
	wrote := map[string]bool{} // never delete what this run wrote (same content, same name)
	out := &index.Object{}
	outN := 0
	flush := func(last bool) error {
		if last {
			// The last object carries what the rewrite replaced and
			// dropped (even with no packs), so caches update in place.
			out.Supersedes, out.Dropped = supersedes, dropped
			if len(out.Packs) == 0 && len(supersedes) == 0 {
				return nil
			}
		} else if len(out.Packs) == 0 {
			return nil
		}
		name, err := r.putIndexObject(ctx, out)
		if err != nil {
			return err
		}
		wrote[name] = true
		out, outN = &index.Object{}, 0
		return nil
	}
	for _, n := range names {
		o, err := r.readIndexObject(ctx, n)
		if errors.Is(err, blob.ErrNotFound) {
			continue
		}
		if err != nil {
			return fmt.Errorf("repo: gc: %w", err)
		}
		affected := consolidate && o.Entries() < index.MaxObjectEntries/16
		for _, p := range o.Packs {
			if drop[p.ID] {
				affected = true
			}
		}
		if !affected {
			continue
		}
		replaced = append(replaced, n)
		id, _ := ParseID(strings.TrimPrefix(n, indexPrefix))
		supersedes = append(supersedes, id)
		for _, p := range o.Packs {
			if drop[p.ID] {
				dropped = append(dropped, p.ID)
				continue
			}
			out.Packs = append(out.Packs, p)
			outN += len(p.Blobs)
		}
		if outN >= index.MaxObjectEntries {
			if err := flush(false); err != nil {
				return err
			}
		}
	}
	if err := flush(true); err != nil {
		return err
	}
	for _, n := range replaced {
		if wrote[n] {
			continue
		}
		if err := r.st.Delete(ctx, n); err != nil {
			return fmt.Errorf("repo: gc: delete index object: %w", err)
		}
	}
	rep.IndexRewritten += len(replaced)
	return nil
}

// repack copies the live blobs of the given packs (by view pack number)
// into new packs, verifying each, and returns the packs fully copied. A
// pack with a damaged live blob is left alone (and reported by Check).
func (r *Repository) repack(ctx context.Context, v *view, marks bitset, packs []int, rep *GCReport) ([]int, error) {
	want := map[int]bool{}
	for _, p := range packs {
		want[p] = true
	}
	live := map[int][]BlobLocation{}
	for i := 0; i < v.seg.Len(); i++ {
		if !marks.has(i) {
			continue
		}
		e, p := v.seg.Entry(i)
		if want[p] {
			live[p] = append(live[p], locationOf(e))
		}
	}
	var done []int
	for _, p := range packs {
		ok, err := r.repackOne(ctx, v.seg.Pack(p).ID, live[p], rep)
		if err != nil {
			return nil, err
		}
		if ok {
			done = append(done, p)
		}
	}
	if err := r.Flush(ctx); err != nil {
		return nil, fmt.Errorf("repo: gc: repack: %w", err)
	}
	return done, nil
}

func (r *Repository) repackOne(ctx context.Context, packID ID, blobs []BlobLocation, rep *GCReport) (bool, error) {
	if len(blobs) == 0 {
		return true, nil
	}
	slices.SortFunc(blobs, func(a, b BlobLocation) int { return cmp.Compare(a.Offset, b.Offset) })
	lo, hi := blobs[0].Offset, int64(0)
	for _, b := range blobs {
		hi = max(hi, b.Offset+b.Length)
	}
	// One read per pack; every live blob is authenticated before any is
	// queued, so a damaged pack is left alone rather than half-repacked.
	// The payloads are sealed again under the new pack's key (never
	// recompressed).
	pa, err := r.packAEAD(ctx, packID)
	data := make([]byte, hi-lo)
	if err == nil {
		if err = r.readRange(ctx, packID, lo, data); err != nil {
			err = readError(packID, nil, err)
		}
	}
	if err != nil {
		if errors.Is(err, ErrCorrupt) {
			r.log.Error("gc: not repacking a damaged pack", "pack", packID, "err", err)
			return false, nil
		}
		return false, err
	}
	payloads := make([][]byte, len(blobs)) // nil for a record's later members
	var group groupCache
	defer group.release()
	for i, b := range blobs {
		var err error
		if group.has(b) {
			_, err = group.member(b)
		} else {
			sealed := data[b.Offset-lo : b.Offset-lo+b.Length]
			var p []byte
			p, err = r.openRecord(pa, b, sealed, sealed[crypto.NonceSize:crypto.NonceSize])
			payloads[i] = p // a group record's payload is decoded again below
			_, err = group.fromRecord(r, b, p, err)
		}
		if err != nil {
			r.log.Error("gc: not repacking a damaged pack", "pack", packID, "err", err)
			return false, nil
		}
	}
	// Blobs sealed alone are sealed again as they are; group members are
	// saved as plaintext, to be grouped anew with the other small blobs.
	group.release()
	for i, b := range blobs {
		key := index.Key{ID: b.ID, Type: uint8(b.Type)}
		mk := func() *job { return &job{kind: jobPayload, data: payloads[i], raw: uint32(b.RawLength)} }
		if b.Group != 0 {
			pl, err := group.fromRecord(r, b, payloads[i], nil)
			if err != nil {
				return false, err
			}
			mk = func() *job { return plainJob(pl.body) }
		}
		_, err := r.saver.enqueue(ctx, key, mk, false)
		if err != nil {
			return false, err
		}
		rep.BlobsRepacked++
		if b.Group == 0 || payloads[i] != nil {
			rep.BytesRepacked += b.Length
		}
	}
	rep.PacksRepacked++
	return true, nil
}

// syncIndexComplete syncs the index and fails if any index object in
// storage could not be loaded (damaged): GC must never take the packs such
// an object lists for orphans.
func (r *Repository) syncIndexComplete(ctx context.Context) error {
	if err := r.syncIndex(ctx); err != nil {
		return err
	}
	have := r.idx.Names()
	var bad []string
	err := r.st.List(ctx, indexPrefix, func(i blob.Info) error {
		if !have[i.Name] {
			bad = append(bad, i.Name)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("repo: list index: %w", err)
	}
	if len(bad) > 0 {
		// New objects may have appeared since the sync; sync once more.
		if err := r.syncIndex(ctx); err != nil {
			return err
		}
		have = r.idx.Names()
		var still []string
		for _, n := range bad {
			if !have[n] {
				if _, err := r.st.Stat(ctx, n); err == nil {
					still = append(still, n)
				}
			}
		}
		if len(still) > 0 {
			return fmt.Errorf("%w: gc: index objects cannot be read (%s); run check and rebuild-index first",
				ErrCorrupt, strings.Join(still[:min(len(still), 3)], ", "))
		}
	}
	return nil
}
