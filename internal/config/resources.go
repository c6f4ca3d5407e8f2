package config

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// Resource types, as AWS Backup names them.
const (
	ResourceEFS = "EFS"
	ResourceEBS = "EBS"
	ResourceRDS = "RDS"
)

// Resource is one protected resource. Exactly one of Path, Device or DSN
// applies, by type:
//
//	EFS  arn:aws:elasticfilesystem:<region>:<account>:file-system/fs-<8-40 hex>  path: a directory
//	EBS  arn:aws:ec2:<region>:<account>:volume/vol-<8 or 17 hex>                 path: an image file, or device: a block device
//	RDS  arn:aws:rds:<region>:<account>:db:<identifier>                          dsn: a PostgreSQL connection string
type Resource struct {
	// ARN names the resource in the API.
	ARN string `yaml:"arn"`
	// Name is a display name (optional).
	Name string `yaml:"name,omitempty"`
	// Path is an EFS directory or an EBS volume image file (absolute).
	Path string `yaml:"path,omitempty"`
	// Device is an EBS block device, e.g. /dev/vg0/data (absolute).
	Device string `yaml:"device,omitempty"`
	// DSN is an RDS PostgreSQL connection string (URL or key=value form).
	DSN Secret `yaml:"dsn,omitempty"`
}

// ARN is a parsed resource ARN.
type ARN struct {
	Partition, Service, Region, AccountID, Resource string
}

// ParseARN splits "arn:<partition>:<service>:<region>:<account>:<resource>".
func ParseARN(s string) (ARN, error) {
	p := strings.SplitN(s, ":", 6)
	if len(p) != 6 || p[0] != "arn" || p[1] == "" || p[2] == "" || p[5] == "" {
		return ARN{}, fmt.Errorf("malformed ARN %q: want arn:aws:<service>:<region>:<account>:<resource>", s)
	}
	return ARN{Partition: p[1], Service: p[2], Region: p[3], AccountID: p[4], Resource: p[5]}, nil
}

var (
	efsResourceRe = regexp.MustCompile(`^file-system/fs-[0-9a-f]{8,40}$`)
	ebsResourceRe = regexp.MustCompile(`^volume/vol-([0-9a-f]{8}|[0-9a-f]{17})$`)
	// RDS DB identifiers: 1-63 letters, digits, hyphens; a letter first; no
	// "--"; no trailing hyphen.
	rdsResourceRe = regexp.MustCompile(`^db:[A-Za-z]([A-Za-z0-9]|-[A-Za-z0-9]){0,62}$`)
)

// Type returns the resource type (ResourceEFS, ResourceEBS, ResourceRDS)
// from the ARN's service, or "" if the ARN is malformed or of another
// service.
func (r Resource) Type() string {
	a, err := ParseARN(r.ARN)
	if err != nil {
		return ""
	}
	switch a.Service {
	case "elasticfilesystem":
		return ResourceEFS
	case "ec2":
		if strings.HasPrefix(a.Resource, "volume/") {
			return ResourceEBS
		}
	case "rds":
		if strings.HasPrefix(a.Resource, "db:") {
			return ResourceRDS
		}
	}
	return ""
}

// ResourceProblem is one thing wrong with resources[Index].
type ResourceProblem struct {
	Index   int
	ARN     string
	Problem string
}

// String renders "resources[i] (arn): problem".
func (p ResourceProblem) String() string {
	return fmt.Sprintf("resources[%d] (%s): %s", p.Index, p.ARN, p.Problem)
}

