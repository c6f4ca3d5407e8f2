package main

// coffer-bench backup: the same data sets backed up through the AWS Backup
// API (StartBackupJob, polled with DescribeBackupJob until COMPLETED) and
// by the engine's own CLI (`coffer repo backup`), side by side.

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
	"strings"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/backup"
	"github.com/aws/aws-sdk-go-v2/service/backup/types"

	"github.com/coffer/coffer/internal/bench"
)

func init() {
	commands["backup"] = command{
		summary: "backups through the API (StartBackupJob until COMPLETED) vs the engine CLI (coffer repo backup)",
		run:     runBackupBench,
	}
}

const (
	bbAccount = "111122223333"
	bbRole    = "arn:aws:iam::111122223333:role/service-role/AWSBackupDefaultServiceRole"
	bbDataFS  = "fs-000000000000da7a0"
	bbTreeFS  = "fs-00000000000100000"
)

type backupBenchFlags struct {
	work, coffer, size string
	files, runs        int
	seed               uint64
	keep, noDrop       bool
}

func runBackupBench(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var f backupBenchFlags
	fs := flag.NewFlagSet("coffer-bench backup", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&f.work, "work", filepath.Join(os.TempDir(), "coffer-bench-backup"), "work directory (wiped first)")
	fs.StringVar(&f.coffer, "coffer", "", "coffer binary (default: go build ./cmd/coffer into the work directory)")
	fs.StringVar(&f.size, "size", "1GiB", "size of the engine benchmark's data set (0 skips it)")
	fs.IntVar(&f.files, "files", 100000, "files of the many-files tree (0 skips it)")
	fs.Uint64Var(&f.seed, "seed", 1, "data set seed")
	fs.IntVar(&f.runs, "runs", 3, "rounds per data set (engine and API interleaved, alternating which goes first); the table shows the fastest")
	fs.BoolVar(&f.keep, "keep", false, "keep the work directory")
	fs.BoolVar(&f.noDrop, "no-drop-caches", false, "do not drop the page cache before each backup")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if err := backupBench(ctx, f, stdout, stderr); err != nil {
		fmt.Fprintln(stderr, "coffer-bench backup:", err)
		return 1
	}
	return 0
}

// bbRow is one line of the result table.
type bbRow struct {
	name        string
	engine, api time.Duration
	note        string
}

