package repocli

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/coffer/coffer/internal/archive"
	"github.com/coffer/coffer/internal/archive/repoadapt"
	"github.com/coffer/coffer/internal/archive/tree"
	"github.com/coffer/coffer/internal/blob"
	"github.com/coffer/coffer/internal/blob/localfs"
	"github.com/coffer/coffer/internal/blob/s3"
	"github.com/coffer/coffer/internal/repo"
)

const usage = `usage: coffer repo <command> [flags] [args]

commands:
  init                          create a repository
  backup PATH                   back up a directory tree
  backup --stdin NAME           back up a stream read from standard input
  backup --volume FILE          back up a volume image or block device
  snapshots                     list snapshots (recovery points) with their metadata
  ls SNAPSHOT [PATH]            list a directory of a snapshot
  restore SNAPSHOT TARGET       restore a snapshot (--include PATH, repeatable);
                                stream snapshots restore to a file, or "-" for stdout
  verify [--read-data]          check the repository (--read-data reads every pack)
  gc                            delete unreferenced data
  stats                         repository statistics
  forget SNAPSHOT...            delete snapshots (run gc to free their data)
  copy SNAPSHOT --to-repo DIR   copy a snapshot into another repository (other key)
  keys                          list the key-encryption keys that open the repository
  add-key --new-key NAME        let another key open it too ([--new-keystore DIR] or
                                --new-key-file FILE; a missing NAME is created)
  remove-key NAME               stop a key from opening it (never the last one)

location and key flags (every command):
  --repo DIR | --s3-endpoint HOST --s3-bucket B [--s3-prefix P] [--s3-region R]
      [--s3-access-key K --s3-secret-key S] [--s3-insecure] [--s3-path-style]
  --keystore DIR --key NAME | --key-file FILE
  --cache-dir DIR   local index cache       --json   machine-readable output
  -v                log to stderr
`

type env struct {
	ctx            context.Context
	stdin          io.Reader
	stdout, stderr io.Writer
	log            *slog.Logger
	json           bool
}

// location holds the flags that name a repository and its key.
type location struct {
	dir                                          string
	s3Endpoint, s3Bucket, s3Prefix, s3Region     string
	s3AccessKey, s3SecretKey                     string
	s3Insecure, s3PathStyle, s3SkipTLS, s3Create bool
	keystore, key, keyFile                       string
	cacheDir                                     string
	packSize, uploads                            int
}

func (l *location) register(fs *flag.FlagSet, prefix string, envPrefix bool) {
	get := func(k, def string) string {
		if envPrefix {
			if v := os.Getenv(k); v != "" {
				return v
			}
		}
		return def
	}
	fs.StringVar(&l.dir, prefix+"repo", get("COFFER_REPO", ""), "repository directory")
	fs.StringVar(&l.s3Endpoint, prefix+"s3-endpoint", get("COFFER_S3_ENDPOINT", ""), "S3 endpoint host:port or URL")
	fs.StringVar(&l.s3Bucket, prefix+"s3-bucket", get("COFFER_S3_BUCKET", ""), "S3 bucket")
	fs.StringVar(&l.s3Prefix, prefix+"s3-prefix", get("COFFER_S3_PREFIX", ""), "S3 key prefix")
	fs.StringVar(&l.s3Region, prefix+"s3-region", get("COFFER_S3_REGION", ""), "S3 region")
	fs.StringVar(&l.s3AccessKey, prefix+"s3-access-key", get("AWS_ACCESS_KEY_ID", ""), "S3 access key")
	fs.StringVar(&l.s3SecretKey, prefix+"s3-secret-key", get("AWS_SECRET_ACCESS_KEY", ""), "S3 secret key")
	fs.BoolVar(&l.s3Insecure, prefix+"s3-insecure", false, "plain HTTP to the S3 endpoint")
	fs.BoolVar(&l.s3PathStyle, prefix+"s3-path-style", false, "path-style S3 requests")
	fs.BoolVar(&l.s3SkipTLS, prefix+"s3-skip-tls-verify", false, "accept any TLS certificate")
	fs.BoolVar(&l.s3Create, prefix+"s3-create-bucket", false, "create the bucket if missing (init)")
	fs.StringVar(&l.keystore, prefix+"keystore", get("COFFER_KEYSTORE", ""), "key store directory")
	fs.StringVar(&l.key, prefix+"key", get("COFFER_KEY", "default"), "key name in the key store")
	fs.StringVar(&l.keyFile, prefix+"key-file", get("COFFER_KEY_FILE", ""), "key file (a key store file)")
	fs.StringVar(&l.cacheDir, prefix+"cache-dir", get("COFFER_CACHE_DIR", ""), "local index cache directory")
	if prefix == "" {
		fs.IntVar(&l.packSize, "pack-size", 0, "target pack size in bytes (default: the engine's, 32 MiB)")
		fs.IntVar(&l.uploads, "uploads", 0, "packs uploaded concurrently (default: the engine's, 2); memory ≈ (uploads+1) × pack size")
	}
}

