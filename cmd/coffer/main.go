// Command coffer is the Coffer server and its operator tools.
//
//	coffer serve [--listen ADDR] [--data-dir DIR] [--config FILE]
//	                     start the AWS Backup-compatible server
//	coffer api-coverage [--markdown]
//	                     which AWS Backup operations are implemented
//	coffer version       print the version
//	coffer repo ...      low-level repository tools (init, backup, restore, verify, gc, ...)
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/pprof"
	"runtime/trace"
	"sort"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "0.1.0-dev"

// command is one subcommand of the coffer binary. Files in this package
// register theirs in init.
type command struct {
	summary string
	run     func(ctx context.Context, args []string) int
}

var commands = map[string]command{
	"serve": {summary: "start the AWS Backup-compatible server", run: func(ctx context.Context, args []string) int {
		return serve(ctx, args, os.Stdout, os.Stderr)
	}},
	"api-coverage": {summary: "list which AWS Backup operations are implemented (--markdown: README table)", run: func(_ context.Context, args []string) int {
		return apiCoverage(args, os.Stdout, os.Stderr)
	}},
	"version": {summary: "print the version", run: func(context.Context, []string) int {
		fmt.Println("coffer", version)
		return 0
	}},
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stderr))
}

func run(ctx context.Context, args []string, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "coffer: unknown command %q\n\n", args[0])
		usage(stderr)
		return 2
	}
	for _, r := range recorders {
		p := os.Getenv(r.env)
		if p == "" {
			continue
		}
		stop, err := record(p, r.start, r.stop)
		if err != nil {
			fmt.Fprintf(stderr, "coffer: %s: %v\n", r.env, err)
			return 1
		}
		defer stop()
	}
	return cmd.run(ctx, args[1:])
}

// recorders are the diagnostics any command writes when its environment
// variable names a file: COFFER_CPUPROFILE, a CPU profile of the whole
// command (coffer-bench api --cpuprofile sets it for the server; by hand
// for `coffer repo backup`); COFFER_TRACE, an execution trace (`go tool
// trace -pprof=sync|syscall|sched FILE` shows where goroutines wait).
var recorders = []struct {
	env   string
	start func(io.Writer) error
	stop  func()
}{
	{"COFFER_CPUPROFILE", pprof.StartCPUProfile, pprof.StopCPUProfile},
	{"COFFER_TRACE", trace.Start, trace.Stop},
}

// record starts writing one recorder's output to path.
func record(path string, start func(io.Writer) error, stop func()) (func(), error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := start(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		stop()
		f.Close()
	}, nil
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: coffer <command> [flags]\n\ncommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-14s %s\n", n, commands[n].summary)
	}
}
