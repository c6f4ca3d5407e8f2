package main

// coffer-bench api: request throughput and latency of the AWS Backup API
// (CreateBackupVault, DescribeBackupVault, ListBackupVaults), SigV4 on,
// measured with one load generator against Coffer and against moto_server
// in the same run.

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

func init() {
	commands["api"] = command{
		summary: "API requests/s and p50/p99 latency, Coffer vs moto_server (Create/Describe/ListBackupVaults)",
		run:     runAPIBench,
	}
}

type apiBenchFlags struct {
	duration, warmup time.Duration
	workers, vaults  int
	cofferPath, moto string
	servers, ops     string
	cpuProfile       string
	keep             bool
	// config is a configuration file for coffer serve (--config), ""
	// for none (the restore benchmark declares its resources there).
	config string
}

func runAPIBench(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var f apiBenchFlags
	fs := flag.NewFlagSet("coffer-bench api", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.DurationVar(&f.duration, "duration", 5*time.Second, "measured time per operation and server")
	fs.DurationVar(&f.warmup, "warmup", time.Second, "unmeasured warm-up before each measurement")
	fs.IntVar(&f.workers, "workers", 8, "concurrent workers (one keep-alive connection each)")
	fs.IntVar(&f.vaults, "vaults", 20, "vaults created before measuring (what Describe and List read)")
	fs.StringVar(&f.cofferPath, "coffer", "", "coffer binary (default: go build ./cmd/coffer into the work directory)")
	fs.StringVar(&f.moto, "moto", "moto_server", "moto_server command")
	fs.StringVar(&f.servers, "servers", "coffer,moto", "servers to measure, comma-separated")
	fs.StringVar(&f.ops, "ops", "list,describe,create", "operations to measure, comma-separated: list, describe, create")
	fs.StringVar(&f.cpuProfile, "cpuprofile", "", "write Coffer's CPU profile of the whole run to this file")
	fs.BoolVar(&f.keep, "keep", false, "keep the work directory")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if f.workers < 1 || f.vaults < 1 || f.duration <= 0 {
		fmt.Fprintln(stderr, "coffer-bench api: --workers, --vaults and --duration must be positive")
		return 2
	}
	// The load generator shares the two cores with the server it measures:
	// its own garbage collections (signing allocates) would delay requests
	// and show up as server latency. A higher GC target keeps the harness
	// out of the figures; it is the same for both servers.
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	work, err := os.MkdirTemp("", "coffer-bench-api-")
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	if f.keep {
		fmt.Fprintln(stderr, "work directory:", work)
	} else {
		defer os.RemoveAll(work)
	}
	results, err := apiBench(ctx, f, work, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "coffer-bench api:", err)
		return 1
	}
	apiReport(stdout, f, results)
	return 0
}

// apiBench runs every operation against every server, one server at a
// time (the other is not running, so it takes no CPU).
func apiBench(ctx context.Context, f apiBenchFlags, work string, log io.Writer) ([]apiResult, error) {
	var results []apiResult
	for _, name := range strings.Split(f.servers, ",") {
		var (
			t    apiTarget
			stop func() error
			err  error
		)
		switch strings.TrimSpace(name) {
		case "coffer":
			t, stop, err = startCoffer(ctx, f, work, log)
		case "moto":
			t, stop, err = startMoto(ctx, f, work, log)
		default:
			return nil, fmt.Errorf("unknown server %q (want coffer or moto)", name)
		}
		if err != nil {
			return nil, err
		}
		rs, err := apiBenchTarget(ctx, f, t, log)
		if serr := stop(); serr != nil && err == nil {
			err = serr
		}
		if err != nil {
			return nil, err
		}
		results = append(results, rs...)
	}
	return results, nil
}