func (l *location) set() bool { return l.dir != "" || l.s3Endpoint != "" }

func (l *location) store(ctx context.Context, create bool, log *slog.Logger) (blob.Store, error) {
	switch {
	case l.dir != "" && l.s3Endpoint != "":
		return nil, errors.New("give either a repository directory or S3 flags, not both")
	case l.dir != "":
		return localfs.New(ctx, localfs.Options{Root: l.dir, Create: create})
	case l.s3Endpoint != "":
		return s3.New(ctx, s3.Options{
			Endpoint: l.s3Endpoint, Insecure: l.s3Insecure, SkipTLSVerify: l.s3SkipTLS, Bucket: l.s3Bucket,
			Prefix: l.s3Prefix, Region: l.s3Region, AccessKey: l.s3AccessKey, SecretKey: s3.Secret(l.s3SecretKey),
			PathStyle: l.s3PathStyle, CreateBucket: create && l.s3Create, Logger: log,
		})
	}
	return nil, errors.New("no repository location: give --repo DIR or --s3-endpoint and --s3-bucket (or COFFER_REPO)")
}

// kek returns the key-encryption key; create makes a missing named key.
func (l *location) kek(create bool) (repo.KEK, error) {
	if l.keyFile != "" {
		b, err := os.ReadFile(l.keyFile)
		if err != nil {
			return repo.KEK{}, fmt.Errorf("key file: %w", err)
		}
		var f struct {
			Name string `json:"name"`
			Key  string `json:"key"`
		}
		if err := json.Unmarshal(b, &f); err != nil || f.Key == "" {
			return repo.KEK{}, fmt.Errorf("key file %s: not a key store file", l.keyFile)
		}
		raw, err := base64.StdEncoding.DecodeString(f.Key)
		if err != nil {
			return repo.KEK{}, fmt.Errorf("key file %s: %w", l.keyFile, err)
		}
		return repo.NewKEK(f.Name, raw)
	}
	if l.keystore == "" {
		return repo.KEK{}, errors.New("no key: give --keystore DIR (and --key NAME) or --key-file FILE (or COFFER_KEYSTORE)")
	}
	ks, err := repo.OpenKeystore(l.keystore)
	if err != nil {
		return repo.KEK{}, err
	}
	if create {
		return ks.GetOrCreate(l.key)
	}
	return ks.Get(l.key)
}

func (l *location) options(log *slog.Logger) repo.Options {
	return repo.Options{Logger: log, CacheDir: l.cacheDir, PackSize: l.packSize, Uploads: l.uploads}
}

// open opens the repository.
func (l *location) open(e *env, readOnly bool) (*repo.Repository, error) {
	st, err := l.store(e.ctx, false, e.log)
	if err != nil {
		return nil, err
	}
	kek, err := l.kek(false)
	if err != nil {
		st.Close()
		return nil, err
	}
	opts := l.options(e.log)
	opts.ReadOnly = readOnly
	r, err := repo.Open(e.ctx, st, kek, opts)
	if err != nil {
		st.Close()
		return nil, err
	}
	return r, nil
}