func backupBench(ctx context.Context, f backupBenchFlags, stdout, log io.Writer) error {
	work, err := filepath.Abs(f.work)
	if err != nil {
		return err
	}
	cleanup, err := freshWork(work, f.keep)
	if err != nil {
		return err
	}
	defer cleanup()
	bin := f.coffer
	if bin == "" {
		bin = filepath.Join(work, "coffer")
		fmt.Fprintln(log, "building coffer")
		build := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/coffer/coffer/cmd/coffer")
		build.Stdout, build.Stderr = log, log
		if err := build.Run(); err != nil {
			return fmt.Errorf("building coffer: %w", err)
		}
	}
	var size int64
	if f.size != "0" {
		if size, err = parseSize(f.size); err != nil {
			return err
		}
	}
	data, tree := filepath.Join(work, "data"), filepath.Join(work, "tree")
	var ds *bench.Dataset
	if size > 0 {
		fmt.Fprintf(log, "generating the %s data set in %s\n", f.size, data)
		if ds, err = bench.Generate(data, f.seed, size); err != nil {
			return err
		}
	}
	if f.files > 0 {
		fmt.Fprintf(log, "generating %d files in %s\n", f.files, tree)
		if err := bench.ManyFiles(tree, f.seed, f.files); err != nil {
			return err
		}
	}
	drop := !f.noDrop
	dropped := drop && bench.DropCaches() == nil

	// The engine: coffer repo init into a fresh repository, then a first
	// and a no-change backup as child processes.
	engine := func(dir, name string, drop bool) ([2]time.Duration, error) {
		repoArgs := []string{"--repo", filepath.Join(work, "repo-"+name), "--keystore", filepath.Join(work, "repo-keys"), "--key", name,
			"--cache-dir", filepath.Join(work, "repo-cache")}
		c := func(sub string, extra ...string) bench.Command {
			return bench.Command{Path: bin, Args: append(append([]string{"repo", sub}, repoArgs...), extra...)}
		}
		var out [2]time.Duration
		if m := bench.Run(ctx, "engine", "init", c("init"), false); m.Err != nil {
			return out, m.Err
		}
		for i := range out {
			m := bench.Run(ctx, "engine", fmt.Sprintf("backup%d", i+1), c("backup", dir), drop)
			if m.Err != nil {
				return out, m.Err
			}
			fmt.Fprintf(log, "engine %-8s backup %d: %.2fs\n", name, i+1, m.Wall.Seconds())
			out[i] = m.Wall
		}
		return out, nil
	}

	// The API: coffer serve with both trees declared as EFS file systems;
	// each round backs up into a new vault (a new repository).
	srv, err := startBBServer(ctx, bin, work, map[string]string{bbDataFS: data, bbTreeFS: tree}, log)
	if err != nil {
		return err
	}
	defer srv.stop()
	api := func(fsID, name string, drop bool) ([2]time.Duration, error) {
		var out [2]time.Duration
		if _, err := srv.c.CreateBackupVault(ctx, &backup.CreateBackupVaultInput{BackupVaultName: aws.String(name)}); err != nil {
			return out, err
		}
		arn := "arn:aws:elasticfilesystem:us-east-1:" + bbAccount + ":file-system/" + fsID
		for i := range out {
			if drop {
				_ = bench.DropCaches()
			}
			d, err := srv.backup(ctx, name, arn)
			if err != nil {
				return out, err
			}
			fmt.Fprintf(log, "api    %-8s backup %d: %.2fs\n", name, i+1, d.Seconds())
			out[i] = d
		}
		return out, nil
	}
	// compare runs the rounds for one tree and returns the fastest times.
	compare := func(dir, fsID, name string, drop bool) (e, a [2]time.Duration, err error) {
		fastest := func(best *[2]time.Duration, got [2]time.Duration) {
			for i := range got {
				if best[i] == 0 || got[i] < best[i] {
					best[i] = got[i]
				}
			}
		}
		for r := range max(f.runs, 1) {
			round := fmt.Sprintf("%s-%d", name, r+1)
			steps := []func() error{
				func() error { got, err := engine(dir, round, drop); fastest(&e, got); return err },
				func() error { got, err := api(fsID, round, drop); fastest(&a, got); return err },
			}
			if r%2 == 1 {
				steps[0], steps[1] = steps[1], steps[0]
			}
			for _, step := range steps {
				if err := step(); err != nil {
					return e, a, err
				}
			}
		}
		return e, a, nil
	}

	var rows []bbRow
	if size > 0 {
		e, a, err := compare(data, bbDataFS, "data", drop)
		if err != nil {
			return err
		}
		label := fmt.Sprintf("%s data set (%d files)", f.size, ds.Files)
		rows = append(rows,
			bbRow{label + ", first backup", e[0], a[0], "target: API ≤ 1.10 × engine"},
			bbRow{label + ", no-change backup", e[1], a[1], ""})
	}
	if f.files > 0 {
		e, a, err := compare(tree, bbTreeFS, "tree", false) // metadata-bound: warm caches, as tree100k
		if err != nil {
			return err
		}
		label := fmt.Sprintf("%d-file tree", f.files)
		rows = append(rows,
			bbRow{label + ", first backup", e[0], a[0], ""},
			bbRow{label + ", no-change backup", e[1], a[1], "target: API < 2 s"})
	}
	if err := srv.stop(); err != nil {
		return err
	}

	fmt.Fprintf(stdout, "\n%d CPUs; local-disk storage; page cache dropped before each backup of the data set: %v (the many-files tree runs warm, as `coffer-bench tree100k`); fastest of %d interleaved rounds.\n\n", runtime.NumCPU(), dropped, max(f.runs, 1))
	fmt.Fprintln(stdout, "| backup | engine: coffer repo backup (s) | API: StartBackupJob → COMPLETED (s) | API / engine | |")
	fmt.Fprintln(stdout, "|---|---:|---:|---:|---|")
	for _, r := range rows {
		fmt.Fprintf(stdout, "| %s | %.2f | %.2f | %.2f | %s |\n", r.name, r.engine.Seconds(), r.api.Seconds(), r.api.Seconds()/r.engine.Seconds(), r.note)
	}
	fmt.Fprintln(stdout, "\nEngine: wall time of the whole `coffer repo backup` process (start, open, back up, commit, exit). API: from the StartBackupJob call to the first DescribeBackupJob (polled every 20 ms) that reports COMPLETED, with the server already running; the first backup into the vault also creates its repository.")
	return nil
}

