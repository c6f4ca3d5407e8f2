package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

func TestDefaultIsValid(t *testing.T) {
	t.Parallel()
	c := Default()
	c.DataDir = t.TempDir()
	if err := c.Resolve(); err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("Validate(Default()): got %v, want nil", err)
	}
	if got, want := c.RegionNames(), []string{"us-east-1", "us-west-2"}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("regions: got %v, want %v", got, want)
	}
	for _, r := range c.Regions {
		if want := filepath.Join(c.DataDir, "storage", r.Name); r.Storage.Path != want || r.Storage.Type != StorageLocal {
			t.Errorf("region %s storage: got %+v, want local at %s", r.Name, r.Storage, want)
		}
	}
	if want := filepath.Join(c.DataDir, "restores"); c.RestoreRoot != want {
		t.Errorf("restore_root: got %q, want %q", c.RestoreRoot, want)
	}
	if c.Listen != "127.0.0.1:8765" || c.AccountID != "111122223333" || c.DefaultRegion != "us-east-1" {
		t.Errorf("defaults: got listen %q account %q region %q", c.Listen, c.AccountID, c.DefaultRegion)
	}
	if c.Limits.CopyJobsPerDestinationRegion != 100 || c.Limits.CopyJobsPerDestinationVault != 5 || c.Limits.Workers != 2 ||
		c.Limits.IdempotencyTokenTTL != time.Hour || c.Limits.MaxRequestBody != 10<<20 {
		t.Errorf("default limits: got %+v", c.Limits)
	}
}

func TestDefaultDataDirRelativeToWorkingDirectory(t *testing.T) {
	t.Parallel()
	c := Default()
	if err := c.Resolve(); err != nil {
		t.Fatal(err)
	}
	wd, _ := os.Getwd()
	if want := filepath.Join(wd, "coffer-data"); c.DataDir != want {
		t.Errorf("data_dir: got %q, want %q", c.DataDir, want)
	}
}

