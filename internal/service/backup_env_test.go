package service_test

import (
	"context"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/backup"
	"github.com/aws/aws-sdk-go-v2/service/backup/types"
	"github.com/jackc/pgx/v5"

	"github.com/coffer/coffer/internal/api/backupapi"
	"github.com/coffer/coffer/internal/api/sigv4"
	domain "github.com/coffer/coffer/internal/backup"
	"github.com/coffer/coffer/internal/blob"
	"github.com/coffer/coffer/internal/blob/localfs"
	"github.com/coffer/coffer/internal/clock"
	"github.com/coffer/coffer/internal/connector"
	"github.com/coffer/coffer/internal/connector/dir"
	"github.com/coffer/coffer/internal/connector/postgres"
	"github.com/coffer/coffer/internal/connector/volume"
	"github.com/coffer/coffer/internal/jobs"
	"github.com/coffer/coffer/internal/meta/sqlite"
	"github.com/coffer/coffer/internal/repo"
	"github.com/coffer/coffer/internal/server"
	"github.com/coffer/coffer/internal/service"
	"github.com/coffer/coffer/internal/vault"
)

const testRole = "arn:aws:iam::" + testAccount + ":role/service-role/AWSBackupDefaultServiceRole"

// dataEnv is a running Coffer with real storage, a job runner and
// connectors: the real server (SigV4) in front of the Service over SQLite,
// local-disk regions (or the ones opts gives) and a fake clock for the
// service and runner (jobs still run in real time).
type dataEnv struct {
	url    string
	clock  *clock.Fake
	store  *sqlite.Store
	svc    *service.Service
	runner *jobs.Runner
	vaults *vault.Manager
	dir    string
	gate   *gate
}

type dataOptions struct {
	resources []domain.Resource
	// regions overrides the storage of regions (default local directories).
	regions map[string]blob.Store
	workers int
	// dir overrides the EFS connector.
	dir *dir.Connector
	// dataDir reuses a data directory (restart tests).
	dataDir string
	// before runs after the store is opened and before the runner starts.
	before func(*sqlite.Store)
	clock  *clock.Fake
}

// gate blocks EFS backups of chosen roots in the connector's BeforeOpen
// hook until released, so tests can hold a job RUNNING.
type gate struct {
	mu      sync.Mutex
	blocked map[string]chan struct{}
	entered map[string]chan struct{}
	fail    map[string]error
	delay   map[string]time.Duration
}

func newGate() *gate {
	return &gate{blocked: map[string]chan struct{}{}, entered: map[string]chan struct{}{}, fail: map[string]error{}, delay: map[string]time.Duration{}}
}

// slow makes every open below root take d (a slow source: the backup
// still notices cancellation between files); entered is closed at the
// first open.
func (g *gate) slow(root string, d time.Duration) (entered <-chan struct{}) {
	g.mu.Lock()
	defer g.mu.Unlock()
	in := make(chan struct{})
	g.delay[root], g.entered[root] = d, in
	return in
}

// manyFiles writes n small files (for slow sources).
func manyFiles(t *testing.T, n int) string {
	t.Helper()
	files := map[string]string{}
	for i := range n {
		files[filepath.Join("d"+strconv.Itoa(i%10), "f"+strconv.Itoa(i))] = strconv.Itoa(i)
	}
	return writeFiles(t, files)
}

// hold makes backups of root block at their first open; entered is closed
// when a backup reached it.
func (g *gate) hold(root string) (release func(), entered <-chan struct{}) {
	g.mu.Lock()
	defer g.mu.Unlock()
	ch, in := make(chan struct{}), make(chan struct{})
	g.blocked[root], g.entered[root] = ch, in
	var once sync.Once
	return func() { once.Do(func() { close(ch) }) }, in
}

// failBelow makes every open below root fail with err.
func (g *gate) failBelow(root string, err error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.fail[root] = err
}

func (g *gate) beforeOpen(p string) error {
	g.mu.Lock()
	var wait chan struct{}
	var delay time.Duration
	for root, in := range g.entered {
		if in != nil && (p == root || strings.HasPrefix(p, root+"/")) {
			close(in)
			g.entered[root] = nil
		}
	}
	for root, ch := range g.blocked {
		if p == root || strings.HasPrefix(p, root+"/") {
			wait = ch
		}
	}
	for root, d := range g.delay {
		if p == root || strings.HasPrefix(p, root+"/") {
			delay = d
		}
	}
	var fail error
	for root, err := range g.fail {
		if strings.HasPrefix(p, root+"/") {
			fail = err
		}
	}
	g.mu.Unlock()
	if wait != nil {
		<-wait
	}
	time.Sleep(delay)
	return fail
}