// bbServer is a running `coffer serve` and a client for it.
type bbServer struct {
	cmd  *exec.Cmd
	c    *backup.Client
	logf *os.File
	done bool
}

func startBBServer(ctx context.Context, bin, work string, fss map[string]string, log io.Writer) (*bbServer, error) {
	var cfg strings.Builder
	cfg.WriteString("account_id: \"" + bbAccount + "\"\nresources:\n")
	for id, p := range fss {
		fmt.Fprintf(&cfg, "  - arn: \"arn:aws:elasticfilesystem:us-east-1:%s:file-system/%s\"\n    path: %q\n", bbAccount, id, p)
	}
	cfgPath := filepath.Join(work, "coffer.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg.String()), 0o600); err != nil {
		return nil, err
	}
	logf, err := os.Create(filepath.Join(work, "coffer.log"))
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "serve", "--data-dir", filepath.Join(work, "coffer-data"), "--listen", "127.0.0.1:0", "--config", cfgPath)
	cmd.Env = append(os.Environ(), "COFFER_ACCESS_KEY_ID=", "COFFER_SECRET_ACCESS_KEY=")
	cmd.Stderr = logf
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		logf.Close()
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, err
	}
	env := readBanner(stdout)
	s := &bbServer{cmd: cmd, logf: logf}
	if env["AWS_ENDPOINT_URL"] == "" {
		_ = s.stop()
		return nil, fmt.Errorf("coffer serve printed no endpoint (log: %s)", logf.Name())
	}
	key, secret := env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"]
	s.c = backup.New(backup.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(env["AWS_ENDPOINT_URL"]),
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: key, SecretAccessKey: secret}, nil
		}),
	})
	fmt.Fprintf(log, "coffer serve at %s (log %s)\n", env["AWS_ENDPOINT_URL"], logf.Name())
	return s, nil
}

// backup starts a backup job and waits for it to complete, returning the
// wall time from the request to the first COMPLETED answer.
func (s *bbServer) backup(ctx context.Context, vaultName, arn string) (time.Duration, error) {
	t0 := time.Now()
	out, err := s.c.StartBackupJob(ctx, &backup.StartBackupJobInput{BackupVaultName: aws.String(vaultName), ResourceArn: aws.String(arn), IamRoleArn: aws.String(bbRole)})
	if err != nil {
		return 0, err
	}
	for {
		d, err := s.c.DescribeBackupJob(ctx, &backup.DescribeBackupJobInput{BackupJobId: out.BackupJobId})
		if err != nil {
			return 0, err
		}
		switch d.State {
		case types.BackupJobStateCompleted:
			return time.Since(t0), nil
		case types.BackupJobStateFailed, types.BackupJobStateAborted, types.BackupJobStateExpired:
			return 0, fmt.Errorf("backup job %s: %s: %s", aws.ToString(out.BackupJobId), d.State, aws.ToString(d.StatusMessage))
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// stop stops the server gracefully (idempotent).
func (s *bbServer) stop() error {
	if s.done {
		return nil
	}
	s.done = true
	defer s.logf.Close()
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	if err := s.cmd.Wait(); err != nil {
		return fmt.Errorf("coffer serve exited with %v (log: %s)", err, s.logf.Name())
	}
	return nil
}