// Main runs `coffer repo` with args (without "repo") and returns the exit
// status.
func Main(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stderr, usage)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	// The heap is mostly large pointer-free buffers (chunks, packs), which
	// are cheap to collect: collect often to keep the peak RSS near the
	// live data instead of twice it. At 10 rather than 25, a cold first
	// backup of the engine data set peaked at 111-114 MiB instead of
	// 120-126 for 0.5-5% more time (three alternating rounds). A restore,
	// whose live data is small (~40 MiB for the engine data set), collects
	// at Go's default: at 25 its CPU time was 10-15% higher, at 100 its
	// peak RSS is ~75 MiB, two thirds of restic's. GOGC in the environment
	// wins.
	if os.Getenv("GOGC") == "" {
		if args[0] == "restore" {
			debug.SetGCPercent(100)
		} else {
			debug.SetGCPercent(10)
		}
	}
	cmds := map[string]func(*env, *flag.FlagSet, *location, []string) error{
		"init": cmdInit, "backup": cmdBackup, "snapshots": cmdSnapshots, "ls": cmdLs,
		"restore": cmdRestore, "verify": cmdVerify, "gc": cmdGC, "stats": cmdStats,
		"forget": cmdForget, "copy": cmdCopy, "keys": cmdKeys, "add-key": cmdAddKey, "remove-key": cmdRemoveKey,
	}
	name := args[0]
	run, ok := cmds[name]
	if !ok {
		fmt.Fprintf(stderr, "coffer repo: unknown command %q\n\n%s", name, usage)
		return 2
	}
	fs := flag.NewFlagSet("coffer repo "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	loc := &location{}
	loc.register(fs, "", true)
	e := &env{ctx: ctx, stdin: stdin, stdout: stdout, stderr: stderr}
	fs.BoolVar(&e.json, "json", false, "JSON output")
	verbose := fs.Bool("v", false, "log to stderr")
	// Commands register their own flags through the same FlagSet; parse is
	// done by each command with parseArgs so flags may follow arguments.
	e.log = slog.New(slog.DiscardHandler)
	err := run(e, fs, loc, args[1:])
	_ = verbose
	if err != nil {
		var ue usageError
		if errors.As(err, &ue) {
			if ue.msg != "" {
				fmt.Fprintf(stderr, "coffer repo %s: %s\n", name, ue.msg)
			}
			return 2
		}
		var we warningsError
		if errors.As(err, &we) {
			return 3
		}
		fmt.Fprintf(stderr, "coffer repo %s: %v\n", name, err)
		return 1
	}
	return 0
}

type usageError struct{ msg string }

func (u usageError) Error() string { return u.msg }

type warningsError struct{ n int }

func (w warningsError) Error() string { return fmt.Sprintf("%d warnings", w.n) }

