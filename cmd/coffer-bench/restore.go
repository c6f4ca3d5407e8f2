package main

// coffer-bench restore: restores through the AWS Backup API of a running
// `coffer serve` (StartRestoreJob, then DescribeRestoreJob until
// COMPLETED), side by side with restic restoring the same data in the same
// run: a full restore of the engine data set into a new file system, and
// one small file (ItemsToRestore) from a recovery point of a 100,000-file
// tree.

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/backup"
	"github.com/aws/aws-sdk-go-v2/service/backup/types"

	"github.com/coffer/coffer/internal/bench"
)

func init() {
	commands["restore"] = command{
		summary: "full and one-file restores through the API (StartRestoreJob) vs restic restore",
		run:     runRestoreBench,
	}
}

const (
	rbRole   = "arn:aws:iam::111122223333:role/service-role/AWSBackupDefaultServiceRole"
	rbDataFS = "arn:aws:elasticfilesystem:us-east-1:111122223333:file-system/fs-00000000000000da7"
	rbTreeFS = "arn:aws:elasticfilesystem:us-east-1:111122223333:file-system/fs-0000000000000100c"
)

type restoreBenchFlags struct {
	bench      benchFlags
	size       string
	seed       uint64
	files      int
	cofferPath string
}

func runRestoreBench(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var f restoreBenchFlags
	fs := flag.NewFlagSet("coffer-bench restore", flag.ContinueOnError)
	fs.SetOutput(stderr)
	f.bench.register(fs, "coffer,restic")
	fs.StringVar(&f.size, "size", "1GiB", "size of the full-restore data set")
	fs.Uint64Var(&f.seed, "seed", 1, "data set seed")
	fs.IntVar(&f.files, "files", 100000, "files of the one-file-restore tree (0: skip that part)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	f.cofferPath = f.bench.cofferPath // a coffer server binary here, not `coffer repo`
	size, err := parseSize(f.size)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	work := f.bench.work
	cleanup, err := freshWork(work, f.bench.keep)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	defer cleanup()
	rep, err := restoreBench(ctx, f, size, work, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "coffer-bench restore:", err)
		return 1
	}
	rep.print(stdout)
	return 0
}

// restoreReport holds the measurements.
type restoreReport struct {
	size, seed          string
	dataFiles           int
	dataBytes           int64
	cofferFull          time.Duration
	resticFull          time.Duration
	cofferOne           time.Duration
	resticOne           time.Duration
	treeFiles           int
	dropped, haveRestic bool
}

func (r *restoreReport) print(w io.Writer) {
	mbps := func(d time.Duration) float64 { return float64(r.dataBytes) / 1e6 / d.Seconds() }
	fmt.Fprintf(w, "\nRestore benchmark: data set %s, seed %s (%d files, %.1f MiB); %d CPUs; page cache dropped before each restore: %v.\n\n",
		r.size, r.seed, r.dataFiles, float64(r.dataBytes)/(1<<20), numCPU(), r.dropped)
	fmt.Fprintln(w, "| restore | coffer (API) | restic | coffer/restic |")
	fmt.Fprintln(w, "|---|---:|---:|---:|")
	if r.haveRestic {
		fmt.Fprintf(w, "| full restore (MB/s) | %.1f | %.1f | %.2f |\n", mbps(r.cofferFull), mbps(r.resticFull), mbps(r.cofferFull)/mbps(r.resticFull))
		fmt.Fprintf(w, "| full restore (s) | %.2f | %.2f | %.2f |\n", r.cofferFull.Seconds(), r.resticFull.Seconds(), r.cofferFull.Seconds()/r.resticFull.Seconds())
	} else {
		fmt.Fprintf(w, "| full restore (MB/s) | %.1f | – | – |\n", mbps(r.cofferFull))
	}
	if r.treeFiles > 0 {
		if r.haveRestic {
			fmt.Fprintf(w, "| one file of a %d-file tree (s) | %.2f | %.2f | %.2f |\n", r.treeFiles, r.cofferOne.Seconds(), r.resticOne.Seconds(), r.cofferOne.Seconds()/r.resticOne.Seconds())
		} else {
			fmt.Fprintf(w, "| one file of a %d-file tree (s) | %.2f | – | – |\n", r.treeFiles, r.cofferOne.Seconds())
		}
	}
	fmt.Fprintln(w, "\nCoffer: wall time from the StartRestoreJob request to DescribeRestoreJob reporting COMPLETED (polled every 20 ms), the server already running;"+
		" restic: the `restic restore` command (process start to exit). Every restore is verified file by file against the source."+
		" Targets: full restore ≥ 2× restic's throughput, one-file restore < 1 s.")
}