// apiBenchTarget creates the vault population, then measures List,
// Describe and Create (last, so that the first two see a fixed number of
// vaults).
func apiBenchTarget(ctx context.Context, f apiBenchFlags, t apiTarget, log io.Writer) ([]apiResult, error) {
	hc := apiClient(1)
	signer := v4.NewSigner()
	for i := range f.vaults {
		req := apiRequest{method: "PUT", path: fmt.Sprintf("/backup-vaults/bench-base-%04d", i), body: []byte(`{"BackupVaultTags":{"bench":"api"}}`)}
		if err := apiSend(ctx, hc, signer, t, req); err != nil {
			return nil, fmt.Errorf("%s: creating the vault population: %w", t.name, err)
		}
	}
	hc.CloseIdleConnections()
	ops := []apiOp{
		{name: "ListBackupVaults", make: func(w, n int) apiRequest {
			return apiRequest{method: "GET", path: "/backup-vaults/"}
		}},
		{name: "DescribeBackupVault", make: func(w, n int) apiRequest {
			return apiRequest{method: "GET", path: fmt.Sprintf("/backup-vaults/bench-base-%04d", (w*7919+n)%f.vaults)}
		}},
		{name: "CreateBackupVault", make: func(w, n int) apiRequest {
			return apiRequest{method: "PUT", path: fmt.Sprintf("/backup-vaults/new-w%d-%d", w, n),
				body: fmt.Appendf(nil, `{"CreatorRequestId":"req-w%d-%d"}`, w, n)}
		}},
	}
	var out []apiResult
	for i, op := range ops {
		if !strings.Contains(","+f.ops+",", ","+[]string{"list", "describe", "create"}[i]+",") {
			continue
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		r := apiRun(ctx, t, op, f.workers, f.warmup, f.duration)
		fmt.Fprintf(log, "%-7s %-20s %8.0f req/s  p50 %6.2f ms  p99 %6.2f ms  errors %d\n", t.name, op.name, r.rate(), ms(r.p50), ms(r.p99), r.errors)
		if r.errors > 0 {
			fmt.Fprintf(log, "        first error: %s\n", r.firstErr)
		}
		out = append(out, r)
	}
	return out, nil
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// startCoffer builds (unless --coffer) and starts `coffer serve` on a free
// port with a fresh data directory, and reads the endpoint and the
// generated credentials from its banner.
// readBanner reads `coffer serve`'s banner from its stdout up to the
// endpoint line and returns the exported variables (credentials, region,
// endpoint); the rest of the output is drained in the background.
func readBanner(stdout io.Reader) map[string]string {
	env := map[string]string{}
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		if kv, ok := strings.CutPrefix(sc.Text(), "export "); ok {
			k, v, _ := strings.Cut(kv, "=")
			env[k] = v
			if k == "AWS_ENDPOINT_URL" {
				break
			}
		}
	}
	go func() { _, _ = io.Copy(io.Discard, stdout) }()
	return env
}

// freshWork empties (or creates) a benchmark's work directory; cleanup
// removes it unless keep.
func freshWork(work string, keep bool) (cleanup func(), err error) {
	if err := os.RemoveAll(work); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(work, 0o755); err != nil {
		return nil, err
	}
	if keep {
		return func() {}, nil
	}
	return func() { os.RemoveAll(work) }, nil
}

func startCoffer(ctx context.Context, f apiBenchFlags, work string, log io.Writer) (apiTarget, func() error, error) {
	bin := f.cofferPath
	if bin == "" {
		bin = filepath.Join(work, "coffer")
		build := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/coffer/coffer/cmd/coffer")
		build.Stdout, build.Stderr = log, log
		if err := build.Run(); err != nil {
			return apiTarget{}, nil, fmt.Errorf("building coffer: %w", err)
		}
	}
	logFile, err := os.Create(filepath.Join(work, "coffer.log"))
	if err != nil {
		return apiTarget{}, nil, err
	}
	cmd := exec.Command(bin, "serve", "--data-dir", filepath.Join(work, "coffer-data"), "--listen", "127.0.0.1:0")
	if f.config != "" {
		cmd.Args = append(cmd.Args, "--config", f.config)
	}
	cmd.Env = append(os.Environ(), "COFFER_ACCESS_KEY_ID=", "COFFER_SECRET_ACCESS_KEY=")
	if f.cpuProfile != "" {
		abs, _ := filepath.Abs(f.cpuProfile)
		cmd.Env = append(cmd.Env, "COFFER_CPUPROFILE="+abs)
	}
	cmd.Stderr = logFile
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		logFile.Close()
		return apiTarget{}, nil, err
	}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return apiTarget{}, nil, err
	}
	env := readBanner(stdout)
	stop := func() error {
		defer logFile.Close()
		_ = cmd.Process.Signal(syscall.SIGTERM)
		err := cmd.Wait()
		if err != nil {
			return fmt.Errorf("coffer exited with %v (log: %s)", err, logFile.Name())
		}
		return nil
	}
	if env["AWS_ENDPOINT_URL"] == "" || env["AWS_SECRET_ACCESS_KEY"] == "" {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		logFile.Close()
		return apiTarget{}, nil, fmt.Errorf("coffer printed no endpoint and credentials (log: %s)", logFile.Name())
	}
	t := apiTarget{
		name:     "coffer",
		endpoint: env["AWS_ENDPOINT_URL"],
		creds:    aws.Credentials{AccessKeyID: env["AWS_ACCESS_KEY_ID"], SecretAccessKey: env["AWS_SECRET_ACCESS_KEY"]},
		region:   env["AWS_DEFAULT_REGION"],
		pid:      cmd.Process.Pid,
	}
	return t, stop, nil
}