func newDataEnv(t *testing.T, o dataOptions) *dataEnv {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	d := o.dataDir
	if d == "" {
		d = t.TempDir()
	}
	store, err := sqlite.Open(ctx, filepath.Join(d, "meta"), sqlite.Options{})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	if o.before != nil {
		o.before(store)
	}
	fake := o.clock
	if fake == nil {
		fake = clock.NewFake(time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC))
	}
	regions := o.regions
	if regions == nil {
		regions = map[string]blob.Store{}
	}
	for _, r := range testRegions {
		if regions[r] != nil {
			continue
		}
		st, err := localfs.New(ctx, localfs.Options{Root: filepath.Join(d, "storage", r), Create: true, NoSync: true})
		if err != nil {
			t.Fatal(err)
		}
		regions[r] = st
	}
	ks, err := repo.OpenKeystore(filepath.Join(d, "keys"))
	if err != nil {
		t.Fatal(err)
	}
	vaults, err := vault.New(vault.Options{Regions: regions, Keystore: ks, Clock: fake,
		// Sessions rotate after 50 ms idle, so that garbage collection
		// completes within a test (GC waits for writer sessions).
		Repo: repo.Options{CacheDir: filepath.Join(d, "cache"), PackSize: 4 << 20, Clock: clock.Real{}, HeartbeatInterval: 50 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	workers := o.workers
	if workers == 0 {
		workers = 2
	}
	runner, err := jobs.New(jobs.Options{Store: store, Clock: fake, Workers: workers, NodeID: "test-node",
		PollInterval: 20 * time.Millisecond, WatchInterval: 20 * time.Millisecond, LeaseDuration: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	g := newGate()
	dc := o.dir
	if dc == nil {
		dc = &dir.Connector{}
	}
	if dc.BeforeOpen == nil {
		dc.BeforeOpen = g.beforeOpen
	}
	svc, err := service.New(service.Deps{
		Store:         store,
		Clock:         fake,
		AccountID:     testAccount,
		Regions:       testRegions,
		DefaultRegion: "us-east-1",
		CallerRegion: func(ctx context.Context) (string, bool) {
			id, ok := server.IdentityFrom(ctx)
			return id.Region, ok
		},
		Data: service.DataDeps{
			Jobs:          runner,
			Vaults:        vaults,
			Resources:     connector.NewInventoryOf(o.resources...),
			Connectors:    connector.NewSet(dc, &volume.Connector{BlockSize: 64 << 10}, &postgres.Connector{}),
			Hostname:      "test-host",
			SweepInterval: -1,
			GCInterval:    -1,
			RestoreRoot:   filepath.Join(d, "restores"),
		},
	})
	if err != nil {
		t.Fatalf("service.New: %v", err)
	}
	if err := runner.Start(ctx); err != nil {
		t.Fatal(err)
	}
	v, err := sigv4.NewVerifier(sigv4.Options{Credentials: sigv4.StaticCredentials{testKey: testSecret}, Regions: testRegions})
	if err != nil {
		t.Fatal(err)
	}
	h := backupapi.NewHandler(svc, backupapi.HandlerOptions{
		RequestID: func(r *http.Request) string { return server.RequestID(r.Context()) },
	})
	srv := server.New(server.Options{Handler: h, Verifier: v})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	e := &dataEnv{url: "http://" + ln.Addr().String(), clock: fake, store: store, svc: svc, runner: runner, vaults: vaults, dir: d, gate: g}
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
		g.mu.Lock()
		for _, ch := range g.blocked {
			select {
			case <-ch:
			default:
				close(ch)
			}
		}
		g.mu.Unlock()
		runner.Close()
		vaults.Close()
		store.Close()
	})
	return e
}

func (e *dataEnv) client(region string) *backup.Client {
	return backup.New(backup.Options{
		Region:       region,
		BaseEndpoint: aws.String(e.url),
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: testKey, SecretAccessKey: testSecret}, nil
		}),
		RetryMaxAttempts: 1,
	})
}

// createVault creates a vault in us-east-1.
func (e *dataEnv) createVault(t *testing.T, name string) string {
	t.Helper()
	out, err := e.client("us-east-1").CreateBackupVault(context.Background(), &backup.CreateBackupVaultInput{BackupVaultName: aws.String(name)})
	if err != nil {
		t.Fatalf("CreateBackupVault: %v", err)
	}
	return aws.ToString(out.BackupVaultArn)
}

// start starts a backup job and returns its ID.
func (e *dataEnv) start(t *testing.T, vaultName, resourceArn string, mod func(*backup.StartBackupJobInput)) *backup.StartBackupJobOutput {
	t.Helper()
	in := &backup.StartBackupJobInput{BackupVaultName: aws.String(vaultName), ResourceArn: aws.String(resourceArn), IamRoleArn: aws.String(testRole)}
	if mod != nil {
		mod(in)
	}
	out, err := e.client("us-east-1").StartBackupJob(context.Background(), in)
	if err != nil {
		t.Fatalf("StartBackupJob(%s): %v", resourceArn, err)
	}
	return out
}