func TestExampleConfigLoads(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile("testdata/config.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	c := Default()
	if err := c.UnmarshalFile(data, "config.example.yaml"); err != nil {
		t.Fatalf("UnmarshalFile: %v", err)
	}
	c.DataDir = t.TempDir() // as a flag would
	if err := c.Resolve(); err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	if len(c.Regions) != 3 || len(c.Credentials) != 1 || len(c.Resources) != 4 {
		t.Fatalf("got %d regions, %d credentials, %d resources; want 3, 1, 4", len(c.Regions), len(c.Credentials), len(c.Resources))
	}
	s3 := c.Regions[2].Storage
	if s3.Type != StorageS3 || s3.Endpoint != "minio.internal:9000" || s3.Bucket != "coffer-backups" || !s3.Insecure ||
		s3.SecretAccessKey.Reveal() != "minioadmin-secret" || s3.Prefix != "eu-central-1/" {
		t.Errorf("s3 storage: got %+v", s3)
	}
	if got := c.Regions[1].Storage.Path; got != "/srv/coffer-west" {
		t.Errorf("absolute local path: got %q, want /srv/coffer-west", got)
	}
	if got := c.Regions[0].Storage.Path; got != filepath.Join(c.DataDir, "storage/us-east-1") {
		t.Errorf("relative local path: got %q", got)
	}
	if c.Limits.MaxRequestBody != 10<<20 || c.Limits.IdempotencyTokenTTL != time.Hour || c.ShutdownTimeout != 30*time.Second {
		t.Errorf("limits: got %+v, shutdown %v", c.Limits, c.ShutdownTimeout)
	}
	types := []string{}
	for _, r := range c.Resources {
		types = append(types, r.Type())
	}
	if got, want := strings.Join(types, ","), "EFS,EBS,EBS,RDS"; got != want {
		t.Errorf("resource types: got %s, want %s", got, want)
	}
	// The example's resources point at paths of a real server; whatever
	// this machine has, no problem may be about the ARNs themselves.
	for _, p := range c.CheckResources() {
		if strings.Contains(p.Problem, "ARN") || strings.Contains(p.Problem, "region") || strings.Contains(p.Problem, "account") {
			t.Errorf("example resource problem: %s", p)
		}
	}
	// Marshalling the loaded config never shows a secret.
	out, err := yaml.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{"minioadmin-secret", "wJalrXUtnFEMI", "backup@db.internal"} {
		if bytes.Contains(out, []byte(secret)) {
			t.Errorf("yaml.Marshal(config) contains secret %q", secret)
		}
	}
}

func TestUnmarshalFileErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, yaml string
		want       []string // substrings of the error
	}{
		{"unknown top-level key", "listen: a:1\nlisten_addr: x\n", []string{`c.yaml:2: unknown key "listen_addr" in the top level`, "known keys: account_id"}},
		{"unknown nested key", "regions:\n  - name: a\n    storage:\n      type: local\n      bogus: 1\n", []string{`c.yaml:5: unknown key "bogus" in regions[0].storage`}},
		{"unknown limits key", "limits:\n  worker: 3\n", []string{`c.yaml:2: unknown key "worker" in limits`}},
		{"several unknown keys", "a: 1\nlog:\n  colour: red\n", []string{`c.yaml:1: unknown key "a"`, `c.yaml:3: unknown key "colour" in log`}},
		{"duplicate key", "listen: a:1\nlisten: b:2\n", []string{`c.yaml:2: key "listen" in the top level is already defined at line 1`}},
		{"list expected", "regions: us-east-1\n", []string{`c.yaml:1: regions: want a list`}},
		{"mapping expected", "log: debug\n", []string{`c.yaml:1: log: want a mapping of keys`}},
		{"scalar expected", "listen: [a, b]\n", []string{`c.yaml:1: listen: want a single value, got a list`}},
		{"wrong scalar type", "limits:\n  workers: many\n", []string{`c.yaml:2: limits.workers: want a whole number, got "many"`}},
		{"bool expected", "regions:\n  - name: a\n    storage:\n      insecure: yes please\n", []string{`c.yaml:4: regions[0].storage.insecure: want true or false`}},
		{"duration without unit", "limits:\n  idempotency_token_ttl: 3600\n", []string{`c.yaml:2: limits.idempotency_token_ttl: want a duration with a unit`}},
		{"negative duration", "shutdown_timeout: -1s\n", []string{`c.yaml:1: shutdown_timeout: want a duration`}},
		{"bad byte size", "limits:\n  max_request_body: 10 parsecs\n", []string{"c.yaml", "line 2", "invalid size"}},
		{"two documents", "listen: a:1\n---\nlisten: b:2\n", []string{"one YAML document"}},
		{"syntax", "listen: [\n", []string{"c.yaml"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := Default().UnmarshalFile([]byte(tc.yaml), "c.yaml")
			if err == nil {
				t.Fatalf("UnmarshalFile: got nil error, want one containing %q", tc.want)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error: got %q, want it to contain %q", err, w)
				}
			}
		})
	}
}