// restoreBench runs the benchmark in work.
func restoreBench(ctx context.Context, f restoreBenchFlags, size int64, work string, log io.Writer) (*restoreReport, error) {
	rep := &restoreReport{size: f.size, seed: fmt.Sprint(f.seed), treeFiles: f.files}
	data, tree := filepath.Join(work, "data"), filepath.Join(work, "tree")
	fmt.Fprintf(log, "generating %s data set (seed %d) in %s\n", f.size, f.seed, data)
	ds, err := bench.Generate(data, f.seed, size)
	if err != nil {
		return nil, fmt.Errorf("generate: %w", err)
	}
	rep.dataFiles = int(ds.Files)
	filepath.Walk(data, func(p string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() {
			rep.dataBytes += fi.Size()
		}
		return nil
	})
	if f.files > 0 {
		fmt.Fprintf(log, "generating %d files in %s\n", f.files, tree)
		if err := bench.ManyFiles(tree, f.seed, f.files); err != nil {
			return nil, err
		}
	}
	restoreRoot := filepath.Join(work, "restores")
	cfg := filepath.Join(work, "coffer.yaml")
	yaml := fmt.Sprintf("restore_root: %q\nresources:\n  - arn: %q\n    path: %q\n  - arn: %q\n    path: %q\n", restoreRoot, rbDataFS, data, rbTreeFS, tree)
	if err := os.WriteFile(cfg, []byte(yaml), 0o644); err != nil {
		return nil, err
	}
	t, stop, err := startCoffer(ctx, apiBenchFlags{cofferPath: f.cofferPath, config: cfg}, work, log)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err := stop(); err != nil {
			fmt.Fprintln(log, err)
		}
	}()
	c := backup.New(backup.Options{Region: t.region, BaseEndpoint: aws.String(t.endpoint),
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) { return t.creds, nil })})
	if _, err := c.CreateBackupVault(ctx, &backup.CreateBackupVaultInput{BackupVaultName: aws.String("bench")}); err != nil {
		return nil, err
	}
	var tools []*tool
	tb := f.bench
	tb.toolsList = strings.ReplaceAll(tb.toolsList, "coffer", "")
	if strings.Contains(f.bench.toolsList, "restic") {
		if tools, err = tb.makeTools(log, data); err != nil {
			return nil, err
		}
	}
	var restic *tool
	for _, x := range tools {
		if x.name == "restic" {
			restic = x
		}
	}
	rep.haveRestic = restic != nil
	drop := !f.bench.noDrop
	want, _, err := bench.ContentDigest(data)
	if err != nil {
		return nil, err
	}

	// Full restore.
	fmt.Fprintln(log, "coffer  backup of the data set through the API")
	rp, err := rbBackup(ctx, c, rbDataFS, log)
	if err != nil {
		return nil, err
	}
	if restic != nil {
		for _, step := range []struct {
			name string
			cmd  bench.Command
		}{{"init", restic.init}, {"backup", restic.backup(1)}} {
			fmt.Fprintf(log, "restic  %s\n", step.name)
			if m := bench.Run(ctx, "restic", step.name, step.cmd, false); m.Err != nil {
				return nil, m.Err
			}
		}
	}
	if drop {
		rep.dropped = bench.DropCaches() == nil
	}
	d, dir, err := rbRestore(ctx, c, rp, map[string]string{"newFileSystem": "true"}, restoreRoot)
	if err != nil {
		return nil, err
	}
	rep.cofferFull = d
	fmt.Fprintf(log, "coffer  full restore %8.2fs  %.1f MB/s\n", d.Seconds(), float64(rep.dataBytes)/1e6/d.Seconds())
	if got, n, err := bench.ContentDigest(dir); err != nil || got != want {
		return nil, fmt.Errorf("coffer's restore differs from the source (%d files, %v)", n, err)
	}
	os.RemoveAll(dir)
	if restic != nil {
		target := filepath.Join(work, "restore-restic")
		m := bench.Run(ctx, "restic", "restore", restic.restore(target), drop)
		if m.Err != nil {
			return nil, m.Err
		}
		rep.resticFull = m.Wall
		fmt.Fprintf(log, "restic  full restore %8.2fs  %.1f MB/s\n", m.Wall.Seconds(), float64(rep.dataBytes)/1e6/m.Wall.Seconds())
		if got, n, err := bench.ContentDigest(restic.restored(target)); err != nil || got != want {
			return nil, fmt.Errorf("restic's restore differs from the source (%d files, %v)", n, err)
		}
		os.RemoveAll(target)
	}
	if f.files == 0 {
		return rep, nil
	}

	// One small file of a 100,000-file tree.
	last := f.files - 1
	one := fmt.Sprintf("d%03d/s%02d/file-%06d.txt", last/1000, last/100%10, last)
	wantOne, err := os.ReadFile(filepath.Join(tree, one))
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(log, "coffer  backup of the %d-file tree through the API\n", f.files)
	rp, err = rbBackup(ctx, c, rbTreeFS, log)
	if err != nil {
		return nil, err
	}
	if drop {
		rep.dropped = bench.DropCaches() == nil && rep.dropped
	}
	d, dir, err = rbRestore(ctx, c, rp, map[string]string{"newFileSystem": "true", "ItemsToRestore": `["/` + one + `"]`}, restoreRoot)
	if err != nil {
		return nil, err
	}
	rep.cofferOne = d
	fmt.Fprintf(log, "coffer  one-file restore %8.2fs\n", d.Seconds())
	if got, err := os.ReadFile(filepath.Join(dir, one)); err != nil || string(got) != string(wantOne) {
		return nil, fmt.Errorf("coffer's one-file restore differs (%v)", err)
	}
	if restic != nil {
		rb := restic.backup(2)
		rb.Args[len(rb.Args)-1] = tree
		if m := bench.Run(ctx, "restic", "backup-tree", rb, false); m.Err != nil {
			return nil, m.Err
		}
		target := filepath.Join(work, "restore-restic-one")
		rc := restic.restore(target)
		rc.Args = append(rc.Args, "--include", filepath.Join(tree, one))
		m := bench.Run(ctx, "restic", "restore-one", rc, drop)
		if m.Err != nil {
			return nil, m.Err
		}
		rep.resticOne = m.Wall
		fmt.Fprintf(log, "restic  one-file restore %8.2fs\n", m.Wall.Seconds())
		if got, err := os.ReadFile(filepath.Join(target, tree, one)); err != nil || string(got) != string(wantOne) {
			return nil, fmt.Errorf("restic's one-file restore differs (%v)", err)
		}
	}
	return rep, nil
}

