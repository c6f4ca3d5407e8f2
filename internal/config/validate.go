package config

import (
	"errors"
	"fmt"
	"net"
	"regexp"
	"strconv"
	"strings"
)

var (
	accountIDRe = regexp.MustCompile(`^[0-9]{12}$`)
	// Region names are DNS labels, e.g. us-east-1 or site-a: they appear in
	// SigV4 scopes and endpoint host names.
	regionRe = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$`)
	// Access key IDs: no "/" (the scope separator), no spaces. AWS's are
	// 16-128 word characters; shorter ones (LocalStack's "test") are allowed
	// for development.
	accessKeyIDRe = regexp.MustCompile(`^[A-Za-z0-9_-]{1,128}$`)
	// S3 bucket names (the common rules).
	bucketRe = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)
)

// MinRequestBody is the smallest accepted limits.max_request_body.
const MinRequestBody = 64 << 10

// Validate checks every field and returns all problems joined; each names
// the field path and the rule, e.g. "regions[1].name: duplicate region
// "us-east-1"". Resources are not checked here (see CheckResources): the
// server starts even if some of them are wrong. Validate does not touch
// the file system.
func (c *Config) Validate() error {
	var errs []error
	add := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("config: %s: %s", field, fmt.Sprintf(format, args...)))
	}

	if host, port, err := net.SplitHostPort(c.Listen); err != nil {
		add("listen", "must be host:port (e.g. %s), got %q", DefaultListen, c.Listen)
	} else if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
		add("listen", "port must be a number from 0 to 65535, got %q", port)
	} else if strings.ContainsAny(host, " /") {
		add("listen", "invalid host %q", host)
	}
	if c.DataDir == "" {
		add("data_dir", "must not be empty")
	}
	if !accountIDRe.MatchString(c.AccountID) {
		add("account_id", "must be exactly 12 digits, got %q", c.AccountID)
	}
	if c.RestoreRoot == "" {
		add("restore_root", "must not be empty")
	}
	if c.ShutdownTimeout <= 0 {
		add("shutdown_timeout", "must be positive, got %v", c.ShutdownTimeout)
	}

	// Regions.
	if len(c.Regions) == 0 {
		add("regions", "at least one region is required")
	}
	names := map[string]int{}
	paths := map[string]string{}
	buckets := map[string]string{}
	for i, r := range c.Regions {
		f := fmt.Sprintf("regions[%d]", i)
		switch {
		case r.Name == "":
			add(f+".name", "must not be empty")
		case !regionRe.MatchString(r.Name):
			add(f+".name", "%q is not a region name (lower-case letters, digits and '-', e.g. us-east-1)", r.Name)
		}
		if j, dup := names[r.Name]; dup && r.Name != "" {
			add(f+".name", "duplicate region %q (also regions[%d])", r.Name, j)
		}
		names[r.Name] = i
		s, sf := r.Storage, f+".storage"
		switch s.Type {
		case StorageLocal:
			for _, x := range []struct{ key, val string }{
				{"endpoint", s.Endpoint}, {"bucket", s.Bucket}, {"prefix", s.Prefix}, {"region", s.Region},
				{"access_key_id", s.AccessKeyID}, {"secret_access_key", s.SecretAccessKey.Reveal()},
			} {
				if x.val != "" {
					add(sf+"."+x.key, "only valid for type s3 (this storage is local)")
				}
			}
			if s.Insecure {
				add(sf+".insecure", "only valid for type s3 (this storage is local)")
			}
			if s.Path != "" {
				p := c.Path(s.Path)
				if other, dup := paths[p]; dup {
					add(sf+".path", "%q is also the storage of %s; each region needs its own", s.Path, other)
				}
				paths[p] = f
			}
		case StorageS3:
			if s.Path != "" {
				add(sf+".path", "only valid for type local (this storage is s3; use bucket and prefix)")
			}
			if s.Endpoint == "" {
				add(sf+".endpoint", "required for type s3 (host[:port], e.g. s3.amazonaws.com)")
			} else if strings.Contains(s.Endpoint, "://") || strings.Contains(s.Endpoint, "/") {
				add(sf+".endpoint", "must be host[:port] without scheme or path, got %q (use insecure: true for http)", s.Endpoint)
			}
			if !bucketRe.MatchString(s.Bucket) {
				add(sf+".bucket", "required for type s3: 3-63 lower-case letters, digits, '.' and '-', got %q", s.Bucket)
			}
			if (s.AccessKeyID == "") != (s.SecretAccessKey == "") {
				add(sf, "access_key_id and secret_access_key go together: set both or neither")
			}
			if strings.HasPrefix(s.Prefix, "/") {
				add(sf+".prefix", "must not start with '/', got %q", s.Prefix)
			}
			loc := s.Endpoint + "/" + s.Bucket + "/" + s.Prefix
			if other, dup := buckets[loc]; dup {
				add(sf, "bucket %q with prefix %q is also the storage of %s; each region needs its own", s.Bucket, s.Prefix, other)
			}
			buckets[loc] = f
		case "":
			if s != (Storage{}) { // no storage at all means the local default
				add(sf+".type", "required: local or s3")
			}
		default:
			add(sf+".type", "must be local or s3, got %q", s.Type)
		}
	}
	if c.DefaultRegion == "" {
		add("default_region", "must not be empty")
	} else if _, ok := names[c.DefaultRegion]; !ok && len(c.Regions) > 0 {
		add("default_region", "%q is not one of regions (%s)", c.DefaultRegion, strings.Join(c.RegionNames(), ", "))
	}

	// Credentials.
	akids := map[string]int{}
	for i, cr := range c.Credentials {
		f := fmt.Sprintf("credentials[%d]", i)
		if !accessKeyIDRe.MatchString(cr.AccessKeyID) {
			add(f+".access_key_id", "must be 1-128 letters, digits, '_' or '-', got %q", cr.AccessKeyID)
		}
		if j, dup := akids[cr.AccessKeyID]; dup {
			add(f+".access_key_id", "duplicate access key %q (also credentials[%d])", cr.AccessKeyID, j)
		}
		akids[cr.AccessKeyID] = i
		if cr.SecretAccessKey == "" {
			add(f+".secret_access_key", "must not be empty")
		}
	}

	// Limits.
	l := c.Limits
	if l.CopyJobsPerDestinationRegion < 1 {
		add("limits.copy_jobs_per_destination_region", "must be at least 1, got %d", l.CopyJobsPerDestinationRegion)
	}
	if l.CopyJobsPerDestinationVault < 1 {
		add("limits.copy_jobs_per_destination_vault", "must be at least 1, got %d", l.CopyJobsPerDestinationVault)
	}
	if l.Workers < 1 || l.Workers > 1024 {
		add("limits.workers", "must be from 1 to 1024, got %d", l.Workers)
	}
	if l.IdempotencyTokenTTL <= 0 {
		add("limits.idempotency_token_ttl", "must be positive, got %v", l.IdempotencyTokenTTL)
	}
	if l.MaxRequestBody < MinRequestBody {
		add("limits.max_request_body", "must be at least %s, got %s", ByteSize(MinRequestBody), l.MaxRequestBody)
	}

	// Log.
	switch strings.ToLower(c.Log.Level) {
	case "debug", "info", "warn", "warning", "error":
	default:
		add("log.level", "must be debug, info, warn or error, got %q", c.Log.Level)
	}
	switch strings.ToLower(c.Log.Format) {
	case "text", "json":
	default:
		add("log.format", "must be text or json, got %q", c.Log.Format)
	}
	return errors.Join(errs...)
}