func TestUnmarshalFileOverlay(t *testing.T) {
	t.Parallel()
	c := Default()
	y := "data_dir: /var/lib/coffer\nlimits:\n  workers: 8\n  max_request_body: 1MB\nlog:\n  format: json\n"
	if err := c.UnmarshalFile([]byte(y), "c.yaml"); err != nil {
		t.Fatal(err)
	}
	if c.DataDir != "/var/lib/coffer" || c.Limits.Workers != 8 || c.Limits.MaxRequestBody != 1000000 || c.Log.Format != "json" {
		t.Errorf("file values: got %+v", c)
	}
	if c.Listen != DefaultListen || c.Limits.CopyJobsPerDestinationVault != 5 || c.Log.Level != "info" || len(c.Regions) != 2 {
		t.Errorf("defaults not kept: got %+v", c)
	}
	if err := c.Resolve(); err != nil {
		t.Fatal(err)
	}
	if got, want := c.Regions[1].Storage.Path, "/var/lib/coffer/storage/us-west-2"; got != want {
		t.Errorf("default region storage follows data_dir: got %q, want %q", got, want)
	}
	if err := Default().UnmarshalFile(nil, "empty.yaml"); err != nil {
		t.Errorf("empty file: got %v, want nil", err)
	}
	// A region list in the file replaces the default list; a local
	// storage without path gets storage/<name>.
	c = Default()
	if err := c.UnmarshalFile([]byte("default_region: home-1\nregions:\n  - name: home-1\n    storage: {type: local}\n"), "c.yaml"); err != nil {
		t.Fatal(err)
	}
	c.DataDir = "/d"
	if err := c.Resolve(); err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if len(c.Regions) != 1 || c.Regions[0].Storage.Path != "/d/storage/home-1" {
		t.Errorf("regions: got %+v", c.Regions)
	}
	// A region without storage is local under storage/<name>.
	c = Default()
	if err := c.UnmarshalFile([]byte("regions:\n  - name: us-east-1\n  - name: eu-west-1\n"), "c.yaml"); err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("Validate before Resolve: %v", err)
	}
	c.DataDir = "/d"
	if err := c.Resolve(); err != nil {
		t.Fatal(err)
	}
	if got := c.Regions[1].Storage; got.Type != StorageLocal || got.Path != "/d/storage/eu-west-1" {
		t.Errorf("region without storage: got %+v, want local at /d/storage/eu-west-1", got)
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		mutate func(c *Config)
		want   string // substring; "" = valid
	}{
		{"default", func(c *Config) {}, ""},
		{"listen without port", func(c *Config) { c.Listen = "localhost" }, "config: listen: must be host:port"},
		{"listen bad port", func(c *Config) { c.Listen = "localhost:99999" }, "config: listen: port must be a number from 0 to 65535"},
		{"listen any interface", func(c *Config) { c.Listen = ":8765" }, ""},
		{"account id short", func(c *Config) { c.AccountID = "1234" }, "config: account_id: must be exactly 12 digits"},
		{"account id letters", func(c *Config) { c.AccountID = "11112222333a" }, "account_id"},
		{"default region not served", func(c *Config) { c.DefaultRegion = "eu-west-1" }, `config: default_region: "eu-west-1" is not one of regions (us-east-1, us-west-2)`},
		{"no regions", func(c *Config) { c.Regions = nil }, "config: regions: at least one region is required"},
		{"duplicate region", func(c *Config) { c.Regions[1].Name = "us-east-1"; c.Regions[1].Storage.Path = "x" }, `config: regions[1].name: duplicate region "us-east-1" (also regions[0])`},
		{"bad region name", func(c *Config) { c.Regions[1].Name = "US East" }, `config: regions[1].name: "US East" is not a region name`},
		{"shared local path", func(c *Config) { c.Regions[1].Storage.Path = c.Regions[0].Storage.Path }, "config: regions[1].storage.path"},
		{"storage type missing", func(c *Config) { c.Regions[0].Storage.Type = "" }, "config: regions[0].storage.type: required: local or s3"},
		{"storage type unknown", func(c *Config) { c.Regions[0].Storage.Type = "gcs" }, `config: regions[0].storage.type: must be local or s3, got "gcs"`},
		{"s3 field on local", func(c *Config) { c.Regions[0].Storage.Bucket = "b" }, "config: regions[0].storage.bucket: only valid for type s3"},
		{"s3 without bucket", func(c *Config) { c.Regions[0].Storage = Storage{Type: StorageS3, Endpoint: "s3:9000"} }, "config: regions[0].storage.bucket: required for type s3"},
		{"s3 without endpoint", func(c *Config) { c.Regions[0].Storage = Storage{Type: StorageS3, Bucket: "bkt"} }, "config: regions[0].storage.endpoint: required"},
		{"s3 endpoint with scheme", func(c *Config) { c.Regions[0].Storage = Storage{Type: StorageS3, Bucket: "bkt", Endpoint: "http://s3"} }, "without scheme"},
		{"s3 half credentials", func(c *Config) {
			c.Regions[0].Storage = Storage{Type: StorageS3, Bucket: "bkt", Endpoint: "s3", AccessKeyID: "a"}
		}, "config: regions[0].storage: access_key_id and secret_access_key go together"},
		{"s3 path", func(c *Config) {
			c.Regions[0].Storage = Storage{Type: StorageS3, Bucket: "bkt", Endpoint: "s3", Path: "/x"}
		}, "regions[0].storage.path: only valid for type local"},
		{"s3 same bucket and prefix twice", func(c *Config) {
			c.Regions[0].Storage = Storage{Type: StorageS3, Bucket: "bkt", Endpoint: "s3"}
			c.Regions[1].Storage = Storage{Type: StorageS3, Bucket: "bkt", Endpoint: "s3"}
		}, "config: regions[1].storage: bucket \"bkt\""},
		{"s3 same bucket other prefix", func(c *Config) {
			c.Regions[0].Storage = Storage{Type: StorageS3, Bucket: "bkt", Endpoint: "s3", Prefix: "east/"}
			c.Regions[1].Storage = Storage{Type: StorageS3, Bucket: "bkt", Endpoint: "s3", Prefix: "west/"}
		}, ""},
		{"credential bad key", func(c *Config) { c.Credentials = []Credential{{AccessKeyID: "a/b", SecretAccessKey: "s"}} }, "config: credentials[0].access_key_id"},
		{"credential empty secret", func(c *Config) { c.Credentials = []Credential{{AccessKeyID: "test"}} }, "config: credentials[0].secret_access_key: must not be empty"},
		{"credential duplicate", func(c *Config) {
			c.Credentials = []Credential{{AccessKeyID: "test", SecretAccessKey: "a"}, {AccessKeyID: "test", SecretAccessKey: "b"}}
		}, `config: credentials[1].access_key_id: duplicate access key "test"`},
		{"workers zero", func(c *Config) { c.Limits.Workers = 0 }, "config: limits.workers: must be from 1 to 1024, got 0"},
		{"copy limits", func(c *Config) { c.Limits.CopyJobsPerDestinationRegion = 0 }, "config: limits.copy_jobs_per_destination_region"},
		{"vault copy limit", func(c *Config) { c.Limits.CopyJobsPerDestinationVault = -1 }, "config: limits.copy_jobs_per_destination_vault"},
		{"ttl", func(c *Config) { c.Limits.IdempotencyTokenTTL = 0 }, "config: limits.idempotency_token_ttl: must be positive"},
		{"body limit", func(c *Config) { c.Limits.MaxRequestBody = 1000 }, "config: limits.max_request_body: must be at least 64KiB, got 1000"},
		{"log level", func(c *Config) { c.Log.Level = "loud" }, `config: log.level: must be debug, info, warn or error, got "loud"`},
		{"log format", func(c *Config) { c.Log.Format = "xml" }, `config: log.format: must be text or json, got "xml"`},
		{"shutdown", func(c *Config) { c.ShutdownTimeout = 0 }, "config: shutdown_timeout: must be positive"},
		{"bad resources do not fail Validate", func(c *Config) { c.Resources = []Resource{{ARN: "nonsense"}} }, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := Default()
			tc.mutate(c)
			err := c.Validate()
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("Validate: got %v, want nil", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("Validate: got %v, want an error containing %q", err, tc.want)
			}
		})
	}
	// All problems are reported at once.
	c := Default()
	c.AccountID, c.Limits.Workers = "x", 0
	err := c.Validate()
	if err == nil || !strings.Contains(err.Error(), "account_id") || !strings.Contains(err.Error(), "limits.workers") {
		t.Errorf("Validate with two problems: got %v, want both named", err)
	}
}