// parseArgs parses flags anywhere among the arguments and returns the
// positional ones.
func parseArgs(e *env, fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, usageError{}
			}
			return nil, usageError{err.Error()}
		}
		args = fs.Args()
		if len(args) == 0 {
			break
		}
		if args[0] == "--" {
			pos = append(pos, args[1:]...)
			break
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
	if v := fs.Lookup("v"); v != nil && v.Value.String() == "true" {
		e.log = slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	return pos, nil
}

// out prints v as indented JSON with --json or when text is nil (reports
// whose text form is their JSON), else with text.
func (e *env) out(v any, text func(w io.Writer)) {
	if e.json || text == nil {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(v)
		return
	}
	text(e.stdout)
}

type kvFlag map[string]string

func (k kvFlag) String() string { return "" }
func (k kvFlag) Set(s string) error {
	key, v, ok := strings.Cut(s, "=")
	if !ok || key == "" {
		return fmt.Errorf("want KEY=VALUE, got %q", s)
	}
	k[key] = v
	return nil
}

type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(s string) error { *l = append(*l, s); return nil }

func cmdInit(e *env, fs *flag.FlagSet, loc *location, args []string) error {
	compression := fs.String("compression", "auto", "compression: auto, fastest, max, off")
	if _, err := parseArgs(e, fs, args); err != nil {
		return err
	}
	st, err := loc.store(e.ctx, true, e.log)
	if err != nil {
		return err
	}
	defer st.Close()
	kek, err := loc.kek(true)
	if err != nil {
		return err
	}
	opts := loc.options(e.log)
	opts.Compression = *compression
	r, err := repo.Init(e.ctx, st, kek, opts)
	if err != nil {
		return err
	}
	defer r.Close()
	e.out(map[string]string{"repo_id": r.RepoID(), "location": r.Location(), "key": kek.Name()}, func(w io.Writer) {
		fmt.Fprintf(w, "created repository %s at %s (key %q)\n", r.RepoID(), r.Location(), kek.Name())
	})
	return nil
}

// snapEntry is one snapshot for listing and lookup.
type snapEntry struct {
	ID archive.ID
	S  *archive.Snapshot
}

func listSnaps(ctx context.Context, a archive.Repo) ([]snapEntry, error) {
	var out []snapEntry
	err := a.ListSnapshots(ctx, func(id archive.ID, s *archive.Snapshot) error {
		out = append(out, snapEntry{id, s})
		return nil
	})
	sort.Slice(out, func(i, j int) bool {
		if !out[i].S.Time.Equal(out[j].S.Time) {
			return out[i].S.Time.Before(out[j].S.Time)
		}
		return out[i].ID.String() < out[j].ID.String()
	})
	return out, err
}

// findSnap resolves "latest", a full ID or a unique prefix. path, if set,
// restricts "latest" to snapshots of that path.
func findSnap(ctx context.Context, a archive.Repo, ref, path string) (archive.ID, *archive.Snapshot, error) {
	snaps, err := listSnaps(ctx, a)
	if err != nil {
		return archive.ID{}, nil, err
	}
	if ref == "latest" {
		for i := len(snaps) - 1; i >= 0; i-- {
			if path == "" || len(snaps[i].S.Paths) > 0 && snaps[i].S.Paths[0] == path {
				return snaps[i].ID, snaps[i].S, nil
			}
		}
		return archive.ID{}, nil, fmt.Errorf("no snapshot%s: %w", map[bool]string{true: " of " + path}[path != ""], archive.ErrSnapshotNotFound)
	}
	ref = strings.ToLower(ref)
	if _, err := hex.DecodeString(ref + strings.Repeat("0", len(ref)%2)); err != nil || ref == "" {
		return archive.ID{}, nil, usageError{fmt.Sprintf("snapshot %q: want an ID, a hex prefix or \"latest\"", ref)}
	}
	var found []snapEntry
	for _, s := range snaps {
		if strings.HasPrefix(s.ID.String(), ref) {
			found = append(found, s)
		}
	}
	switch len(found) {
	case 0:
		return archive.ID{}, nil, fmt.Errorf("snapshot %s: %w", ref, archive.ErrSnapshotNotFound)
	case 1:
		return found[0].ID, found[0].S, nil
	}
	return archive.ID{}, nil, fmt.Errorf("snapshot prefix %s is ambiguous (%d matches)", ref, len(found))
}

type progressPrinter struct {
	w     io.Writer
	start time.Time
}

func (p *progressPrinter) backup(pr archive.Progress) {
	el := time.Since(p.start).Seconds()
	if pr.FilesTotal == 0 && pr.BytesTotal == 0 { // a stream
		fmt.Fprintf(p.w, "[%5.1fs] read %s, new %s\n", el, human(pr.BytesRead), human(pr.BytesNew))
		return
	}
	fmt.Fprintf(p.w, "[%5.1fs] %d/%d files, %s/%s, read %s, new %s\n", el, pr.FilesDone, pr.FilesTotal,
		human(pr.BytesDone), human(pr.BytesTotal), human(pr.BytesRead), human(pr.BytesNew))
}

func human(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

func cmdBackup(e *env, fs *flag.FlagSet, loc *location, args []string) error {
	stdinName := fs.String("stdin", "", "back up standard input as a stream with this name")
	volume := fs.String("volume", "", "back up this volume image or block device")
	parent := fs.String("parent", "auto", `parent snapshot: an ID, "auto" (latest of the same path) or "none"`)
	host := fs.String("host", "", "hostname to record (default: this host)")
	skip := fs.Bool("skip-unreadable", false, "skip unreadable files with a warning instead of failing")
	progress := fs.Bool("progress", false, "print progress to stderr")
	concurrency := fs.Int("concurrency", 0, "files read at once (default 2×CPUs)")
	tags, meta := kvFlag{}, kvFlag{}
	fs.Var(tags, "tag", "KEY=VALUE tag (repeatable)")
	fs.Var(meta, "meta", "KEY=VALUE metadata (repeatable)")
	pos, err := parseArgs(e, fs, args)
	if err != nil {
		return err
	}
	modes := 0
	if *stdinName != "" {
		modes++
	}
	if *volume != "" {
		modes++
	}
	if len(pos) == 1 {
		modes++
	}
	if modes != 1 || len(pos) > 1 {
		return usageError{"give exactly one of PATH, --stdin NAME or --volume FILE"}
	}
	if *host == "" {
		*host, _ = os.Hostname()
	}
	r, err := loc.open(e, false)
	if err != nil {
		return err
	}
	defer r.Close()
	a := repoadapt.New(r)
	var src string
	switch {
	case *volume != "":
		src, _ = filepath.Abs(*volume)
	case *stdinName != "":
		src = "stdin:" + *stdinName
	default:
		src, _ = filepath.Abs(pos[0])
	}
	var parentID *archive.ID
	switch *parent {
	case "none", "":
	case "auto":
		if id, _, err := findSnap(e.ctx, a, "latest", src); err == nil {
			parentID = &id
		}
	default:
		id, _, err := findSnap(e.ctx, a, *parent, "")
		if err != nil {
			return err
		}
		parentID = &id
	}
	pp := &progressPrinter{w: e.stderr, start: time.Now()}
	var prog func(archive.Progress)
	if *progress {
		prog = pp.backup
	}
	start := time.Now()
	var res *archive.Result
	switch {
	case *volume != "":
		res, err = archive.BackupVolume(e.ctx, a, src, archive.StreamOptions{Parent: parentID, Hostname: *host,
			Tags: tags, Meta: meta, Progress: prog, Logger: e.log})
	case *stdinName != "":
		res, err = archive.BackupStream(e.ctx, a, e.stdin, *stdinName, archive.StreamOptions{Hostname: *host,
			Paths: []string{src}, Tags: tags, Meta: meta, Progress: prog, Logger: e.log})
	default:
		res, err = archive.BackupDir(e.ctx, a, src, archive.Options{Parent: parentID, Hostname: *host, Tags: tags,
			Meta: meta, SkipUnreadable: *skip, Progress: prog, Logger: e.log, Concurrency: *concurrency})
	}
	if err != nil {
		return err
	}
	el := time.Since(start)
	type out struct {
		ID       string            `json:"id"`
		Parent   string            `json:"parent,omitempty"`
		Seconds  float64           `json:"seconds"`
		Stats    archive.Stats     `json:"stats"`
		Warnings []archive.Warning `json:"warnings"`
	}
	o := out{ID: res.ID.String(), Seconds: el.Seconds(), Stats: res.Stats, Warnings: res.Warnings}
	if parentID != nil {
		o.Parent = parentID.String()
	}
	e.out(o, func(w io.Writer) {
		s := res.Stats
		fmt.Fprintf(w, "snapshot %s saved in %.2fs\n", res.ID, el.Seconds())
		if parentID != nil {
			fmt.Fprintf(w, "  parent %s\n", parentID.Short())
		}
		if res.Snapshot.Kind == archive.KindStream {
			fmt.Fprintf(w, "  stream of %s; read %s, added %s (%.1f MB/s)\n", human(s.Size), human(s.BytesRead),
				human(s.BytesNew), float64(s.BytesRead)/1e6/el.Seconds())
			for _, wn := range res.Warnings {
				fmt.Fprintf(w, "  warning: %s\n", wn)
			}
			return
		}
		fmt.Fprintf(w, "  %d files (%d new, %d changed, %d unchanged), %d dirs, %s; read %s, added %s (%.1f MB/s)\n",
			s.Files, s.FilesNew, s.FilesChanged, s.FilesUnchanged, s.Dirs, human(s.Size), human(s.BytesRead),
			human(s.BytesNew), float64(s.BytesRead)/1e6/el.Seconds())
		for _, wn := range res.Warnings {
			fmt.Fprintf(w, "  warning: %s\n", wn)
		}
	})
	if len(res.Warnings) > 0 {
		return warningsError{len(res.Warnings)}
	}
	return nil
}

func cmdSnapshots(e *env, fs *flag.FlagSet, loc *location, args []string) error {
	if _, err := parseArgs(e, fs, args); err != nil {
		return err
	}
	r, err := loc.open(e, true)
	if err != nil {
		return err
	}
	defer r.Close()
	snaps, err := listSnaps(e.ctx, repoadapt.New(r))
	if err != nil {
		return err
	}
	type js struct {
		ID string `json:"id"`
		*archive.Snapshot
	}
	var out []js
	for _, s := range snaps {
		out = append(out, js{s.ID.String(), s.S})
	}
	e.out(out, func(w io.Writer) {
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tTIME\tKIND\tHOST\tFILES\tSIZE\tPATHS\tMETA")
		for _, s := range snaps {
			var meta []string
			for k, v := range s.S.Meta {
				meta = append(meta, k+"="+v)
			}
			sort.Strings(meta)
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\n", s.ID.Short(), s.S.Time.UTC().Format(time.RFC3339),
				s.S.Kind, s.S.Hostname, s.S.Files, human(s.S.Size), strings.Join(s.S.Paths, ","), strings.Join(meta, " "))
		}
		tw.Flush()
		fmt.Fprintf(w, "%d snapshots\n", len(snaps))
	})
	return nil
}

func cmdLs(e *env, fs *flag.FlagSet, loc *location, args []string) error {
	pos, err := parseArgs(e, fs, args)
	if err != nil {
		return err
	}
	if len(pos) < 1 || len(pos) > 2 {
		return usageError{"usage: ls SNAPSHOT [PATH]"}
	}
	r, err := loc.open(e, true)
	if err != nil {
		return err
	}
	defer r.Close()
	a := repoadapt.New(r)
	_, snap, err := findSnap(e.ctx, a, pos[0], "")
	if err != nil {
		return err
	}
	id := snap.Root
	if len(pos) == 2 && pos[1] != "" && pos[1] != "/" {
		n, err := archive.ResolvePath(e.ctx, a, snap.Root, strings.TrimPrefix(pos[1], "/"))
		if err != nil {
			return err
		}
		if n.Type != tree.Dir {
			e.out([]tree.Node{*n}, func(w io.Writer) { printNodes(w, []tree.Node{*n}) })
			return nil
		}
		id = n.Subtree
	}
	data, err := a.LoadBlob(e.ctx, tree.TreeBlob, id, nil)
	if err != nil {
		return err
	}
	t, err := tree.Decode(data)
	if err != nil {
		return err
	}
	e.out(t.Nodes, func(w io.Writer) { printNodes(w, t.Nodes) })
	return nil
}

func printNodes(w io.Writer, nodes []tree.Node) {
	tw := tabwriter.NewWriter(w, 0, 0, 1, ' ', 0)
	for _, n := range nodes {
		extra := ""
		if n.Type == tree.Symlink || n.Type == tree.Hardlink {
			extra = " -> " + n.Target
		}
		fmt.Fprintf(tw, "%s\t%04o\t%d:%d\t%d\t%s\t%q%s\n", n.Type, n.Mode, n.UID, n.GID, n.Size,
			time.Unix(0, n.Mtime).UTC().Format(time.RFC3339), n.Name, extra)
	}
	tw.Flush()
}

func cmdRestore(e *env, fs *flag.FlagSet, loc *location, args []string) error {
	var includes listFlag
	fs.Var(&includes, "include", "path to restore (repeatable); default everything")
	overwrite := fs.Bool("overwrite", false, "replace existing files")
	noOwners := fs.Bool("no-owners", false, "do not restore owners")
	rootMeta := fs.Bool("root-meta", false, "give TARGET the backed-up root directory's mode, owner and mtime")
	pos, err := parseArgs(e, fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 2 {
		return usageError{"usage: restore SNAPSHOT TARGET [--include PATH]..."}
	}
	r, err := loc.open(e, true)
	if err != nil {
		return err
	}
	defer r.Close()
	a := repoadapt.New(r)
	id, snap, err := findSnap(e.ctx, a, pos[0], "")
	if err != nil {
		return err
	}
	start := time.Now()
	target := pos[1]
	if snap.Kind == archive.KindStream {
		if len(includes) > 0 {
			return usageError{"--include applies to tree snapshots only"}
		}
		var n int64
		if target == "-" {
			_, err = archive.RestoreStream(e.ctx, a, id, e.stdout)
			return err
		}
		st, err := archive.RestoreVolume(e.ctx, a, id, target, archive.RestoreOptions{Overwrite: *overwrite, NoOwners: *noOwners, Logger: e.log})
		if err != nil {
			return err
		}
		n = st.Size
		el := time.Since(start)
		e.out(map[string]any{"id": id.String(), "bytes": n, "seconds": el.Seconds()}, func(w io.Writer) {
			fmt.Fprintf(w, "restored stream %s to %s: %s in %.2fs (%.1f MB/s)\n", id.Short(), target, human(n), el.Seconds(), float64(n)/1e6/el.Seconds())
		})
		return nil
	}
	for i, p := range includes {
		includes[i] = strings.TrimPrefix(p, "/")
	}
	st, err := archive.Restore(e.ctx, a, id, target, archive.RestoreOptions{Include: includes, Overwrite: *overwrite,
		NoOwners: *noOwners, RootMeta: *rootMeta, Logger: e.log})
	if err != nil {
		return err
	}
	el := time.Since(start)
	e.out(map[string]any{"id": id.String(), "stats": st, "seconds": el.Seconds()}, func(w io.Writer) {
		fmt.Fprintf(w, "restored snapshot %s to %s in %.2fs: %d files, %d dirs, %d symlinks, %d hard links, %s (%.1f MB/s)\n",
			id.Short(), target, el.Seconds(), st.Files, st.Dirs, st.Symlinks, st.Hardlinks, human(st.Size), float64(st.Size)/1e6/el.Seconds())
	})
	return nil
}

func cmdVerify(e *env, fs *flag.FlagSet, loc *location, args []string) error {
	readData := fs.Bool("read-data", false, "read, authenticate and hash every pack")
	if _, err := parseArgs(e, fs, args); err != nil {
		return err
	}
	r, err := loc.open(e, true)
	if err != nil {
		return err
	}
	defer r.Close()
	rep, err := r.Check(e.ctx, repo.CheckOptions{ReadData: *readData, TreeRefs: repoadapt.TreeRefs})
	if err != nil {
		return err
	}
	e.out(rep, func(w io.Writer) {
		fmt.Fprintf(w, "checked %d snapshots, %d packs, %d blobs", rep.Snapshots, rep.Packs, rep.Blobs)
		if *readData {
			fmt.Fprintf(w, ", read %s", human(rep.BytesRead))
		}
		fmt.Fprintln(w)
		for _, p := range rep.Problems {
			fmt.Fprintf(w, "  damaged: %s\n", p)
		}
		if rep.Dropped > 0 {
			fmt.Fprintf(w, "  ... and %d more problems\n", rep.Dropped)
		}
		for _, p := range rep.Notices {
			fmt.Fprintf(w, "  notice: %s\n", p)
		}
		if rep.OK() {
			fmt.Fprintln(w, "no damage found")
		}
	})
	if err := rep.Error(); err != nil {
		return err
	}
	return nil
}

func cmdGC(e *env, fs *flag.FlagSet, loc *location, args []string) error {
	if _, err := parseArgs(e, fs, args); err != nil {
		return err
	}
	r, err := loc.open(e, false)
	if err != nil {
		return err
	}
	defer r.Close()
	rep, err := r.GC(e.ctx, repo.GCOptions{TreeRefs: repoadapt.TreeRefs})
	if err != nil {
		return err
	}
	e.out(rep, nil)
	return nil
}

func cmdStats(e *env, fs *flag.FlagSet, loc *location, args []string) error {
	if _, err := parseArgs(e, fs, args); err != nil {
		return err
	}
	r, err := loc.open(e, true)
	if err != nil {
		return err
	}
	defer r.Close()
	st, err := r.Stats(e.ctx)
	if err != nil {
		return err
	}
	e.out(st, nil)
	return nil
}

func cmdForget(e *env, fs *flag.FlagSet, loc *location, args []string) error {
	pos, err := parseArgs(e, fs, args)
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		return usageError{"usage: forget SNAPSHOT..."}
	}
	r, err := loc.open(e, false)
	if err != nil {
		return err
	}
	defer r.Close()
	a := repoadapt.New(r)
	for _, p := range pos {
		id, _, err := findSnap(e.ctx, a, p, "")
		if err != nil {
			return err
		}
		if err := r.DeleteSnapshot(e.ctx, repo.ID(id)); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "removed snapshot %s\n", id)
	}
	return nil
}