// startMoto starts moto_server on a free port of 127.0.0.1 and waits until
// it answers.
func startMoto(ctx context.Context, f apiBenchFlags, work string, log io.Writer) (apiTarget, func() error, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return apiTarget{}, nil, err
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	logFile, err := os.Create(filepath.Join(work, "moto.log"))
	if err != nil {
		return apiTarget{}, nil, err
	}
	cmd := exec.Command(f.moto, "-H", "127.0.0.1", "-p", fmt.Sprint(port))
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // moto may fork; stop the group
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return apiTarget{}, nil, fmt.Errorf("starting %s: %w", f.moto, err)
	}
	stop := func() error {
		defer logFile.Close()
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
		return nil
	}
	t := apiTarget{
		name:     "moto",
		endpoint: fmt.Sprintf("http://127.0.0.1:%d", port),
		creds:    aws.Credentials{AccessKeyID: "AKIAMOTOBENCHMARK000", SecretAccessKey: "moto-bench-secret"},
		region:   "us-east-1",
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get(t.endpoint + "/moto-api/")
		if err == nil {
			resp.Body.Close()
			return t, stop, nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			_ = stop()
			return apiTarget{}, nil, fmt.Errorf("moto_server did not answer on port %d within 60s (log: %s)", port, logFile.Name())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// apiReport prints the results as Markdown: one row per operation and
// server, then Coffer against moto with the targets.
func apiReport(w io.Writer, f apiBenchFlags, rs []apiResult) {
	fmt.Fprintf(w, "API benchmark: %d workers with keep-alive connections, every request signed with SigV4 (aws-sdk-go-v2 signer); "+
		"%v measured per operation after %v warm-up; %d vaults in the region; %d CPUs shared by server and load generator.\n\n",
		f.workers, f.duration, f.warmup, f.vaults, runtime.NumCPU())
	fmt.Fprintln(w, "| Operation | Server | Requests | Requests/s | p50 (ms) | p99 (ms) | Errors |")
	fmt.Fprintln(w, "|---|---|---:|---:|---:|---:|---:|")
	for _, r := range rs {
		fmt.Fprintf(w, "| %s | %s | %d | %.0f | %.2f | %.2f | %d |\n", r.op, r.target, r.requests, r.rate(), ms(r.p50), ms(r.p99), r.errors)
	}
	byKey := map[string]apiResult{}
	for _, r := range rs {
		byKey[r.target+"/"+r.op] = r
	}
	var rows []string
	for _, r := range rs {
		if r.target != "coffer" {
			continue
		}
		m, ok := byKey["moto/"+r.op]
		if !ok || m.rate() == 0 {
			continue
		}
		ratio := r.rate() / m.rate()
		verdict := "meets"
		if ratio < 20 || r.p99 >= 5*time.Millisecond {
			verdict = "**misses**"
		}
		rows = append(rows, fmt.Sprintf("| %s | %.0f | %.0f | %.1f× | %.2f | %s |", r.op, r.rate(), m.rate(), ratio, ms(r.p99), verdict))
	}
	if len(rows) > 0 {
		fmt.Fprintln(w)
		fmt.Fprintln(w, "| Operation | Coffer req/s | moto req/s | Coffer / moto | Coffer p99 (ms) | Target: ≥ 20× and p99 < 5 ms |")
		fmt.Fprintln(w, "|---|---:|---:|---:|---:|---|")
		for _, row := range rows {
			fmt.Fprintln(w, row)
		}
	}
	for _, r := range rs {
		if r.errors > 0 {
			fmt.Fprintf(w, "\n%s %s: %d errors, first: %s\n", r.target, r.op, r.errors, r.firstErr)
		}
	}
}
