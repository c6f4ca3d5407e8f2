package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Defaults.
const (
	// DefaultListen is the address the server listens on: loopback only,
	// on a fixed port that no common service or other AWS emulator uses
	// (LocalStack 4566, moto 5000, MinIO 9000).
	DefaultListen = "127.0.0.1:8765"
	// DefaultDataDir holds Coffer's state (metadata, credentials.json,
	// local storage, restores), relative to the working directory.
	DefaultDataDir = "./coffer-data"
	// DefaultAccountID is the AWS account ID Coffer answers as. It is the
	// example account of the AWS documentation, so ARNs look real and are
	// obviously not a real account.
	DefaultAccountID = "111122223333"
	// DefaultRegion is the region used when a client names none.
	DefaultRegion = "us-east-1"
	// DefaultRestoreRoot is where restores to new file systems and new
	// volumes are created, relative to data_dir.
	DefaultRestoreRoot = "restores"
	// DefaultShutdownTimeout is how long the server drains in-flight
	// requests on shutdown.
	DefaultShutdownTimeout = 30 * time.Second
)

// Storage types.
const (
	StorageLocal = "local"
	StorageS3    = "s3"
)

// Config is the whole configuration. The yaml tags are the file's keys.
type Config struct {
	// Listen is the TCP address of the API, host:port.
	Listen string `yaml:"listen"`
	// DataDir is the root of Coffer's own state.
	DataDir string `yaml:"data_dir"`
	// AccountID is the 12-digit AWS account ID used in every ARN.
	AccountID string `yaml:"account_id"`
	// DefaultRegion is the region for requests that carry none (and for
	// tools); it must be one of Regions.
	DefaultRegion string `yaml:"default_region"`
	// RestoreRoot is where restores create new file systems (directories)
	// and new volumes (image files); relative to DataDir.
	RestoreRoot string `yaml:"restore_root"`
	// ShutdownTimeout bounds the graceful drain of in-flight requests.
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout"`
	// Regions are the regions served, each with its storage.
	Regions []Region `yaml:"regions"`
	// Credentials are the accepted access keys. Empty means: use
	// <data_dir>/credentials.json, created on first start.
	Credentials []Credential `yaml:"credentials"`
	// Resources are the protected resources.
	Resources []Resource `yaml:"resources"`
	// Limits are quotas and sizes.
	Limits Limits `yaml:"limits"`
	// Log configures logging.
	Log Log `yaml:"log"`
}

// Region is one served region and its storage.
type Region struct {
	// Name is the region name clients use, e.g. us-east-1.
	Name string `yaml:"name"`
	// Storage holds the region's vault data; omitted, it is local under
	// <data_dir>/storage/<name>.
	Storage Storage `yaml:"storage"`
}

// Storage says where a region's vault data lives.
type Storage struct {
	// Type is "local" or "s3".
	Type string `yaml:"type"`
	// Path (local): directory; relative to data_dir; default
	// storage/<region name>.
	Path string `yaml:"path,omitempty"`
	// Endpoint (s3): host[:port] of the S3 API, e.g. s3.amazonaws.com or
	// minio.internal:9000.
	Endpoint string `yaml:"endpoint,omitempty"`
	// Bucket (s3): bucket name; must exist.
	Bucket string `yaml:"bucket,omitempty"`
	// Prefix (s3): key prefix inside the bucket, e.g. "coffer/east/".
	Prefix string `yaml:"prefix,omitempty"`
	// Region (s3): the bucket's S3 region, if the endpoint needs one.
	Region string `yaml:"region,omitempty"`
	// AccessKeyID and SecretAccessKey (s3): static credentials; both or
	// neither (neither: the S3 driver's default credential chain).
	AccessKeyID     string `yaml:"access_key_id,omitempty"`
	SecretAccessKey Secret `yaml:"secret_access_key,omitempty"`
	// Insecure (s3): use plain http instead of https.
	Insecure bool `yaml:"insecure,omitempty"`
}