func cmdCopy(e *env, fs *flag.FlagSet, loc *location, args []string) error {
	to := &location{}
	to.register(fs, "to-", false)
	initDst := fs.Bool("init", false, "create the destination repository if it does not exist")
	full := fs.Bool("full", false, "ignore earlier translation maps (read everything)")
	meta := kvFlag{}
	fs.Var(meta, "meta", "KEY=VALUE metadata added to the copy (repeatable)")
	pos, err := parseArgs(e, fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageError{"usage: copy SNAPSHOT --to-repo DIR --to-keystore DIR --to-key NAME"}
	}
	if !to.set() {
		return usageError{"no destination: give --to-repo DIR or --to-s3-endpoint and --to-s3-bucket"}
	}
	src, err := loc.open(e, true)
	if err != nil {
		return fmt.Errorf("source: %w", err)
	}
	defer src.Close()
	sa := repoadapt.New(src)
	id, _, err := findSnap(e.ctx, sa, pos[0], "")
	if err != nil {
		return err
	}
	dst, err := openOrInit(e, to, *initDst, src)
	if err != nil {
		return fmt.Errorf("destination: %w", err)
	}
	defer dst.Close()
	start := time.Now()
	newID, st, err := archive.CopySnapshot(e.ctx, sa, repoadapt.New(dst), id, archive.CopyOptions{Meta: meta, Full: *full, Logger: e.log})
	if err != nil {
		return err
	}
	el := time.Since(start)
	e.out(map[string]any{"source": id.String(), "id": newID.String(), "stats": st, "seconds": el.Seconds()}, func(w io.Writer) {
		fmt.Fprintf(w, "copied snapshot %s to %s as %s in %.2fs: %d blobs copied (%s), %d already there, %d mapped, %d subtrees mapped\n",
			id.Short(), dst.Location(), newID, el.Seconds(), st.BlobsCopied, human(st.BytesCopied), st.BlobsKnown, st.BlobsMapped, st.TreesMapped)
	})
	return nil
}

