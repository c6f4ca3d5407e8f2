package main

// coffer-bench copy: copy jobs through the AWS Backup API of a running
// `coffer serve` (StartCopyJob, then DescribeCopyJob until COMPLETED):
// the first copy of a recovery point of the engine data set to another
// region on local disk, measured against a plain `cp -r` of the stored data
// between the same two directories in the same run; a second copy after
// 5% of the data changed in place (bench.Mutate; reported beside what a
// file-level incremental would move, with no target), a third after 5% more
// was replaced as whole files (bench.MutateFiles; the issue's "changing
// 5%", see the README); and a copy to a region on S3 (versitygw on loopback).

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/backup"
	"github.com/aws/aws-sdk-go-v2/service/backup/types"

	"github.com/coffer/coffer/internal/bench"
	"github.com/coffer/coffer/internal/blob/s3"
)

func init() {
	commands["copy"] = command{
		summary: "copy jobs through the API: first and incremental copy to another region vs cp -r; a copy to S3",
		run:     runCopyBench,
	}
}

type copyBenchFlags struct {
	bench        benchFlags
	size         string
	seed         uint64
	mutate       float64
	diskA, diskB string
	s3           bool
	versitygw    string
	verify       bool
	cpuProfile   string
	logLevel     string
	runs         int
}

func runCopyBench(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var f copyBenchFlags
	fs := flag.NewFlagSet("coffer-bench copy", flag.ContinueOnError)
	fs.SetOutput(stderr)
	f.bench.register(fs, "coffer")
	fs.StringVar(&f.size, "size", "1GiB", "size of the data set")
	fs.Uint64Var(&f.seed, "seed", 1, "data set seed")
	fs.Float64Var(&f.mutate, "mutate", 0.05, "fraction of the data set changed before the second copy, and again (as whole files) before the third")
	fs.StringVar(&f.diskA, "disk-a", "", "storage directory of the source region (default WORK/disk-a)")
	fs.StringVar(&f.diskB, "disk-b", "", "storage directory of the destination region (default WORK/disk-b)")
	fs.BoolVar(&f.s3, "s3", true, "also copy to a region on S3 (needs versitygw)")
	fs.StringVar(&f.versitygw, "versitygw", "versitygw", "versitygw binary (looked up in PATH, then in ~/go/bin)")
	fs.BoolVar(&f.verify, "verify", true, "restore the third copy through the API and compare it with the data set")
	fs.StringVar(&f.cpuProfile, "cpuprofile", "", "write the server's CPU profile of the whole run to this file")
	fs.StringVar(&f.logLevel, "log-level", "info", "the server's log level (WORK/coffer.log); debug logs each copy's phases")
	fs.IntVar(&f.runs, "runs", 1, "run the whole benchmark this many times, each in a fresh work directory, then summarize the ratios (median, range, runs meeting each target)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	size, err := parseSize(f.size)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	if f.runs < 1 {
		fmt.Fprintln(stderr, "coffer-bench copy: --runs must be at least 1")
		return 2
	}
	work := f.bench.work
	if f.diskA == "" {
		f.diskA = filepath.Join(work, "disk-a")
	}
	if f.diskB == "" {
		f.diskB = filepath.Join(work, "disk-b")
	}
	var reps []*copyReport
	for i := range f.runs {
		if f.runs > 1 {
			fmt.Fprintf(stderr, "run %d of %d\n", i+1, f.runs)
		}
		rep, err := copyBenchIn(ctx, f, size, work, stderr)
		if err != nil {
			fmt.Fprintln(stderr, "coffer-bench copy:", err)
			return 1
		}
		rep.print(stdout)
		reps = append(reps, rep)
	}
	if len(reps) > 1 {
		printCopySummary(stdout, reps)
	}
	return 0
}

// copyBenchIn runs the benchmark once in a fresh work directory. Region
// directories outside it (--disk-a, --disk-b) lose only what an earlier
// run left there: the benchmark's two vaults and the cp baseline.
func copyBenchIn(ctx context.Context, f copyBenchFlags, size int64, work string, log io.Writer) (*copyReport, error) {
	cleanup, err := freshWork(work, f.bench.keep)
	if err != nil {
		return nil, err
	}
	defer cleanup()
	for _, d := range []string{
		filepath.Join(f.diskA, "vaults", "bench"), filepath.Join(f.diskB, "vaults", "dr"), filepath.Join(f.diskB, "cp-baseline"),
	} {
		if err := os.RemoveAll(d); err != nil {
			return nil, err
		}
	}
	return copyBench(ctx, f, size, work, log)
}

