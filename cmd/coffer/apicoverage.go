package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/coffer/coffer/internal/api/backupapi"
	"github.com/coffer/coffer/internal/service"
)

// apiCoverage is `coffer api-coverage [--markdown]`: which operations of the
// AWS Backup model Coffer implements (service.Implemented, generated from
// the methods of service.Service) and the totals. --markdown prints the
// table the README carries.
func apiCoverage(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("coffer api-coverage", flag.ContinueOnError)
	fs.SetOutput(stderr)
	markdown := fs.Bool("markdown", false, "print the README's Markdown table")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "coffer api-coverage: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	if *markdown {
		_, _ = io.WriteString(stdout, coverageMarkdown())
		return 0
	}
	tw := tabwriter.NewWriter(stdout, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "OPERATION\tREQUEST\tSTATUS")
	for _, op := range backupapi.Operations() {
		fmt.Fprintf(tw, "%s\t%s %s\t%s\n", op.Name, op.Method, op.RequestURI, coverageStatus(op.Name))
	}
	_ = tw.Flush()
	n, total := coverageTotals()
	fmt.Fprintf(stdout, "\n%d of %d operations implemented; the other %d answer HTTP 501 NotImplementedException.\n", n, total, total-n)
	return 0
}

func coverageStatus(op string) string {
	if service.Implemented[op] {
		return "implemented"
	}
	return "not implemented (501)"
}

func coverageTotals() (implemented, total int) {
	ops := backupapi.Operations()
	for _, op := range ops {
		if service.Implemented[op.Name] {
			implemented++
		}
	}
	return implemented, len(ops)
}

// coverageMarkdown returns the README's API coverage section body: a
// summary line and one table row per operation.
func coverageMarkdown() string {
	n, total := coverageTotals()
	s := fmt.Sprintf("Coffer implements **%d of the %d operations** of the AWS Backup API; every other operation answers\n"+
		"HTTP 501 `NotImplementedException` naming the operation, never an empty success.\n\n", n, total)
	s += "| Operation | Request | Implemented |\n|---|---|---|\n"
	for _, op := range backupapi.Operations() {
		mark := "no (501)"
		if service.Implemented[op.Name] {
			mark = "**yes**"
		}
		s += fmt.Sprintf("| %s | `%s %s` | %s |\n", op.Name, op.Method, op.RequestURI, mark)
	}
	return s
}