// Credential is an accepted access key pair.
type Credential struct {
	AccessKeyID     string `yaml:"access_key_id" json:"access_key_id"`
	SecretAccessKey Secret `yaml:"secret_access_key" json:"secret_access_key"`
}

// Limits are quotas (AWS defaults where AWS has one) and sizes.
type Limits struct {
	// CopyJobsPerDestinationRegion: concurrent copy jobs into one
	// destination region (AWS: 100).
	CopyJobsPerDestinationRegion int `yaml:"copy_jobs_per_destination_region"`
	// CopyJobsPerDestinationVault: concurrent copy jobs into one
	// destination vault beyond the regional limit (AWS: 5).
	CopyJobsPerDestinationVault int `yaml:"copy_jobs_per_destination_vault"`
	// Workers is the size of the job worker pool.
	Workers int `yaml:"workers"`
	// IdempotencyTokenTTL is how long a Start*Job idempotency token maps
	// to its job (AWS: 1 hour).
	IdempotencyTokenTTL time.Duration `yaml:"idempotency_token_ttl"`
	// MaxRequestBody bounds an API request body.
	MaxRequestBody ByteSize `yaml:"max_request_body"`
}

// Log configures logging.
type Log struct {
	// Level is debug, info, warn or error.
	Level string `yaml:"level"`
	// Format is text or json.
	Format string `yaml:"format"`
}

// Default returns the configuration used when there is no file: two local
// regions (us-east-1, us-west-2) under <data_dir>/storage/<region>, so a
// cross-region copy works out of the box.
func Default() *Config {
	return &Config{
		Listen:          DefaultListen,
		DataDir:         DefaultDataDir,
		AccountID:       DefaultAccountID,
		DefaultRegion:   DefaultRegion,
		RestoreRoot:     DefaultRestoreRoot,
		ShutdownTimeout: DefaultShutdownTimeout,
		Regions: []Region{
			{Name: "us-east-1", Storage: Storage{Type: StorageLocal, Path: filepath.Join("storage", "us-east-1")}},
			{Name: "us-west-2", Storage: Storage{Type: StorageLocal, Path: filepath.Join("storage", "us-west-2")}},
		},
		Limits: Limits{
			CopyJobsPerDestinationRegion: 100,
			CopyJobsPerDestinationVault:  5,
			Workers:                      2,
			IdempotencyTokenTTL:          time.Hour,
			MaxRequestBody:               10 << 20,
		},
		Log: Log{Level: "info", Format: "text"},
	}
}

// Load returns Default() overlaid with the file at path (skipped if path
// is "") and then with the COFFER_* environment variables. Flags are
// applied by the caller afterwards; then call Resolve and Validate.
func Load(path string) (*Config, error) {
	c := Default()
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("config: %w", err)
		}
		if err := c.UnmarshalFile(data, path); err != nil {
			return nil, err
		}
	}
	if err := c.ApplyEnv(os.LookupEnv); err != nil {
		return nil, err
	}
	return c, nil
}

// UnmarshalFile overlays the YAML document data onto c. Keys absent from
// the file keep their current values; a list in the file replaces the whole
// list. Unknown keys, duplicate keys and type errors are reported with
// name:line. name is used in messages only.
func (c *Config) UnmarshalFile(data []byte, name string) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil // empty file: defaults
		}
		return fmt.Errorf("config: %s: %w", name, err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return fmt.Errorf("config: %s: want one YAML document, found more", name)
	}
	if errs := checkKeys(&doc, typeOfConfig, "", name); len(errs) > 0 {
		return fmt.Errorf("config: %w", errors.Join(errs...))
	}
	if err := doc.Decode(c); err != nil {
		return fmt.Errorf("config: %s: %w", name, err)
	}
	return nil
}

// Environment variables read by ApplyEnv.
const (
	EnvAccessKeyID     = "COFFER_ACCESS_KEY_ID"
	EnvSecretAccessKey = "COFFER_SECRET_ACCESS_KEY"
	EnvAccountID       = "COFFER_ACCOUNT_ID"
	EnvListen          = "COFFER_LISTEN"
	EnvDataDir         = "COFFER_DATA_DIR"
)