// copyStep is one measured copy.
type copyStep struct {
	took    time.Duration
	written int64 // growth of the destination storage
}

type copyReport struct {
	size          string
	seed          uint64
	mutate        float64
	dataBytes     int64 // allocated on disk
	dataFileBytes int64 // the files' sizes
	stored        int64 // the source vault's repository on disk
	cp            copyStep
	first, second copyStep
	s3            *copyStep
	s3Err         string
	dropped       bool
	verified      bool
	diskA, diskB  string
	mutatedBytes  int64
	backupAdded   int64 // what the second backup added to the source vault
	// The files bench.Mutate wrote or added, and their size: what a
	// file-level incremental (AWS Backup's for EFS) would copy.
	changedFiles     int
	changedFileBytes int64
	secondMessages   string
	// The third copy follows a change of whole files (bench.MutateFiles).
	third         copyStep
	filesMutated  int64
	backupAdded3  int64
	thirdMessages string
}

// mbps is the throughput of a step that copied all the stored data.
func (r *copyReport) mbps(s copyStep) float64 { return float64(r.stored) / 1e6 / s.took.Seconds() }

// copyRatios are a run's figures against the targets, in percent.
type copyRatios struct {
	first                   float64 // first copy's throughput, of cp's (≥ 80)
	thirdBytes, thirdTime   float64 // whole-file change: of the first copy's bytes (≤ 10), time (≤ 15)
	secondBytes, secondTime float64 // in-place change: the same (reported, no target)
	secondFileLevel         float64 // in-place change: the changed files, of the data set
}

func (r *copyReport) ratios() copyRatios {
	bytesOf := func(s copyStep) float64 { return 100 * float64(s.written) / float64(max(r.first.written, 1)) }
	timeOf := func(s copyStep) float64 { return 100 * s.took.Seconds() / r.first.took.Seconds() }
	return copyRatios{
		first:       100 * r.mbps(r.first) / r.mbps(r.cp),
		secondBytes: bytesOf(r.second), secondTime: timeOf(r.second),
		thirdBytes: bytesOf(r.third), thirdTime: timeOf(r.third),
		secondFileLevel: 100 * float64(r.changedFileBytes) / float64(max(r.dataFileBytes, 1)),
	}
}

