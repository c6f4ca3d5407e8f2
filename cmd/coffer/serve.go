package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"

	"github.com/coffer/coffer/internal/api/backupapi"
	"github.com/coffer/coffer/internal/api/sigv4"
	"github.com/coffer/coffer/internal/config"
	"github.com/coffer/coffer/internal/meta/sqlite"
	"github.com/coffer/coffer/internal/server"
	"github.com/coffer/coffer/internal/service"
)

// serve is `coffer serve`: it loads the configuration (defaults < file <
// COFFER_* environment < flags), opens the metadata store in the data
// directory, resolves the credentials (generating a pair on first start),
// prints how to reach the server, and serves the AWS Backup API until ctx
// is cancelled (SIGINT/SIGTERM), then drains in-flight requests and closes
// the store. The banner goes to stdout, logs to stderr.
func serve(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("coffer serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "", "address to listen on, host:port (default "+config.DefaultListen+"; env "+config.EnvListen+")")
	dataDir := fs.String("data-dir", "", "directory of Coffer's state (default "+config.DefaultDataDir+"; env "+config.EnvDataDir+")")
	configPath := fs.String("config", "", "YAML configuration file (optional)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: coffer serve [--listen ADDR] [--data-dir DIR] [--config FILE]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "coffer serve: unexpected argument %q\n", fs.Arg(0))
		fs.Usage()
		return 2
	}

	cfg, err := config.Load(*configPath)
	if err != nil {
		fmt.Fprintln(stderr, "coffer serve:", err)
		return 1
	}
	if *listen != "" {
		cfg.Listen = *listen
	}
	if *dataDir != "" {
		cfg.DataDir = *dataDir
	}
	if err := cfg.Resolve(); err != nil {
		fmt.Fprintln(stderr, "coffer serve:", err)
		return 1
	}
	if err := cfg.Validate(); err != nil {
		fmt.Fprintln(stderr, "coffer serve: invalid configuration:")
		for _, line := range strings.Split(err.Error(), "\n") {
			fmt.Fprintln(stderr, "  "+line)
		}
		return 1
	}
	log := cfg.Log.NewLogger(stderr)
	tuneGC(log)
	if err := serveConfig(ctx, cfg, *configPath, stdout, log); err != nil {
		log.LogAttrs(context.WithoutCancel(ctx), slog.LevelError, "coffer serve failed", slog.String("error", err.Error()))
		return 1
	}
	return 0
}

// serverGCPercent is the garbage collector's target for `coffer serve`
// when GOGC is not set. The server's live heap is small (tens of MiB: the
// vault cache, open indexes' maps are mmap'd, not heap), and most of its
// allocation is short-lived request garbage; Go's default of 100 makes it
// collect about 40 times a second under API load, and the pauses and
// assist work show up as tail latency (measured by coffer-bench api: p99
// 5.0–5.7 ms at 100, 3.7–4.1 ms at 400, same machine, back to back).
// Setting GOGC in the environment overrides it, as for any Go program.
// Jobs, which allocate far more than requests, are each followed by a
// collection (collectJobGarbage), so that the high target does not leave
// the next job growing the heap into fresh pages.
const serverGCPercent = 400

// tuneGC applies serverGCPercent unless the operator chose a GOGC.
func tuneGC(log *slog.Logger) {
	if os.Getenv("GOGC") != "" {
		return
	}
	debug.SetGCPercent(serverGCPercent)
	log.LogAttrs(context.Background(), slog.LevelDebug, "garbage collector target", slog.Int("gc_percent", serverGCPercent))
}

// serveConfig wires the server for a validated configuration and serves until ctx
// ends.
func serveConfig(ctx context.Context, cfg *config.Config, configPath string, stdout io.Writer, log *slog.Logger) error {
	for _, p := range cfg.CheckResources() {
		log.LogAttrs(ctx, slog.LevelWarn, "resource not served", slog.String("problem", p.String()))
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("create data directory: %w", err)
	}
	store, err := sqlite.Open(ctx, cfg.DataDir, sqlite.Options{Logger: log})
	if err != nil {
		return fmt.Errorf("open metadata store: %w", err)
	}
	defer func() {
		if err := store.Close(); err != nil {
			log.LogAttrs(context.WithoutCancel(ctx), slog.LevelError, "closing the metadata store", slog.String("error", err.Error()))
		}
	}()

	fromConfig := len(cfg.Credentials) > 0
	creds, created, err := config.LoadOrCreateCredentials(cfg.DataDir, cfg)
	if err != nil {
		return err
	}
	verifier, err := sigv4.NewVerifier(sigv4.Options{
		Credentials: sigv4.StaticCredentials(config.CredentialMap(creds)),
		Regions:     cfg.RegionNames(),
	})
	if err != nil {
		return err
	}

	data, err := openData(ctx, cfg, store, log)
	if err != nil {
		return err
	}
	defer func() {
		if err := data.close(); err != nil {
			log.LogAttrs(context.WithoutCancel(ctx), slog.LevelError, "closing the data plane", slog.String("error", err.Error()))
		}
	}()

	svc, err := service.New(service.Deps{
		Store:         store,
		Logger:        log,
		AccountID:     cfg.AccountID,
		Regions:       cfg.RegionNames(),
		DefaultRegion: cfg.DefaultRegion,
		CallerRegion: func(ctx context.Context) (string, bool) {
			id, ok := server.IdentityFrom(ctx)
			return id.Region, ok
		},
		Data: data.deps,
	})
	if err != nil {
		return err
	}
	if err := data.start(ctx); err != nil {
		return err
	}
	api := backupapi.NewHandler(svc, backupapi.HandlerOptions{
		Logger:       log,
		RequestID:    func(r *http.Request) string { return server.RequestID(r.Context()) },
		MaxBodyBytes: int64(cfg.Limits.MaxRequestBody),
	})
	srv := server.New(server.Options{
		Handler:         api,
		Verifier:        verifier,
		Logger:          log,
		MaxBodyBytes:    int64(cfg.Limits.MaxRequestBody),
		ShutdownTimeout: cfg.ShutdownTimeout,
	})

	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Listen, err)
	}
	credSource := credentialSource(cfg, configPath, fromConfig, created)
	printBanner(stdout, cfg, ln.Addr().String(), creds[0], credSource)
	log.LogAttrs(ctx, slog.LevelInfo, "serving", slog.String("addr", ln.Addr().String()),
		slog.String("data_dir", cfg.DataDir), slog.Any("regions", cfg.RegionNames()), slog.String("account", cfg.AccountID))
	err = srv.Serve(ctx, ln)
	log.LogAttrs(context.WithoutCancel(ctx), slog.LevelInfo, "stopped")
	return err
}