// ApplyEnv overlays the COFFER_* variables, read through lookup (pass
// os.LookupEnv). A variable set to "" counts as unset.
// COFFER_ACCESS_KEY_ID and COFFER_SECRET_ACCESS_KEY go together (one
// without the other is an error) and replace the configured credentials.
func (c *Config) ApplyEnv(lookup func(string) (string, bool)) error {
	get := func(k string) string {
		v, _ := lookup(k)
		return v
	}
	akid, secret := get(EnvAccessKeyID), get(EnvSecretAccessKey)
	switch {
	case akid != "" && secret != "":
		c.Credentials = []Credential{{AccessKeyID: akid, SecretAccessKey: Secret(secret)}}
	case akid != "":
		return fmt.Errorf("config: %s is set but %s is not; set both or neither", EnvAccessKeyID, EnvSecretAccessKey)
	case secret != "":
		return fmt.Errorf("config: %s is set but %s is not; set both or neither", EnvSecretAccessKey, EnvAccessKeyID)
	}
	if v := get(EnvAccountID); v != "" {
		c.AccountID = v
	}
	if v := get(EnvListen); v != "" {
		c.Listen = v
	}
	if v := get(EnvDataDir); v != "" {
		c.DataDir = v
	}
	return nil
}

// Resolve makes DataDir absolute (against the working directory) and the
// local storage paths and RestoreRoot absolute (against DataDir). A region
// without storage gets local storage, and a local storage without a path
// gets storage/<region name>. Call it after flags
// are applied.
func (c *Config) Resolve() error {
	if c.DataDir == "" {
		return errors.New("config: data_dir: must not be empty")
	}
	abs, err := filepath.Abs(c.DataDir)
	if err != nil {
		return fmt.Errorf("config: data_dir: %w", err)
	}
	c.DataDir = abs
	c.RestoreRoot = c.Path(c.RestoreRoot)
	for i := range c.Regions {
		s := &c.Regions[i].Storage
		if *s == (Storage{}) {
			s.Type = StorageLocal
		}
		if s.Type != StorageLocal {
			continue
		}
		if s.Path == "" {
			s.Path = filepath.Join("storage", c.Regions[i].Name)
		}
		s.Path = c.Path(s.Path)
	}
	return nil
}

// Path resolves p against DataDir: an absolute p is returned cleaned, a
// relative one joined to DataDir, "" stays "".
func (c *Config) Path(p string) string {
	if p == "" {
		return ""
	}
	if filepath.IsAbs(p) {
		return filepath.Clean(p)
	}
	return filepath.Join(c.DataDir, p)
}

// RegionNames returns the served region names in configuration order.
func (c *Config) RegionNames() []string {
	names := make([]string, len(c.Regions))
	for i, r := range c.Regions {
		names[i] = r.Name
	}
	return names
}

// Region returns the region named name.
func (c *Config) Region(name string) (Region, bool) {
	for _, r := range c.Regions {
		if r.Name == name {
			return r, true
		}
	}
	return Region{}, false
}

// CredentialMap returns creds as access key ID -> secret, the form
// sigv4.StaticCredentials takes.
func CredentialMap(creds []Credential) map[string]string {
	m := make(map[string]string, len(creds))
	for _, c := range creds {
		m[c.AccessKeyID] = c.SecretAccessKey.Reveal()
	}
	return m
}

// SlogLevel returns the configured level (info if unknown).
func (l Log) SlogLevel() slog.Level {
	switch strings.ToLower(l.Level) {
	case "debug":
		return slog.LevelDebug
	case "warn", "warning":
		return slog.LevelWarn
	case "error":
		return slog.LevelError
	}
	return slog.LevelInfo
}

// NewLogger returns a logger writing to w in the configured format and
// level.
func (l Log) NewLogger(w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: l.SlogLevel()}
	if strings.ToLower(l.Format) == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