func (r *copyReport) print(w io.Writer) {
	fmt.Fprintf(w, "\nCopy benchmark: data set %s (seed %d, %.1f MiB, stored %.1f MiB); %d CPUs; page cache dropped before each step: %v.\n",
		r.size, r.seed, float64(r.dataBytes)/(1<<20), float64(r.stored)/(1<<20), numCPU(), r.dropped)
	fmt.Fprintf(w, "Source region storage %s, destination %s.\n\n", r.diskA, r.diskB)
	fmt.Fprintln(w, "| step | time (s) | bytes written (MiB) | MB/s | against |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---|")
	fmt.Fprintf(w, "| `cp -r` of the stored data + `sync` | %.2f | %.1f | %.1f | |\n", r.cp.took.Seconds(), mib(r.cp.written), r.mbps(r.cp))
	q := r.ratios()
	fmt.Fprintf(w, "| first copy → us-west-2 (local disk) | %.2f | %.1f | %.1f | %.0f%% of cp's throughput (target ≥ 80%%) |\n",
		r.first.took.Seconds(), mib(r.first.written), r.mbps(r.first), q.first)
	fmt.Fprintf(w, "| copy after changing %.0f%% in place → us-west-2 | %.2f | %.1f | | %.1f%% of the first copy's bytes, %.1f%% of its time (no target; the %d changed files hold %.1f%% of the data set: a file-level incremental copies them whole) |\n",
		100*r.mutate, r.second.took.Seconds(), mib(r.second.written), q.secondBytes, q.secondTime, r.changedFiles, q.secondFileLevel)
	fmt.Fprintf(w, "| copy after replacing %.0f%% as whole files → us-west-2 | %.2f | %.1f | | %.1f%% of the first copy's bytes (target ≤ 10%%), %.1f%% of its time (target ≤ 15%%) |\n",
		100*r.mutate, r.third.took.Seconds(), mib(r.third.written), q.thirdBytes, q.thirdTime)
	switch {
	case r.s3 != nil:
		fmt.Fprintf(w, "| first copy → eu-west-1 (S3, versitygw on loopback) | %.2f | %.1f | %.1f | %.0f%% of the local copy's throughput |\n",
			r.s3.took.Seconds(), mib(r.s3.written), r.mbps(*r.s3), 100*r.mbps(*r.s3)/r.mbps(r.first))
	case r.s3Err != "":
		fmt.Fprintf(w, "| first copy → eu-west-1 (S3) | – | – | – | skipped: %s |\n", r.s3Err)
	}
	fmt.Fprintf(w, "\nThe %.0f%% change (bench.Mutate: small files rewritten, appended and added, 256 KiB regions of large files overwritten) wrote %.1f MiB into the data set; the backup after it added %.1f MiB to the source vault (the new chunks: the least any copy must move). "+
		"The whole-file change (bench.MutateFiles: files picked at random get new content) wrote %.1f MiB; the backup after it added %.1f MiB. Copy times: from the StartCopyJob request to DescribeCopyJob reporting COMPLETED (polled every %s), the server already running. "+
		"Bytes written: growth of the destination storage (allocated blocks; for S3, of versitygw's directory). Throughput: the source vault's stored bytes over the time. ",
		100*r.mutate, mib(r.mutatedBytes), mib(r.backupAdded), mib(r.filesMutated), mib(r.backupAdded3), copyPoll)
	if r.verified {
		fmt.Fprint(w, "The third copy was restored through the API in us-west-2 and matched the changed data set file by file.")
	}
	fmt.Fprintln(w)
	if r.secondMessages != "" {
		fmt.Fprintf(w, "Second copy's StatusMessage: %s\n", r.secondMessages)
	}
	if r.thirdMessages != "" {
		fmt.Fprintf(w, "Third copy's StatusMessage: %s\n", r.thirdMessages)
	}
}

func mib(n int64) float64 { return float64(n) / (1 << 20) }

// printCopySummary prints, over several runs, each ratio's median and
// range and how many runs met its target: one run on a noisy machine
// can land on either side of a threshold.
func printCopySummary(w io.Writer, reps []*copyReport) {
	rs := make([]copyRatios, len(reps))
	for i, r := range reps {
		rs[i] = r.ratios()
	}
	fmt.Fprintf(w, "\nSummary of %d runs:\n\n", len(reps))
	fmt.Fprintln(w, "| figure | median | range | runs meeting the target |")
	fmt.Fprintln(w, "|---|---:|---:|---:|")
	// meets nil: a figure reported without a target.
	row := func(what string, get func(copyRatios) float64, meets func(float64) bool) {
		vals := make([]float64, len(rs))
		met := 0
		for i, q := range rs {
			vals[i] = get(q)
			if meets != nil && meets(vals[i]) {
				met++
			}
		}
		slices.Sort(vals)
		med := vals[len(vals)/2]
		if len(vals)%2 == 0 {
			med = (vals[len(vals)/2-1] + vals[len(vals)/2]) / 2
		}
		count := fmt.Sprintf("%d of %d", met, len(vals))
		if meets == nil {
			count = "–"
		}
		fmt.Fprintf(w, "| %s | %.1f%% | %.1f–%.1f%% | %s |\n", what, med, vals[0], vals[len(vals)-1], count)
	}
	atLeast := func(t float64) func(float64) bool { return func(v float64) bool { return v >= t } }
	atMost := func(t float64) func(float64) bool { return func(v float64) bool { return v <= t } }
	row("first copy, of cp's throughput (≥ 80%)", func(q copyRatios) float64 { return q.first }, atLeast(80))
	row("whole-file change, of the first copy's bytes (≤ 10%)", func(q copyRatios) float64 { return q.thirdBytes }, atMost(10))
	row("whole-file change, of the first copy's time (≤ 15%)", func(q copyRatios) float64 { return q.thirdTime }, atMost(15))
	row("in-place change, of the first copy's bytes (no target)", func(q copyRatios) float64 { return q.secondBytes }, nil)
	row("in-place change, of the first copy's time (no target)", func(q copyRatios) float64 { return q.secondTime }, nil)
	row("in-place change: its changed files, of the data set (a file-level incremental's share)", func(q copyRatios) float64 { return q.secondFileLevel }, nil)
}