// openOrInit opens the copy destination, creating it (with the source's
// chunker parameters, so that later direct backups dedup against copies)
// when asked.
func openOrInit(e *env, to *location, create bool, src *repo.Repository) (*repo.Repository, error) {
	st, err := to.store(e.ctx, create, e.log)
	if err != nil {
		return nil, err
	}
	kek, err := to.kek(create)
	if err != nil {
		st.Close()
		return nil, err
	}
	r, err := repo.Open(e.ctx, st, kek, to.options(e.log))
	if errors.Is(err, repo.ErrNotRepository) && create {
		opts := to.options(e.log)
		p := src.ChunkerParams()
		opts.ChunkerParams = &p
		r, err = repo.Init(e.ctx, st, kek, opts)
	}
	if err != nil {
		st.Close()
		return nil, err
	}
	return r, nil
}

func cmdKeys(e *env, fs *flag.FlagSet, loc *location, args []string) error {
	if _, err := parseArgs(e, fs, args); err != nil {
		return err
	}
	r, err := loc.open(e, true)
	if err != nil {
		return err
	}
	defer r.Close()
	keys, err := r.Keys(e.ctx)
	if err != nil {
		return err
	}
	e.out(keys, func(w io.Writer) {
		for _, k := range keys {
			fmt.Fprintf(w, "%s  %s  %s\n", k.Created.UTC().Format(time.RFC3339), k.Object, k.KEKName)
		}
	})
	return nil
}