func TestApplyEnv(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		env     map[string]string
		wantErr string
		check   func(t *testing.T, c *Config)
	}{
		{"nothing set", nil, "", func(t *testing.T, c *Config) {
			if len(c.Credentials) != 1 || c.Credentials[0].AccessKeyID != "FILEKEY" {
				t.Errorf("credentials: got %v, want the file's", c.Credentials)
			}
		}},
		{"credential pair replaces file credentials", map[string]string{EnvAccessKeyID: "ENVKEY", EnvSecretAccessKey: "envsecret"}, "", func(t *testing.T, c *Config) {
			if len(c.Credentials) != 1 || c.Credentials[0].AccessKeyID != "ENVKEY" || c.Credentials[0].SecretAccessKey.Reveal() != "envsecret" {
				t.Errorf("credentials: got %v, want ENVKEY", c.Credentials)
			}
		}},
		{"only access key", map[string]string{EnvAccessKeyID: "ENVKEY"}, "COFFER_ACCESS_KEY_ID is set but COFFER_SECRET_ACCESS_KEY is not", nil},
		{"only secret", map[string]string{EnvSecretAccessKey: "s"}, "COFFER_SECRET_ACCESS_KEY is set but COFFER_ACCESS_KEY_ID is not", nil},
		{"empty counts as unset", map[string]string{EnvAccessKeyID: "", EnvSecretAccessKey: "", EnvListen: ""}, "", func(t *testing.T, c *Config) {
			if c.Listen != "0.0.0.0:1" {
				t.Errorf("listen: got %q, want the file's", c.Listen)
			}
		}},
		{"account, listen, data dir", map[string]string{EnvAccountID: "444455556666", EnvListen: "127.0.0.1:9999", EnvDataDir: "/tmp/x"}, "", func(t *testing.T, c *Config) {
			if c.AccountID != "444455556666" || c.Listen != "127.0.0.1:9999" || c.DataDir != "/tmp/x" {
				t.Errorf("got account %q listen %q data_dir %q", c.AccountID, c.Listen, c.DataDir)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := Default()
			if err := c.UnmarshalFile([]byte("listen: 0.0.0.0:1\ncredentials:\n  - {access_key_id: FILEKEY, secret_access_key: filesecret}\n"), "c.yaml"); err != nil {
				t.Fatal(err)
			}
			err := c.ApplyEnv(func(k string) (string, bool) { v, ok := tc.env[k]; return v, ok })
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("ApplyEnv: got %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, c)
		})
	}
}

// TestLoadPrecedence: flags > env > file > defaults.
func TestLoadPrecedence(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "coffer.yaml")
	if err := os.WriteFile(path, []byte("listen: 127.0.0.1:1111\naccount_id: \"222233334444\"\ndata_dir: /file/dir\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv(EnvListen, "127.0.0.1:2222")
	t.Setenv(EnvDataDir, "")
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != "127.0.0.1:2222" || c.AccountID != "222233334444" || c.DataDir != "/file/dir" || c.DefaultRegion != "us-east-1" {
		t.Errorf("after Load: got listen %q account %q data_dir %q region %q", c.Listen, c.AccountID, c.DataDir, c.DefaultRegion)
	}
	c.Listen = "127.0.0.1:3333" // a flag
	if c.Listen != "127.0.0.1:3333" {
		t.Errorf("flag: got %q", c.Listen)
	}
	if _, err := Load(filepath.Join(dir, "missing.yaml")); err == nil {
		t.Error("Load(missing file): got nil error")
	}
}

func TestSecretNeverPrints(t *testing.T) {
	t.Parallel()
	s := Secret("hunter2")
	cred := Credential{AccessKeyID: "AKID", SecretAccessKey: s}
	var logBuf bytes.Buffer
	slog.New(slog.NewJSONHandler(&logBuf, nil)).Info("x", "secret", s, "cred", cred)
	j, _ := json.Marshal(cred)
	y, _ := yaml.Marshal(cred)
	outputs := map[string]string{
		"%v": fmt.Sprintf("%v", s), "%s": fmt.Sprintf("%s", s), "%q": fmt.Sprintf("%q", s), "%#v": fmt.Sprintf("%#v", s),
		"%x": fmt.Sprintf("%x", s), "%+v struct": fmt.Sprintf("%+v", cred), "%#v struct": fmt.Sprintf("%#v", cred),
		"String": s.String(), "json": string(j), "yaml": string(y), "slog": logBuf.String(),
	}
	for name, out := range outputs {
		if strings.Contains(out, "hunter2") {
			t.Errorf("%s: got %q, leaks the secret", name, out)
		}
		if !strings.Contains(out, "REDACTED") {
			t.Errorf("%s: got %q, want [REDACTED]", name, out)
		}
	}
	if s.Reveal() != "hunter2" {
		t.Errorf("Reveal: got %q", s.Reveal())
	}
	if Secret("").String() != "" {
		t.Errorf("empty secret: got %q, want empty", Secret("").String())
	}
}

func TestParseByteSize(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want ByteSize
		err  bool
	}{
		{"0", 0, false}, {"1048576", 1 << 20, false}, {"10MiB", 10 << 20, false}, {"10 MiB", 10 << 20, false},
		{"10mb", 10_000_000, false}, {"64KiB", 64 << 10, false}, {"1g", 1 << 30, false}, {"2TiB", 2 << 40, false},
		{"12B", 12, false}, {"-1", 0, true}, {"1.5MiB", 0, true}, {"MiB", 0, true}, {"10 parsecs", 0, true},
		{"99999999999TiB", 0, true},
	}
	for _, tc := range tests {
		got, err := ParseByteSize(tc.in)
		if (err != nil) != tc.err || got != tc.want {
			t.Errorf("ParseByteSize(%q): got %d, %v; want %d, error %v", tc.in, got, err, tc.want, tc.err)
		}
	}
	if got := ByteSize(10 << 20).String(); got != "10MiB" {
		t.Errorf("String: got %q, want 10MiB", got)
	}
	if got := ByteSize(1000).String(); got != "1000" {
		t.Errorf("String: got %q, want 1000", got)
	}
}

func TestCheckResources(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	img := filepath.Join(dir, "vol.img")
	if err := os.WriteFile(img, make([]byte, 4096), 0o600); err != nil {
		t.Fatal(err)
	}
	const efs = "arn:aws:elasticfilesystem:us-east-1:111122223333:file-system/fs-0123456789abcdef0"
	const ebs = "arn:aws:ec2:us-east-1:111122223333:volume/vol-0123456789abcdef0"
	const rds = "arn:aws:rds:us-west-2:111122223333:db:orders-1"
	tests := []struct {
		name string
		res  Resource
		want string // substring of the one problem; "" = none
	}{
		{"EFS ok", Resource{ARN: efs, Path: dir}, ""},
		{"EFS missing path", Resource{ARN: efs}, "path is required: a directory"},
		{"EFS path does not exist", Resource{ARN: efs, Path: filepath.Join(dir, "nope")}, "no such file or directory"},
		{"EFS path is a file", Resource{ARN: efs, Path: img}, "is not a directory"},
		{"EFS relative path", Resource{ARN: efs, Path: "srv/www"}, "must be absolute"},
		{"EFS with dsn", Resource{ARN: efs, Path: dir, DSN: "postgres://x"}, "not device or dsn"},
		{"EFS bad id", Resource{ARN: "arn:aws:elasticfilesystem:us-east-1:111122223333:file-system/fs-home", Path: dir}, "fs-<8 to 40 hex digits>"},
		{"EBS image ok", Resource{ARN: ebs, Path: img}, ""},
		{"EBS short id ok", Resource{ARN: "arn:aws:ec2:us-east-1:111122223333:volume/vol-0123abcd", Path: img}, ""},
		{"EBS image is a directory", Resource{ARN: ebs, Path: dir}, "is not a regular file"},
		{"EBS path and device", Resource{ARN: ebs, Path: img, Device: "/dev/sda"}, "not both"},
		{"EBS char device", Resource{ARN: ebs, Device: "/dev/null"}, "is not a block device"},
		{"EBS missing", Resource{ARN: ebs}, "path is required"},
		{"RDS ok", Resource{ARN: rds, DSN: "postgres://backup@db:5432/orders"}, ""},
		{"RDS key=value ok", Resource{ARN: rds, DSN: "host=db dbname=orders"}, ""},
		{"RDS missing dsn", Resource{ARN: rds}, "dsn is required"},
		{"RDS bad dsn", Resource{ARN: rds, DSN: "mysql:thing"}, "postgres:// URL"},
		{"RDS with path", Resource{ARN: rds, DSN: "host=db", Path: dir}, "not path or device"},
		{"RDS bad identifier", Resource{ARN: "arn:aws:rds:us-west-2:111122223333:db:1bad--", DSN: "host=db"}, "RDS resource must be db:"},
		{"unsupported type", Resource{ARN: "arn:aws:s3:::bucket"}, "unsupported resource type"},
		{"malformed ARN", Resource{ARN: "fs-0123456789abcdef0"}, "malformed ARN"},
		{"region not served", Resource{ARN: "arn:aws:elasticfilesystem:eu-west-1:111122223333:file-system/fs-0123456789abcdef0", Path: dir}, `region "eu-west-1" is not served (regions: us-east-1, us-west-2)`},
		{"other account", Resource{ARN: "arn:aws:elasticfilesystem:us-east-1:999999999999:file-system/fs-0123456789abcdef0", Path: dir}, `account "999999999999" is not this server's account_id`},
		{"other partition", Resource{ARN: "arn:aws-cn:elasticfilesystem:us-east-1:111122223333:file-system/fs-0123456789abcdef0", Path: dir}, "partition"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := Default()
			c.Resources = []Resource{tc.res}
			got := c.CheckResources()
			if tc.want == "" {
				if len(got) != 0 {
					t.Errorf("CheckResources: got %v, want none", got)
				}
				return
			}
			if len(got) != 1 || !strings.Contains(got[0].Problem, tc.want) || got[0].Index != 0 || got[0].ARN != tc.res.ARN {
				t.Errorf("CheckResources: got %v, want one problem containing %q", got, tc.want)
			}
		})
	}
	c := Default()
	c.Resources = []Resource{{ARN: efs, Path: dir}, {ARN: ebs, Path: img}, {ARN: efs, Path: dir}}
	got := c.CheckResources()
	if len(got) != 1 || got[0].Index != 2 || !strings.Contains(got[0].String(), "resources[2] ("+efs+"): duplicate ARN (also resources[0])") {
		t.Errorf("duplicate: got %v", got)
	}
}