const (
	cbDataFS = "arn:aws:elasticfilesystem:us-east-1:111122223333:file-system/fs-00000000000000c09"
	cbS3     = "eu-west-1"
)

// copyBench runs the benchmark in work.
func copyBench(ctx context.Context, f copyBenchFlags, size int64, work string, log io.Writer) (*copyReport, error) {
	rep := &copyReport{size: f.size, seed: f.seed, mutate: f.mutate, diskA: f.diskA, diskB: f.diskB}
	data := filepath.Join(work, "data")
	fmt.Fprintf(log, "generating %s data set (seed %d) in %s\n", f.size, f.seed, data)
	ds, err := bench.Generate(data, f.seed, size)
	if err != nil {
		return nil, fmt.Errorf("generate: %w", err)
	}
	rep.dataBytes, rep.dataFileBytes = bench.DirSize(data), ds.Bytes

	var gw *versityGW
	if f.s3 {
		var err error
		if gw, err = startVersityGW(ctx, f.versitygw, filepath.Join(work, "s3"), log); err != nil {
			rep.s3Err = err.Error()
			fmt.Fprintln(log, "S3 leg skipped:", err)
		} else {
			defer gw.stop()
		}
	}
	restoreRoot := filepath.Join(work, "restores")
	var y strings.Builder
	fmt.Fprintf(&y, "log: {level: %s}\nrestore_root: %q\nregions:\n  - name: us-east-1\n    storage: {type: local, path: %q}\n  - name: us-west-2\n    storage: {type: local, path: %q}\n", f.logLevel, restoreRoot, f.diskA, f.diskB)
	if gw != nil {
		fmt.Fprintf(&y, "  - name: %s\n    storage: {type: s3, endpoint: %q, bucket: %q, region: us-east-1, access_key_id: %q, secret_access_key: %q, insecure: true}\n",
			cbS3, gw.endpoint, gw.bucket, gw.access, gw.secret)
	}
	fmt.Fprintf(&y, "resources:\n  - arn: %q\n    path: %q\n", cbDataFS, data)
	cfg := filepath.Join(work, "coffer.yaml")
	if err := os.WriteFile(cfg, []byte(y.String()), 0o600); err != nil {
		return nil, err
	}
	t, stop, err := startCoffer(ctx, apiBenchFlags{cofferPath: f.bench.cofferPath, config: cfg, cpuProfile: f.cpuProfile}, work, log)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err := stop(); err != nil {
			fmt.Fprintln(log, err)
		}
	}()
	client := func(region string) *backup.Client {
		return backup.New(backup.Options{Region: region, BaseEndpoint: aws.String(t.endpoint),
			Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) { return t.creds, nil })})
	}
	east, west := client("us-east-1"), client("us-west-2")
	vaults := []struct {
		c    *backup.Client
		name string
	}{{east, "bench"}, {west, "dr"}}
	if gw != nil {
		vaults = append(vaults, struct {
			c    *backup.Client
			name string
		}{client(cbS3), "s3dr"})
	}
	arns := map[string]string{}
	for _, v := range vaults {
		out, err := v.c.CreateBackupVault(ctx, &backup.CreateBackupVaultInput{BackupVaultName: aws.String(v.name)})
		if err != nil {
			return nil, err
		}
		arns[v.name] = aws.ToString(out.BackupVaultArn)
	}
	drop := !f.bench.noDrop

	fmt.Fprintln(log, "coffer  backup of the data set through the API")
	rp1, err := rbBackup(ctx, east, cbDataFS, log)
	if err != nil {
		return nil, err
	}
	srcRepo, err := onlyDir(filepath.Join(f.diskA, "vaults", "bench"))
	if err != nil {
		return nil, err
	}
	rep.stored = bench.DirSize(srcRepo)

	// The baseline: the stored data copied between the same two places.
	if drop {
		rep.dropped = bench.DropCaches() == nil
	}
	cpDst := filepath.Join(f.diskB, "cp-baseline")
	start := time.Now()
	if out, err := exec.CommandContext(ctx, "cp", "-r", srcRepo, cpDst).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("cp -r: %v: %s", err, out)
	}
	syscall.Sync()
	rep.cp = copyStep{took: time.Since(start), written: bench.DirSize(cpDst)}
	fmt.Fprintf(log, "cp -r   %8.2fs  %.1f MB/s\n", rep.cp.took.Seconds(), float64(rep.stored)/1e6/rep.cp.took.Seconds())
	os.RemoveAll(cpDst)

	drDir := filepath.Join(f.diskB, "vaults", "dr")
	measure := func(c *backup.Client, rp, dst, dir, what string) (copyStep, string, string, error) {
		if drop {
			bench.DropCaches()
		}
		before := bench.DirSize(dir)
		faults, ferr := bench.MinorFaults(t.pid)
		took, j, err := cbCopy(ctx, c, "bench", rp, dst)
		if err != nil {
			return copyStep{}, "", "", err
		}
		s := copyStep{took: took, written: bench.DirSize(dir) - before}
		fmt.Fprintf(log, "coffer  %s %8.2fs  %.1f MiB written", what, took.Seconds(), mib(s.written))
		if after, err := bench.MinorFaults(t.pid); err == nil && ferr == nil {
			// Diagnostic: on some VMs a page the server had not touched
			// before costs enough to show in the time.
			fmt.Fprintf(log, "  %d minor page faults in the server", after-faults)
		}
		fmt.Fprintln(log)
		return s, aws.ToString(j.DestinationRecoveryPointArn), aws.ToString(j.StatusMessage), nil
	}
	if rep.first, _, _, err = measure(east, rp1, arns["dr"], drDir, "first copy"); err != nil {
		return nil, err
	}

	fmt.Fprintf(log, "changing %.0f%% of the data set\n", 100*f.mutate)
	stamps, err := bench.Stamp(data)
	if err != nil {
		return nil, err
	}
	if rep.mutatedBytes, err = bench.Mutate(data, f.seed+1, f.mutate); err != nil {
		return nil, err
	}
	if rep.changedFiles, rep.changedFileBytes, err = stamps.Changed(data); err != nil {
		return nil, err
	}
	srcBefore := bench.DirSize(srcRepo)
	rp2, err := rbBackup(ctx, east, cbDataFS, log)
	if err != nil {
		return nil, err
	}
	rep.backupAdded = bench.DirSize(srcRepo) - srcBefore
	if rep.second, _, rep.secondMessages, err = measure(east, rp2, arns["dr"], drDir, "second copy"); err != nil {
		return nil, err
	}

	fmt.Fprintf(log, "replacing %.0f%% of the data set as whole files\n", 100*f.mutate)
	if rep.filesMutated, err = bench.MutateFiles(data, f.seed+2, f.mutate); err != nil {
		return nil, err
	}
	srcBefore = bench.DirSize(srcRepo)
	rp3, err := rbBackup(ctx, east, cbDataFS, log)
	if err != nil {
		return nil, err
	}
	rep.backupAdded3 = bench.DirSize(srcRepo) - srcBefore
	var copy3 string
	if rep.third, copy3, rep.thirdMessages, err = measure(east, rp3, arns["dr"], drDir, "third copy"); err != nil {
		return nil, err
	}
	if gw != nil {
		s3 := copyStep{}
		if s3, _, _, err = measure(east, rp1, arns["s3dr"], gw.dir, "copy to S3"); err != nil {
			return nil, err
		}
		rep.s3 = &s3
	}
	if f.verify {
		want, _, err := bench.ContentDigest(data)
		if err != nil {
			return nil, err
		}
		fmt.Fprintln(log, "restoring the third copy in us-west-2")
		_, dir, err := rbRestore(ctx, west, copy3, map[string]string{"newFileSystem": "true"}, restoreRoot)
		if err != nil {
			return nil, err
		}
		if got, n, err := bench.ContentDigest(dir); err != nil || got != want {
			return nil, fmt.Errorf("the restored copy differs from the data set (%d files, %v)", n, err)
		}
		rep.verified = true
		os.RemoveAll(dir)
	}
	return rep, nil
}

