package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/coffer/coffer/internal/bench"
)

// tool knows how to drive one backup program.
type tool struct {
	name    string
	repo    string
	init    bench.Command
	backup  func(n int) bench.Command
	restore func(target string) bench.Command
	// restored returns where the data set lands under a restore target.
	restored func(target string) string
}

func parseSize(s string) (int64, error) {
	s = strings.TrimSpace(strings.ToUpper(s))
	mult := int64(1)
	for _, u := range []struct {
		suf string
		m   int64
	}{{"GIB", 1 << 30}, {"MIB", 1 << 20}, {"KIB", 1 << 10}, {"G", 1 << 30}, {"M", 1 << 20}, {"K", 1 << 10}} {
		if strings.HasSuffix(s, u.suf) {
			mult, s = u.m, strings.TrimSuffix(s, u.suf)
			break
		}
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || v <= 0 {
		return 0, fmt.Errorf("bad size %q", s)
	}
	return int64(v * float64(mult)), nil
}

type benchFlags struct {
	work, toolsList, resticPath, borgPath, cofferPath string
	keep, noDrop                                      bool
}

func (b *benchFlags) register(fs *flag.FlagSet, defTools string) {
	fs.StringVar(&b.work, "work", filepath.Join(os.TempDir(), "coffer-bench"), "work directory (wiped first)")
	fs.StringVar(&b.toolsList, "tools", defTools, "comma-separated tools to run")
	fs.StringVar(&b.resticPath, "restic", "/usr/bin/restic", "restic binary")
	fs.StringVar(&b.borgPath, "borg", "/usr/bin/borg", "borg binary")
	fs.StringVar(&b.cofferPath, "coffer", "", "coffer binary (default: this binary's `repo` command)")
	fs.BoolVar(&b.keep, "keep", false, "keep the work directory")
	fs.BoolVar(&b.noDrop, "no-drop-caches", false, "do not drop the page cache before each step")
}

// makeTools prepares the tools under work.
func (b *benchFlags) makeTools(stderr io.Writer, data string) ([]*tool, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	var tools []*tool
	for _, name := range strings.Split(b.toolsList, ",") {
		name = strings.TrimSpace(name)
		switch name {
		case "coffer":
			repoDir := filepath.Join(b.work, "repo-coffer")
			bin, pre := self, []string{"repo"}
			if b.cofferPath != "" {
				bin = b.cofferPath
			}
			common := []string{"--repo", repoDir, "--keystore", filepath.Join(b.work, "coffer-keys"), "--key", "bench",
				"--cache-dir", filepath.Join(b.work, "coffer-cache")}
			c := func(args ...string) bench.Command {
				return bench.Command{Path: bin, Args: append(append(append([]string{}, pre...), args[0]), append(common, args[1:]...)...)}
			}
			tools = append(tools, &tool{
				name: "coffer", repo: repoDir,
				init:     c("init"),
				backup:   func(int) bench.Command { return c("backup", data) },
				restore:  func(t string) bench.Command { return c("restore", "latest", t) },
				restored: func(t string) string { return t },
			})
		case "restic":
			if _, err := exec.LookPath(b.resticPath); err != nil {
				fmt.Fprintf(stderr, "restic not found at %s: install it with `apt-get install restic`; skipping\n", b.resticPath)
				continue
			}
			repoDir := filepath.Join(b.work, "repo-restic")
			env := []string{"RESTIC_REPOSITORY=" + repoDir, "RESTIC_PASSWORD=coffer-bench", "RESTIC_CACHE_DIR=" + filepath.Join(b.work, "restic-cache")}
			c := func(args ...string) bench.Command { return bench.Command{Path: b.resticPath, Args: args, Env: env} }
			tools = append(tools, &tool{
				name: "restic", repo: repoDir,
				init:     c("init", "--repository-version", "2"),
				backup:   func(int) bench.Command { return c("backup", "--compression", "auto", "--host", "bench", "-q", data) },
				restore:  func(t string) bench.Command { return c("restore", "latest", "--target", t, "-q") },
				restored: func(t string) string { return filepath.Join(t, data) },
			})
		case "borg":
			if _, err := exec.LookPath(b.borgPath); err != nil {
				fmt.Fprintf(stderr, "borg not found at %s: install it with `apt-get install borgbackup`; skipping\n", b.borgPath)
				continue
			}
			repoDir := filepath.Join(b.work, "repo-borg")
			env := []string{"BORG_PASSPHRASE=coffer-bench", "BORG_BASE_DIR=" + filepath.Join(b.work, "borg-base"),
				"BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK=yes", "BORG_RELOCATED_REPO_ACCESS_IS_OK=yes"}
			c := func(dir string, args ...string) bench.Command {
				return bench.Command{Path: b.borgPath, Args: args, Env: env, Dir: dir}
			}
			tools = append(tools, &tool{
				name: "borg", repo: repoDir,
				init: c("", "init", "--encryption=repokey-blake2", repoDir),
				backup: func(n int) bench.Command {
					return c("", "create", "--compression", "auto,zstd,3", fmt.Sprintf("%s::b%d", repoDir, n), data)
				},
				restore: func(t string) bench.Command {
					os.MkdirAll(t, 0o755)
					return c(t, "extract", repoDir+"::b3")
				},
				restored: func(t string) string { return filepath.Join(t, strings.TrimPrefix(data, "/")) },
			})
		case "":
		default:
			return nil, fmt.Errorf("unknown tool %q (coffer, restic, borg)", name)
		}
	}
	return tools, nil
}

func runEngine(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("coffer-bench engine", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var bf benchFlags
	bf.register(fs, "coffer,restic,borg")
	sizeFlag := fs.String("size", "1GiB", "data set size (e.g. 64MiB for a smoke test)")
	seed := fs.Uint64("seed", 1, "data set seed")
	mutate := fs.Float64("mutate", 0.05, "fraction of the data changed before the third backup")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	size, err := parseSize(*sizeFlag)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	if err := os.RemoveAll(bf.work); err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	if err := os.MkdirAll(bf.work, 0o755); err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	if !bf.keep {
		defer os.RemoveAll(bf.work)
	}
	data := filepath.Join(bf.work, "data")
	fmt.Fprintf(stderr, "generating %s data set (seed %d) in %s\n", *sizeFlag, *seed, data)
	t0 := time.Now()
	ds, err := bench.Generate(data, *seed, size)
	if err != nil {
		fmt.Fprintln(stderr, "generate:", err)
		return 1
	}
	fmt.Fprintf(stderr, "  %d files, %.1f MiB in %.1fs\n", ds.Files, float64(ds.Bytes)/(1<<20), time.Since(t0).Seconds())
	tools, err := bf.makeTools(stderr, data)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	drop := !bf.noDrop
	res := map[string]map[string]bench.Measurement{}
	sizes := map[string][2]int64{}
	fail := func(m bench.Measurement) int {
		fmt.Fprintln(stderr, m.Err)
		return 1
	}
	step := func(name string, f func(t *tool) bench.Command) bool {
		for _, t := range tools {
			fmt.Fprintf(stderr, "%-7s %-10s ", t.name, name)
			m := bench.Run(ctx, t.name, name, f(t), drop)
			if m.Err != nil {
				fail(m)
				return false
			}
			if res[t.name] == nil {
				res[t.name] = map[string]bench.Measurement{}
			}
			res[t.name][name] = m
			fmt.Fprintf(stderr, "%8.2fs  rss %6.1f MiB  caches dropped: %v\n", m.Wall.Seconds(), float64(m.MaxRSS)/(1<<20), m.CachesDropped)
		}
		return true
	}
	if !step("init", func(t *tool) bench.Command { return t.init }) {
		return 1
	}
	if !step("backup1", func(t *tool) bench.Command { return t.backup(1) }) {
		return 1
	}
	for _, t := range tools {
		s := sizes[t.name]
		s[0] = bench.DirSize(t.repo)
		sizes[t.name] = s
	}
	if !step("backup2", func(t *tool) bench.Command { return t.backup(2) }) {
		return 1
	}
	changed, err := bench.Mutate(data, *seed, *mutate)
	if err != nil {
		fmt.Fprintln(stderr, "mutate:", err)
		return 1
	}
	fmt.Fprintf(stderr, "changed %.1f MiB (%.1f%%)\n", float64(changed)/(1<<20), 100*float64(changed)/float64(ds.Bytes))
	if !step("backup3", func(t *tool) bench.Command { return t.backup(3) }) {
		return 1
	}
	for _, t := range tools {
		s := sizes[t.name]
		s[1] = bench.DirSize(t.repo)
		sizes[t.name] = s
	}
	wantDigest, nfiles, err := bench.ContentDigest(data)
	if err != nil {
		fmt.Fprintln(stderr, "digest:", err)
		return 1
	}
	dataBytes := bench.DirSize(data)
	_ = dataBytes
	var apparent int64
	filepath.Walk(data, func(p string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() {
			apparent += fi.Size()
		}
		return nil
	})
	if !step("restore", func(t *tool) bench.Command { return t.restore(filepath.Join(bf.work, "restore-"+t.name)) }) {
		return 1
	}
	for _, t := range tools {
		got, n, err := bench.ContentDigest(t.restored(filepath.Join(bf.work, "restore-"+t.name)))
		if err != nil || got != wantDigest {
			fmt.Fprintf(stderr, "%s: restored data differs from the source (%d files vs %d, err %v)\n", t.name, n, nfiles, err)
			return 1
		}
		os.RemoveAll(filepath.Join(bf.work, "restore-"+t.name))
	}
	fmt.Fprintf(stderr, "all restores verified identical (%d files)\n", nfiles)

	// The table.
	mbps := func(tool, st string, bytes int64) float64 {
		return float64(bytes) / 1e6 / res[tool][st].Wall.Seconds()
	}
	type row struct {
		name   string
		val    func(tool string) float64
		format string
		better string // "higher" or "lower"
	}
	rows := []row{
		{"first backup (MB/s)", func(t string) float64 { return mbps(t, "backup1", ds.Bytes) }, "%.1f", "higher"},
		{"no-change re-backup (s)", func(t string) float64 { return res[t]["backup2"].Wall.Seconds() }, "%.2f", "lower"},
		{fmt.Sprintf("re-backup after %.0f%% change (s)", *mutate*100), func(t string) float64 { return res[t]["backup3"].Wall.Seconds() }, "%.2f", "lower"},
		{"full restore (MB/s)", func(t string) float64 { return mbps(t, "restore", apparent) }, "%.1f", "higher"},
		{"repository size after backup 1 (MiB)", func(t string) float64 { return float64(sizes[t][0]) / (1 << 20) }, "%.1f", "lower"},
		{"repository size after 3 backups (MiB)", func(t string) float64 { return float64(sizes[t][1]) / (1 << 20) }, "%.1f", "lower"},
		{"peak RSS, backup 1 (MiB)", func(t string) float64 { return float64(res[t]["backup1"].MaxRSS) / (1 << 20) }, "%.1f", "lower"},
		{"peak RSS, restore (MiB)", func(t string) float64 { return float64(res[t]["restore"].MaxRSS) / (1 << 20) }, "%.1f", "lower"},
	}
	var names []string
	for _, t := range tools {
		names = append(names, t.name)
	}
	has := func(n string) bool { _, ok := res[n]; return ok }
	fmt.Fprintf(stdout, "\nData set: %s generated with seed %d (%d files, %.1f MiB: small text-like files, large incompressible files, duplicates, shifted duplicates); %d CPUs; caches dropped before each step: %v.\n\n",
		*sizeFlag, *seed, ds.Files, float64(ds.Bytes)/(1<<20), runtime.NumCPU(), drop && bench.DropCaches() == nil)
	header := "| metric | " + strings.Join(names, " | ") + " |"
	sep := "|---|" + strings.Repeat("---:|", len(names))
	if has("coffer") && has("restic") {
		header += " coffer/restic |"
		sep += "---:|"
	}
	if has("coffer") && has("borg") {
		header += " coffer/borg |"
		sep += "---:|"
	}
	fmt.Fprintln(stdout, header)
	fmt.Fprintln(stdout, sep)
	for _, r := range rows {
		line := "| " + r.name + " |"
		for _, n := range names {
			line += " " + fmt.Sprintf(r.format, r.val(n)) + " |"
		}
		for _, other := range []string{"restic", "borg"} {
			if has("coffer") && has(other) {
				line += fmt.Sprintf(" %.2f |", r.val("coffer")/r.val(other))
			}
		}
		fmt.Fprintln(stdout, line)
	}
	fmt.Fprintln(stdout, "\nRatios are coffer's value divided by the other tool's: above 1 is better for MB/s, below 1 is better for seconds, MiB and RSS.")
	fmt.Fprintln(stdout, "Compression: coffer `auto` (zstd default level, incompressible data skipped), restic `--compression auto` (the same policy), borg `auto,zstd,3` (zstd level 3 after an lz4 compressibility probe, borg's equivalent of skipping incompressible data).")
	if errors.Is(ctx.Err(), context.Canceled) {
		return 1
	}
	return 0
}

// runGen writes the engine benchmark's data set to a directory, for
// profiling one tool by hand.
func runGen(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("coffer-bench gen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	sizeFlag := fs.String("size", "1GiB", "data set size")
	seed := fs.Uint64("seed", 1, "data set seed")
	if err := fs.Parse(args); err != nil || fs.NArg() != 1 {
		fmt.Fprintln(stderr, "usage: coffer-bench gen [--size S] [--seed N] DIR")
		return 2
	}
	size, err := parseSize(*sizeFlag)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	ds, err := bench.Generate(fs.Arg(0), *seed, size)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	fmt.Fprintf(stdout, "%d files, %d bytes in %s\n", ds.Files, ds.Bytes, ds.Dir)
	return 0
}