// wait polls DescribeBackupJob until the job is in one of the states.
func (e *dataEnv) wait(t *testing.T, id string, states ...types.BackupJobState) *backup.DescribeBackupJobOutput {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		d, err := e.client("us-east-1").DescribeBackupJob(context.Background(), &backup.DescribeBackupJobInput{BackupJobId: aws.String(id)})
		if err != nil {
			t.Fatalf("DescribeBackupJob: %v", err)
		}
		for _, s := range states {
			if d.State == s {
				return d
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %s: got state %s (%s), want one of %v", id, d.State, aws.ToString(d.StatusMessage), states)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// backupDone starts a backup and waits for it to complete.
func (e *dataEnv) backupDone(t *testing.T, vaultName, resourceArn string) *backup.DescribeBackupJobOutput {
	t.Helper()
	out := e.start(t, vaultName, resourceArn, nil)
	d := e.wait(t, aws.ToString(out.BackupJobId), types.BackupJobStateCompleted, types.BackupJobStateFailed, types.BackupJobStateAborted, types.BackupJobStateExpired)
	if d.State != types.BackupJobStateCompleted {
		t.Fatalf("backup of %s: got %s (%s), want COMPLETED", resourceArn, d.State, aws.ToString(d.StatusMessage))
	}
	return d
}

// openVault opens a vault's repository directly, for checking content with
// the engine.
func (e *dataEnv) openVault(t *testing.T, name string) *vault.Repo {
	t.Helper()
	v, err := e.store.GetVault(context.Background(), domain.VaultKey{Region: "us-east-1", AccountID: testAccount, Name: name})
	if err != nil {
		t.Fatal(err)
	}
	r, err := e.vaults.Open(context.Background(), v)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// snapshotOf returns the engine snapshot ID of a recovery point.
func (e *dataEnv) snapshotOf(t *testing.T, rpArn string) repo.ID {
	t.Helper()
	rp, err := e.store.GetRecoveryPoint(context.Background(), rpArn)
	if err != nil {
		t.Fatal(err)
	}
	id, err := repo.ParseID(rp.Engine.SnapshotID)
	if err != nil {
		t.Fatalf("recovery point %s has snapshot ID %q: %v", rpArn, rp.Engine.SnapshotID, err)
	}
	return id
}

var resourceSeq int

// efsResource declares a directory as an EFS resource.
func efsResource(path string) domain.Resource {
	resourceSeq++
	id := "fs-" + hex17(resourceSeq)
	return domain.Resource{ARN: domain.ResourceARN(domain.EFS, "us-east-1", testAccount, id), Type: domain.EFS,
		Region: "us-east-1", AccountID: testAccount, ID: id, Name: "fs" + id[len(id)-3:], Target: path, Origin: "config"}
}

func ebsResource(path string) domain.Resource {
	resourceSeq++
	id := "vol-" + hex17(resourceSeq)
	return domain.Resource{ARN: domain.ResourceARN(domain.EBS, "us-east-1", testAccount, id), Type: domain.EBS,
		Region: "us-east-1", AccountID: testAccount, ID: id, Name: "volume-" + id[len(id)-3:], Target: path, Origin: "config"}
}

func rdsResource(name, dsn string) domain.Resource {
	return domain.Resource{ARN: domain.ResourceARN(domain.RDS, "us-east-1", testAccount, name), Type: domain.RDS,
		Region: "us-east-1", AccountID: testAccount, ID: name, Name: name, Target: dsn, Origin: "config"}
}

func hex17(n int) string {
	const digits = "0123456789abcdef"
	b := []byte("00000000000000000")
	for i := len(b) - 1; i >= 0 && n > 0; i-- {
		b[i] = digits[n%16]
		n /= 16
	}
	return string(b)
}

// writeFiles creates a small tree.
func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	d := t.TempDir()
	for name, content := range files {
		p := filepath.Join(d, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return d
}

// pgLock holds an ACCESS EXCLUSIVE lock on table in a transaction until the
// returned function is called (or the server goes away), so that pg_dump
// waits and a test can act while the dump is in progress.
func pgLock(t *testing.T, dsn, table string) func() {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(context.Background(), "BEGIN; LOCK TABLE "+table+" IN ACCESS EXCLUSIVE MODE"); err != nil {
		t.Fatal(err)
	}
	return func() { conn.Close(context.Background()) }
}

func waitUntil(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 30s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// collectGarbage runs CollectGarbage until the vault's repository stores
// at most want bytes (a plan waits for the writers' sessions to rotate).
func (e *dataEnv) collectGarbage(t *testing.T, vr *vault.Repo, want int64) repo.Stats {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		if err := e.svc.CollectGarbage(context.Background()); err != nil {
			t.Fatalf("CollectGarbage: %v", err)
		}
		st, err := vr.Repository.Stats(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if st.StoredBytes <= want || time.Now().After(deadline) {
			return *st
		}
		time.Sleep(60 * time.Millisecond)
	}
}

func waitABit() { time.Sleep(50 * time.Millisecond) }