// copyPoll is how often cbCopy asks whether a copy has completed. A poll
// is a sub-millisecond request, and the wait between two polls is added to
// the measured time (half of it on average): at 20 ms that was an eighth of
// a small incremental copy's ~0.09 s.
const copyPoll = 5 * time.Millisecond

// cbCopy starts a copy and waits for it to complete.
func cbCopy(ctx context.Context, c *backup.Client, srcVault, rp, dst string) (time.Duration, *types.CopyJob, error) {
	start := time.Now()
	out, err := c.StartCopyJob(ctx, &backup.StartCopyJobInput{SourceBackupVaultName: aws.String(srcVault), RecoveryPointArn: aws.String(rp),
		DestinationBackupVaultArn: aws.String(dst), IamRoleArn: aws.String(rbRole)})
	if err != nil {
		return 0, nil, err
	}
	for {
		d, err := c.DescribeCopyJob(ctx, &backup.DescribeCopyJobInput{CopyJobId: out.CopyJobId})
		if err != nil {
			return 0, nil, err
		}
		switch d.CopyJob.State {
		case types.CopyJobStateCompleted:
			return time.Since(start), d.CopyJob, nil
		case types.CopyJobStateFailed, types.CopyJobStatePartial:
			return 0, nil, fmt.Errorf("copy of %s: %s %s", rp, d.CopyJob.State, aws.ToString(d.CopyJob.StatusMessage))
		}
		if err := rbSleep(ctx, copyPoll); err != nil {
			return 0, nil, err
		}
	}
}