func cmdAddKey(e *env, fs *flag.FlagSet, loc *location, args []string) error {
	nk := &location{}
	fs.StringVar(&nk.key, "new-key", "", "name of the key to add (created in the key store if missing)")
	fs.StringVar(&nk.keystore, "new-keystore", "", "key store of the new key (default: --keystore)")
	fs.StringVar(&nk.keyFile, "new-key-file", "", "the new key as a key file (instead of --new-key)")
	pos, err := parseArgs(e, fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 || (nk.key == "") == (nk.keyFile == "") {
		return usageError{"usage: add-key --new-key NAME [--new-keystore DIR] | --new-key-file FILE"}
	}
	if nk.keystore == "" {
		nk.keystore = loc.keystore
	}
	kek, err := nk.kek(true)
	if err != nil {
		return fmt.Errorf("new key: %w", err)
	}
	r, err := loc.open(e, false)
	if err != nil {
		return err
	}
	defer r.Close()
	if err := r.AddKey(e.ctx, kek); err != nil {
		return err
	}
	e.out(map[string]string{"added": kek.Name()}, func(w io.Writer) {
		fmt.Fprintf(w, "key %q now opens the repository\n", kek.Name())
	})
	return nil
}

func cmdRemoveKey(e *env, fs *flag.FlagSet, loc *location, args []string) error {
	pos, err := parseArgs(e, fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageError{"usage: remove-key NAME (see `keys`)"}
	}
	r, err := loc.open(e, false)
	if err != nil {
		return err
	}
	defer r.Close()
	n, err := r.RemoveKey(e.ctx, pos[0])
	if err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("key %q does not open this repository (see `keys`)", pos[0])
	}
	e.out(map[string]any{"removed": pos[0], "objects": n}, func(w io.Writer) {
		fmt.Fprintf(w, "key %q no longer opens the repository\n", pos[0])
	})
	return nil
}