func TestGenerateCredential(t *testing.T) {
	t.Parallel()
	re := regexp.MustCompile(`^AKIA[A-Z0-9]{16}$`)
	seen := map[string]bool{}
	for i := 0; i < 50; i++ {
		c, err := GenerateCredential()
		if err != nil {
			t.Fatal(err)
		}
		if !re.MatchString(c.AccessKeyID) {
			t.Errorf("access key: got %q, want AKIA + 16 upper-case alphanumerics", c.AccessKeyID)
		}
		if s := c.SecretAccessKey.Reveal(); len(s) != 40 || strings.ContainsAny(s, " \n=") {
			t.Errorf("secret: got %q (%d chars), want 40 base64 characters", s, len(s))
		}
		if seen[c.AccessKeyID] {
			t.Errorf("access key %q generated twice", c.AccessKeyID)
		}
		seen[c.AccessKeyID] = true
	}
}

func TestLoadOrCreateCredentials(t *testing.T) {
	t.Parallel()
	dataDir := filepath.Join(t.TempDir(), "data")
	c := Default()

	creds, created, err := LoadOrCreateCredentials(dataDir, c)
	if err != nil {
		t.Fatal(err)
	}
	if !created || len(creds) != 1 {
		t.Fatalf("first start: got %d creds, created %v; want 1, true", len(creds), created)
	}
	path := filepath.Join(dataDir, CredentialsFile)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != 0o600 {
		t.Errorf("credentials.json mode: got %04o, want 0600", got)
	}
	di, _ := os.Stat(dataDir)
	if got := di.Mode().Perm(); got != 0o700 {
		t.Errorf("data dir mode: got %04o, want 0700", got)
	}
	if tmp, _ := filepath.Glob(filepath.Join(dataDir, ".credentials-*")); len(tmp) != 0 {
		t.Errorf("temporary files left: %v", tmp)
	}

	again, created, err := LoadOrCreateCredentials(dataDir, c)
	if err != nil {
		t.Fatal(err)
	}
	if created || len(again) != 1 || again[0] != creds[0] {
		t.Errorf("second start: got %v, created %v; want the same pair, false", again, created)
	}

	// Configured (or environment) credentials win and nothing is read.
	env := Default()
	if err := env.ApplyEnv(func(k string) (string, bool) {
		return map[string]string{EnvAccessKeyID: "ENVKEY", EnvSecretAccessKey: "envsecret"}[k], true
	}); err != nil {
		t.Fatal(err)
	}
	got, created, err := LoadOrCreateCredentials(filepath.Join(t.TempDir(), "unused"), env)
	if err != nil || created || len(got) != 1 || got[0].AccessKeyID != "ENVKEY" {
		t.Errorf("env credentials: got %v, %v, %v; want ENVKEY", got, created, err)
	}

	// A file readable by others is refused.
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := LoadOrCreateCredentials(dataDir, c); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("world-readable file: got %v, want a chmod 600 hint", err)
	}
	// A corrupt file is an error, not silently replaced.
	if err := os.WriteFile(path, []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := LoadOrCreateCredentials(dataDir, c); err == nil {
		t.Error("corrupt file: got nil error")
	}
}