// onlyDir returns the one directory in dir (a vault's repository under
// vaults/<name>/).
func onlyDir(dir string) (string, error) {
	es, err := os.ReadDir(dir)
	if err != nil {
		return "", err
	}
	if len(es) != 1 || !es[0].IsDir() {
		return "", fmt.Errorf("want one repository directory in %s, got %d entries", dir, len(es))
	}
	return filepath.Join(dir, es[0].Name()), nil
}

// versityGW is a versitygw process serving a directory on loopback.
type versityGW struct {
	cmd                   *exec.Cmd
	dir, endpoint, bucket string
	access, secret        string
	done                  chan struct{}
}

// startVersityGW starts versitygw (posix backend) on a free loopback port
// and creates a bucket.
func startVersityGW(ctx context.Context, bin, dir string, log io.Writer) (*versityGW, error) {
	path, err := exec.LookPath(bin)
	if err != nil {
		home, _ := os.UserHomeDir()
		if p := filepath.Join(home, "go", "bin", "versitygw"); bin == "versitygw" && fileExists(p) {
			path = p
		} else {
			return nil, fmt.Errorf("versitygw not found (go install github.com/versity/versitygw/cmd/versitygw@v1.8.0)")
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	endpoint := ln.Addr().String()
	ln.Close()
	g := &versityGW{dir: dir, endpoint: endpoint, bucket: "coffer-bench", access: "bench" + randHex(6), secret: randHex(20), done: make(chan struct{})}
	g.cmd = exec.Command(path, "--port", endpoint, "--access", g.access, "--secret", g.secret, "--region", "us-east-1", "--quiet", "posix", dir)
	g.cmd.Env = append(os.Environ(), "ROOT_ACCESS_KEY_ID=", "ROOT_SECRET_ACCESS_KEY=")
	g.cmd.Stdout, g.cmd.Stderr = log, log
	if err := g.cmd.Start(); err != nil {
		return nil, err
	}
	go func() { _ = g.cmd.Wait(); close(g.done) }()
	hc := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := hc.Get("http://" + endpoint + "/")
		if err == nil {
			resp.Body.Close()
			break
		}
		select {
		case <-g.done:
			return nil, errors.New("versitygw exited at start")
		default:
		}
		if time.Now().After(deadline) {
			g.stop()
			return nil, fmt.Errorf("versitygw did not answer on %s: %v", endpoint, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	st, err := s3.New(ctx, s3.Options{Endpoint: "http://" + endpoint, Bucket: g.bucket, Region: "us-east-1", AccessKey: g.access,
		SecretKey: s3.Secret(g.secret), CreateBucket: true})
	if err != nil {
		g.stop()
		return nil, fmt.Errorf("creating the bucket: %w", err)
	}
	st.Close()
	return g, nil
}

func (g *versityGW) stop() {
	_ = g.cmd.Process.Kill()
	<-g.done
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