// credSource says where the printed credentials come from and whether
// the secret may be printed.
type credSource struct {
	what        string
	printSecret bool
}

// credentialSource decides what the banner says about the credentials.
// The secret is printed when Coffer generated it (now, or on an earlier
// first start, into <data_dir>/credentials.json): it is the operator's
// local development secret and they have nowhere else to read it. A secret
// the operator configured (config file or COFFER_SECRET_ACCESS_KEY) is not
// printed: they already have it, and a banner may end up in shared logs.
func credentialSource(cfg *config.Config, configPath string, fromConfig, created bool) credSource {
	file := filepath.Join(cfg.DataDir, config.CredentialsFile)
	switch {
	case created:
		return credSource{what: "generated now and stored in " + file + " (mode 0600)", printSecret: true}
	case !fromConfig:
		return credSource{what: "from " + file, printSecret: true}
	case os.Getenv(config.EnvAccessKeyID) != "":
		return credSource{what: "from " + config.EnvAccessKeyID + "/" + config.EnvSecretAccessKey}
	default:
		return credSource{what: "from " + configPath}
	}
}

// printBanner prints the endpoint, regions, account and the environment
// lines that point the AWS CLI, boto3 and the Go SDK at this server.
func printBanner(w io.Writer, cfg *config.Config, addr string, cred config.Credential, src credSource) {
	endpoint := "http://" + clientAddr(addr)
	var regions []string
	for _, r := range cfg.RegionNames() {
		if r == cfg.DefaultRegion {
			r += " (default)"
		}
		regions = append(regions, r)
	}
	fmt.Fprintf(w, "Coffer %s is serving the AWS Backup API\n", version)
	fmt.Fprintf(w, "  endpoint:  %s\n", endpoint)
	fmt.Fprintf(w, "  regions:   %s\n", strings.Join(regions, ", "))
	fmt.Fprintf(w, "  account:   %s\n", cfg.AccountID)
	fmt.Fprintf(w, "  data dir:  %s\n", cfg.DataDir)
	fmt.Fprintf(w, "Credentials %s. To use them:\n", src.what)
	fmt.Fprintf(w, "export AWS_ACCESS_KEY_ID=%s\n", cred.AccessKeyID)
	if src.printSecret {
		fmt.Fprintf(w, "export AWS_SECRET_ACCESS_KEY=%s\n", cred.SecretAccessKey.Reveal())
	} else {
		fmt.Fprintf(w, "export AWS_SECRET_ACCESS_KEY=...   # the secret you configured (not printed)\n")
	}
	fmt.Fprintf(w, "export AWS_DEFAULT_REGION=%s\n", cfg.DefaultRegion)
	fmt.Fprintf(w, "export AWS_REGION=%s\n", cfg.DefaultRegion)
	fmt.Fprintf(w, "export AWS_ENDPOINT_URL=%s\n", endpoint)
}

// clientAddr turns a listening address into one a local client can dial:
// an unspecified host (0.0.0.0, ::) becomes the loopback address.
func clientAddr(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		if ip != nil && ip.To4() == nil {
			host = "::1"
		} else {
			host = "127.0.0.1"
		}
	}
	return net.JoinHostPort(host, port)
}
