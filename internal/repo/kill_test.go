package repo

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/coffer/coffer/internal/blob"
	"github.com/coffer/coffer/internal/blob/localfs"
)

// The SIGKILL test re-executes the test binary as a helper process
// (TestKillHelper with COFFER_KILL_HELPER set) that writes snapshots, or
// deletes snapshots and runs GC, in a loop on a local directory store; the
// parent kills it at random moments and then checks the repository.

const (
	killEnvMode = "COFFER_KILL_HELPER"
	killEnvDir  = "COFFER_KILL_DIR"
	killEnvSeed = "COFFER_KILL_SEED"
	killTimeout = 2 * time.Second // GC session timeout in the helpers
	killBeat    = 100 * time.Millisecond
)

func killOpts() Options {
	return Options{PackSize: 128 << 10, Workers: 2, HeartbeatInterval: killBeat}
}

func openDirStore(t testing.TB, dir string) blob.Store {
	t.Helper()
	st, err := localfs.New(context.Background(), localfs.Options{Root: dir, Create: true, SkipSweep: true})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// killSnapshotData is the content of the helper's i-th snapshot of a seed:
// one new random blob, one blob shared with other snapshots, one text blob.
func killSnapshotData(seed, i int) [][]byte {
	rng := rand.New(rand.NewPCG(uint64(seed), uint64(i)))
	return [][]byte{
		randData(uint64(seed*100000+i), 20<<10+rng.IntN(60<<10)),
		randData(uint64(seed*100000+90000+(i*7)%10), 50<<10),
		textData(uint64(i), 10<<10+rng.IntN(20<<10)),
	}
}

func TestKillHelper(t *testing.T) {
	mode := os.Getenv(killEnvMode)
	if mode == "" {
		t.Skip("helper process for TestSIGKILL")
	}
	dir := os.Getenv(killEnvDir)
	seed, _ := strconv.Atoi(os.Getenv(killEnvSeed))
	ctx := context.Background()
	st := openDirStore(t, dir)
	r, err := Open(ctx, st, testKEK(t, "k1"), killOpts())
	if err != nil {
		fmt.Printf("open-failed %v\n", err)
		os.Exit(3)
	}
	out := bufio.NewWriter(os.Stdout)
	say := func(f string, a ...any) { fmt.Fprintf(out, f+"\n", a...); out.Flush() }
	switch mode {
	case "backup":
		for i := 0; ; i++ {
			data := killSnapshotData(seed, i)
			var refs []Ref
			for _, d := range data {
				if _, err := r.SaveBlob(ctx, DataBlob, r.Hash(d), d); err != nil {
					say("error %v", err)
					os.Exit(4)
				}
				refs = append(refs, Ref{DataBlob, r.Hash(d)})
			}
			tree := encodeTree(refs)
			if _, err := r.SaveBlob(ctx, TreeBlob, r.Hash(tree), tree); err != nil {
				say("error %v", err)
				os.Exit(4)
			}
			id, err := r.SaveSnapshot(ctx, &Snapshot{Kind: "tree", Root: r.Hash(tree),
				Meta: map[string]string{"seed": strconv.Itoa(seed), "i": strconv.Itoa(i)}})
			if errors.Is(err, ErrSessionExpired) {
				say("expired")
				os.Exit(5)
			}
			if err != nil {
				say("error %v", err)
				os.Exit(4)
			}
			say("committed %s", id)
		}
	case "gc":
		rng := rand.New(rand.NewPCG(uint64(seed), 1))
		for {
			ids, err := r.snapshotIDs(ctx)
			if err != nil {
				say("error %v", err)
				os.Exit(4)
			}
			// Keep about 8 snapshots, deleting at random.
			for n := len(ids); n > 8; n-- {
				k := rng.IntN(len(ids))
				id := ids[k]
				ids = append(ids[:k], ids[k+1:]...)
				say("deleting %s", id)
				if err := r.DeleteSnapshot(ctx, id); err != nil && !errors.Is(err, ErrSnapshotNotFound) {
					say("error %v", err)
					os.Exit(4)
				}
			}
			rep, err := r.GC(ctx, GCOptions{TreeRefs: treeRefs, SessionTimeout: killTimeout, RepackThreshold: 0.3})
			if err != nil && !errors.Is(err, ErrLocked) {
				say("error %v", err)
				os.Exit(4)
			}
			if err == nil {
				say("gc %d %d", rep.PacksDeleted, rep.PacksRepacked)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

type killLog struct {
	mu        sync.Mutex
	committed map[ID]bool
	deleting  map[ID]bool
	errs      []string
	// Packs deleted and repacked by completed GC runs in the helpers.
	gcDeleted, gcRepacked int
}

func (l *killLog) read(t *testing.T, sc *bufio.Scanner) {
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		l.mu.Lock()
		switch f[0] {
		case "committed", "deleting":
			id, err := ParseID(f[1])
			if err != nil {
				t.Errorf("helper said %q", sc.Text())
			} else if f[0] == "committed" {
				l.committed[id] = true
			} else {
				l.deleting[id] = true
			}
		case "expired":
			// A slow writer whose session GC expired: no harm.
		case "gc":
			n, _ := strconv.Atoi(f[1])
			m, _ := strconv.Atoi(f[2])
			l.gcDeleted += n
			l.gcRepacked += m
		default:
			l.errs = append(l.errs, sc.Text())
		}
		l.mu.Unlock()
	}
}

func startHelper(t *testing.T, mode, dir string, seed int, log *killLog) (*exec.Cmd, *sync.WaitGroup) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestKillHelper$", "-test.v=false")
	// A killed helper cannot remove its temporary files (the index of a
	// repository opened without a cache directory): they go under the
	// test's own temporary directory, which the test removes.
	cmd.Env = append(os.Environ(), killEnvMode+"="+mode, killEnvDir+"="+dir, killEnvSeed+"="+strconv.Itoa(seed), "TMPDIR="+t.TempDir())
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Go(func() { log.read(t, bufio.NewScanner(stdout)) })
	return cmd, &wg
}

func TestSIGKILL(t *testing.T) {
	if os.Getenv(killEnvMode) != "" {
		t.Skip("inside a helper")
	}
	kills := 20
	if testing.Short() {
		kills = 6
	}
	ctx := context.Background()
	dir := t.TempDir()
	st := openDirStore(t, dir)
	initRepo(t, st, killOpts()).Close()
	log := &killLog{committed: map[ID]bool{}, deleting: map[ID]bool{}}
	rng := rand.New(rand.NewPCG(42, 42))
	deadline := time.Now().Add(40 * time.Second)
	for k := 0; k < kills && time.Now().Before(deadline); k++ {
		// Three patterns: a writer alone; a writer and GC (whose plans then
		// wait for the writer's session); GC alone once the killed writers'
		// sessions have expired, so it completes plans — deleting packs and
		// rewriting the index — when it is killed.
		var backup, gc *exec.Cmd
		var bwg, gwg *sync.WaitGroup
		switch k % 3 {
		case 0:
			backup, bwg = startHelper(t, "backup", dir, k+1, log)
		case 1:
			backup, bwg = startHelper(t, "backup", dir, k+1, log)
			gc, gwg = startHelper(t, "gc", dir, k+1, log)
		case 2:
			time.Sleep(killTimeout + 2*killBeat)
			gc, gwg = startHelper(t, "gc", dir, k+1, log)
		}
		time.Sleep(time.Duration(150+rng.IntN(700)) * time.Millisecond)
		if gc != nil {
			gc.Process.Signal(syscall.SIGKILL)
			time.Sleep(time.Duration(rng.IntN(100)) * time.Millisecond)
		}
		if backup != nil {
			backup.Process.Signal(syscall.SIGKILL)
			backup.Wait()
			bwg.Wait()
		}
		if gc != nil {
			gc.Wait()
			gwg.Wait()
		}
		if len(log.errs) > 0 {
			t.Fatalf("helper failed on its own: %v", log.errs)
		}
		verifyKilled(t, st, log, k == kills-1)
	}
	t.Logf("%d snapshots committed across %d kills; helpers' GC deleted %d packs, repacked %d", len(log.committed), kills, log.gcDeleted, log.gcRepacked)
	if log.gcDeleted == 0 && !testing.Short() {
		t.Error("no GC run in a helper completed: the kill-during-GC part tested nothing")
	}
	if len(log.committed) < kills/2 {
		t.Fatalf("only %d snapshots committed: the helpers did not get to work", len(log.committed))
	}
	// Once the killed writers' sessions time out, GC removes all leftovers.
	time.Sleep(killTimeout + killBeat)
	r := openRepo(t, st, killOpts())
	defer r.Close()
	for i := 0; i < 3; i++ {
		rep, err := r.GC(ctx, GCOptions{TreeRefs: treeRefs, SessionTimeout: killTimeout})
		if err != nil {
			t.Fatal(err)
		}
		if !rep.Pending {
			break
		}
	}
	c := mustCheck(t, r, true)
	if !c.OK() {
		t.Fatalf("check after final GC: %v", c.Error())
	}
	for _, n := range c.Notices {
		if n.Kind == PackUnindexed || n.Kind == GCPending {
			t.Fatalf("leftovers after final GC: %v", c.Notices)
		}
	}
}

// verifyKilled opens the repository after a kill: a full check must pass and
// every snapshot — in particular every one reported committed and not being
// deleted — must restore its exact data.
func verifyKilled(t *testing.T, st blob.Store, log *killLog, full bool) {
	t.Helper()
	ctx := context.Background()
	r, err := Open(ctx, st, testKEK(t, "k1"), Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	c, err := r.Check(ctx, CheckOptions{ReadData: true, TreeRefs: treeRefs})
	if err != nil {
		t.Fatal(err)
	}
	if !c.OK() {
		t.Fatalf("check after kill: %v", c.Error())
	}
	present := map[ID]bool{}
	err = r.ListSnapshots(ctx, func(id ID, sn *Snapshot) error {
		present[id] = true
		seed, _ := strconv.Atoi(sn.Meta["seed"])
		i, _ := strconv.Atoi(sn.Meta["i"])
		verifySnapshot(t, r, id, killSnapshotData(seed, i))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	log.mu.Lock()
	defer log.mu.Unlock()
	for id := range log.committed {
		if !present[id] && !log.deleting[id] {
			t.Fatalf("snapshot %s was committed and never deleted, but is gone", id)
		}
	}
}