func TestLoadOrCreateCredentialsConcurrent(t *testing.T) {
	t.Parallel()
	dataDir := filepath.Join(t.TempDir(), "data")
	const n = 8
	var wg sync.WaitGroup
	results := make([][]Credential, n)
	createdCount := make([]bool, n)
	errs := make([]error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], createdCount[i], errs[i] = LoadOrCreateCredentials(dataDir, Default())
		}()
	}
	wg.Wait()
	created := 0
	for i := 0; i < n; i++ {
		if errs[i] != nil {
			t.Fatalf("caller %d: %v", i, errs[i])
		}
		if results[i][0] != results[0][0] {
			t.Errorf("caller %d: got %v, want the same pair as caller 0 (%v)", i, results[i][0].AccessKeyID, results[0][0].AccessKeyID)
		}
		if createdCount[i] {
			created++
		}
	}
	if created != 1 {
		t.Errorf("created: got %d callers reporting created, want 1", created)
	}
}

func TestLogger(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	Log{Level: "warn", Format: "json"}.NewLogger(&b).Info("hidden")
	Log{Level: "warn", Format: "json"}.NewLogger(&b).Warn("shown")
	if s := b.String(); strings.Contains(s, "hidden") || !strings.Contains(s, `"msg":"shown"`) {
		t.Errorf("logger output: got %q", s)
	}
}

func TestUnquotedAccountID(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ yaml, want string }{
		{"account_id: 444455556666\n", "444455556666"},
		{"account_id: 000011112222\n", "000011112222"},
	} {
		c := Default()
		if err := c.UnmarshalFile([]byte(tc.yaml), "c.yaml"); err != nil {
			t.Fatalf("UnmarshalFile(%q): %v", tc.yaml, err)
		}
		if c.AccountID != tc.want {
			t.Errorf("account_id from %q: got %q, want %q", tc.yaml, c.AccountID, tc.want)
		}
	}
}
