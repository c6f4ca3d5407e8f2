package main

import (
	"context"
	"os"

	"github.com/coffer/coffer/internal/repocli"
)

func init() {
	commands["repo"] = command{
		summary: "low-level repository tools: init, backup, snapshots, restore, verify, gc, stats, copy",
		run: func(ctx context.Context, args []string) int {
			return repocli.Main(ctx, args, os.Stdin, os.Stdout, os.Stderr)
		},
	}
}
