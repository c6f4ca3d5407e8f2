package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"

	"github.com/coffer/coffer/internal/bench"
)

func runTree100k(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("coffer-bench tree100k", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var bf benchFlags
	bf.register(fs, "coffer")
	files := fs.Int("files", 100000, "number of files")
	seed := fs.Uint64("seed", 1, "seed")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	os.RemoveAll(bf.work)
	if err := os.MkdirAll(bf.work, 0o755); err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	if !bf.keep {
		defer os.RemoveAll(bf.work)
	}
	data := filepath.Join(bf.work, "data")
	fmt.Fprintf(stderr, "generating %d files in %s\n", *files, data)
	if err := bench.ManyFiles(data, *seed, *files); err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	tools, err := bf.makeTools(stderr, data)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	last := *files - 1
	one := fmt.Sprintf("d%03d/s%02d/file-%06d.txt", last/1000, last/100%10, last)
	fmt.Fprintf(stdout, "\n%d-file tree (%d CPUs):\n\n| tool | first backup (s) | no-change backup (s) | one-file restore (s) |\n|---|---:|---:|---:|\n", *files, numCPU())
	for _, t := range tools {
		if m := bench.Run(ctx, t.name, "init", t.init, false); m.Err != nil {
			fmt.Fprintln(stderr, m.Err)
			return 1
		}
		first := bench.Run(ctx, t.name, "backup1", t.backup(1), false)
		if first.Err != nil {
			fmt.Fprintln(stderr, first.Err)
			return 1
		}
		m2 := bench.Run(ctx, t.name, "backup2", t.backup(2), false)
		if m2.Err != nil {
			fmt.Fprintln(stderr, m2.Err)
			return 1
		}
		target := filepath.Join(bf.work, "restore-"+t.name)
		var rc bench.Command
		switch t.name {
		case "coffer":
			rc = t.restore(target)
			rc.Args = append(rc.Args, "--include", one)
		case "restic":
			rc = t.restore(target)
			rc.Args = append(rc.Args, "--include", filepath.Join(data, one))
		case "borg":
			rc = t.restore(target)
			rc.Args[len(rc.Args)-1] = t.repo + "::b2"
			rc.Args = append(rc.Args, filepath.Join(data, one)[1:])
		}
		m3 := bench.Run(ctx, t.name, "restore-one", rc, false)
		if m3.Err != nil {
			fmt.Fprintln(stderr, m3.Err)
			return 1
		}
		got, err := os.ReadFile(filepath.Join(t.restored(target), one))
		want, _ := os.ReadFile(filepath.Join(data, one))
		if err != nil || string(got) != string(want) {
			fmt.Fprintf(stderr, "%s: restored file differs: %v\n", t.name, err)
			return 1
		}
		fmt.Fprintf(stdout, "| %s | %.2f | %.2f | %.2f |\n", t.name, first.Wall.Seconds(), m2.Wall.Seconds(), m3.Wall.Seconds())
	}
	fmt.Fprintln(stdout, "\nTimes are wall clock of the whole command (process start, repository open, work, exit); targets: no-change backup < 2 s, one-file restore < 1 s.")
	return 0
}

func numCPU() int { return runtime.NumCPU() }