// rbBackup backs a declared resource up through the API and returns the
// recovery point.
func rbBackup(ctx context.Context, c *backup.Client, arn string, log io.Writer) (string, error) {
	start := time.Now()
	out, err := c.StartBackupJob(ctx, &backup.StartBackupJobInput{BackupVaultName: aws.String("bench"), ResourceArn: aws.String(arn), IamRoleArn: aws.String(rbRole)})
	if err != nil {
		return "", err
	}
	for {
		d, err := c.DescribeBackupJob(ctx, &backup.DescribeBackupJobInput{BackupJobId: out.BackupJobId})
		if err != nil {
			return "", err
		}
		switch d.State {
		case types.BackupJobStateCompleted:
			fmt.Fprintf(log, "        done in %.2fs\n", time.Since(start).Seconds())
			return aws.ToString(d.RecoveryPointArn), nil
		case types.BackupJobStateFailed, types.BackupJobStateAborted, types.BackupJobStateExpired:
			return "", fmt.Errorf("backup of %s: %s %s", arn, d.State, aws.ToString(d.StatusMessage))
		}
		if err := rbSleep(ctx, 100*time.Millisecond); err != nil {
			return "", err
		}
	}
}

// rbRestore restores a recovery point into a new file system and returns
// the time from the request to COMPLETED and the restore directory.
func rbRestore(ctx context.Context, c *backup.Client, rp string, md map[string]string, restoreRoot string) (time.Duration, string, error) {
	start := time.Now()
	out, err := c.StartRestoreJob(ctx, &backup.StartRestoreJobInput{RecoveryPointArn: &rp, Metadata: md, IamRoleArn: aws.String(rbRole)})
	if err != nil {
		return 0, "", err
	}
	for {
		d, err := c.DescribeRestoreJob(ctx, &backup.DescribeRestoreJobInput{RestoreJobId: out.RestoreJobId})
		if err != nil {
			return 0, "", err
		}
		switch d.Status {
		case types.RestoreJobStatusCompleted:
			took := time.Since(start)
			arn := aws.ToString(d.CreatedResourceArn)
			fsRoot := filepath.Join(restoreRoot, arn[strings.LastIndexByte(arn, '/')+1:])
			dirs, _ := filepath.Glob(filepath.Join(fsRoot, "aws-backup-restore_*"))
			if len(dirs) != 1 {
				return 0, "", fmt.Errorf("restore job %s: got restore directories %v in %s, want one", aws.ToString(out.RestoreJobId), dirs, fsRoot)
			}
			return took, dirs[0], nil
		case types.RestoreJobStatusFailed, types.RestoreJobStatusAborted:
			return 0, "", fmt.Errorf("restore of %s: %s %s", rp, d.Status, aws.ToString(d.StatusMessage))
		}
		if err := rbSleep(ctx, 20*time.Millisecond); err != nil {
			return 0, "", err
		}
	}
}

func rbSleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
