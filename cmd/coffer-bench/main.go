// Command coffer-bench runs Coffer's benchmarks. Subcommands:
//
//	coffer-bench engine    [--size 1GiB] ...   the storage engine against restic and borg
//	coffer-bench tree100k  [--files 100000]    no-change backup and one-file restore of a large tree
//	coffer-bench repo ...                      the engine CLI (coffer repo), run as the measured child
//
// Other benchmarks register in the commands map.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/pprof"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/coffer/coffer/internal/repocli"
)

type command struct {
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) int
}

var commands = map[string]command{
	"engine":   {summary: "storage engine benchmark against restic and borg", run: runEngine},
	"gen":      {summary: "write the engine data set to a directory", run: runGen},
	"tree100k": {summary: "no-change backup and one-file restore of a 100,000-file tree", run: runTree100k},
	"repo": {summary: "the coffer repo CLI (used as the measured child process)", run: func(ctx context.Context, args []string, stdout, stderr io.Writer) int {
		// COFFER_BENCH_CPUPROFILE=FILE profiles the engine run.
		if p := os.Getenv("COFFER_BENCH_CPUPROFILE"); p != "" {
			if f, err := os.Create(p); err == nil {
				defer f.Close()
				if pprof.StartCPUProfile(f) == nil {
					defer pprof.StopCPUProfile()
				}
			}
		}
		// COFFER_BENCH_HEAPPROFILE=FILE@DURATION writes the live heap then.
		if v := os.Getenv("COFFER_BENCH_HEAPPROFILE"); v != "" {
			if p, d, ok := strings.Cut(v, "@"); ok {
				if dur, err := time.ParseDuration(d); err == nil {
					time.AfterFunc(dur, func() {
						if f, err := os.Create(p); err == nil {
							_ = pprof.Lookup("heap").WriteTo(f, 0)
							f.Close()
						}
					})
				}
			}
		}
		rc := repocli.Main(ctx, args, os.Stdin, stdout, stderr)
		// COFFER_BENCH_MEMPROFILE=FILE writes the allocation profile.
		if p := os.Getenv("COFFER_BENCH_MEMPROFILE"); p != "" {
			if f, err := os.Create(p); err == nil {
				_ = pprof.Lookup("allocs").WriteTo(f, 0)
				f.Close()
			}
		}
		return rc
	}},
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(dispatch(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

func dispatch(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprintln(stderr, "usage: coffer-bench <command> [flags]\n\ncommands:")
		var names []string
		for n := range commands {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			fmt.Fprintf(stderr, "  %-10s %s\n", n, commands[n].summary)
		}
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "coffer-bench: unknown command %q\n", args[0])
		return 2
	}
	return c.run(ctx, args[1:], stdout, stderr)
}