// CheckResources reports every resource entry that cannot be served: a
// malformed or unsupported ARN, a region the config does not serve, an
// account other than account_id, a duplicate ARN, a missing or wrong
// path/device/dsn for its type, a path that does not exist or is not the
// right kind of file. It stats paths but never opens them. Bad entries do
// not fail Validate: the server starts and serves the good ones.
func (c *Config) CheckResources() []ResourceProblem {
	var out []ResourceProblem
	seen := map[string]int{}
	for i, r := range c.Resources {
		bad := func(format string, args ...any) {
			out = append(out, ResourceProblem{Index: i, ARN: r.ARN, Problem: fmt.Sprintf(format, args...)})
		}
		if j, dup := seen[r.ARN]; dup {
			bad("duplicate ARN (also resources[%d])", j)
			continue
		}
		seen[r.ARN] = i
		a, err := ParseARN(r.ARN)
		if err != nil {
			bad("%v", err)
			continue
		}
		typ := r.Type()
		if typ == "" {
			bad("unsupported resource type (service %q, resource %q): use an EFS file-system, EBS volume or RDS db ARN", a.Service, a.Resource)
			continue
		}
		if a.Partition != "aws" {
			bad("partition %q is not served; use arn:aws:...", a.Partition)
		}
		if _, ok := c.Region(a.Region); !ok {
			bad("region %q is not served (regions: %s)", a.Region, strings.Join(c.RegionNames(), ", "))
		}
		if a.AccountID != c.AccountID {
			bad("account %q is not this server's account_id %q", a.AccountID, c.AccountID)
		}
		switch typ {
		case ResourceEFS:
			if !efsResourceRe.MatchString(a.Resource) {
				bad("EFS resource must be file-system/fs-<8 to 40 hex digits>, got %q", a.Resource)
			}
			if r.Device != "" || r.DSN != "" {
				bad("an EFS file system takes path (a directory), not device or dsn")
			}
			if p := checkPath(r.Path, "path", true); p != "" {
				bad("%s", p)
			}
		case ResourceEBS:
			if !ebsResourceRe.MatchString(a.Resource) {
				bad("EBS resource must be volume/vol-<8 or 17 hex digits>, got %q", a.Resource)
			}
			if r.DSN != "" {
				bad("an EBS volume takes path (an image file) or device (a block device), not dsn")
			}
			switch {
			case r.Path != "" && r.Device != "":
				bad("an EBS volume takes path or device, not both")
			case r.Device != "":
				if p := checkDevice(r.Device); p != "" {
					bad("%s", p)
				}
			default:
				if p := checkPath(r.Path, "path", false); p != "" {
					bad("%s", p)
				}
			}
		case ResourceRDS:
			if !rdsResourceRe.MatchString(a.Resource) {
				bad("RDS resource must be db:<identifier> (a letter, then up to 62 letters, digits or single hyphens), got %q", a.Resource)
			}
			if r.Path != "" || r.Device != "" {
				bad("an RDS database takes dsn (a PostgreSQL connection string), not path or device")
			}
			if d := r.DSN.Reveal(); d == "" {
				bad("dsn is required (e.g. postgres://user@host:5432/dbname)")
			} else if !strings.HasPrefix(d, "postgres://") && !strings.HasPrefix(d, "postgresql://") && !strings.Contains(d, "=") {
				bad("dsn must be a postgres:// URL or key=value connection string")
			}
		}
	}
	return out
}

// checkPath reports what is wrong with a resource path, or "".
func checkPath(p, key string, wantDir bool) string {
	kind := "a regular file (a volume image)"
	if wantDir {
		kind = "a directory"
	}
	if p == "" {
		return key + " is required: " + kind
	}
	if !filepath.IsAbs(p) {
		return fmt.Sprintf("%s %q must be absolute", key, p)
	}
	fi, err := os.Stat(p)
	if err != nil {
		return fmt.Sprintf("%s %q: %v", key, p, unwrapPathError(err))
	}
	if wantDir && !fi.IsDir() {
		return fmt.Sprintf("%s %q is not a directory", key, p)
	}
	if !wantDir && !fi.Mode().IsRegular() {
		return fmt.Sprintf("%s %q is not a regular file (use device: for block devices)", key, p)
	}
	return ""
}

func checkDevice(p string) string {
	if !filepath.IsAbs(p) {
		return fmt.Sprintf("device %q must be absolute", p)
	}
	fi, err := os.Stat(p)
	if err != nil {
		return fmt.Sprintf("device %q: %v", p, unwrapPathError(err))
	}
	if fi.Mode()&os.ModeDevice == 0 || fi.Mode()&os.ModeCharDevice != 0 {
		return fmt.Sprintf("device %q is not a block device (use path: for image files)", p)
	}
	return ""
}

func unwrapPathError(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}
