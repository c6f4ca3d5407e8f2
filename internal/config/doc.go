// Package config is Coffer's one configuration tree: what the server
// listens on, where it keeps its data, which regions it serves and where
// each region stores vault data, who may call it, which resources it
// protects, and its limits.
//
// Vocabulary:
//
//   - Config: the whole tree, loaded from one YAML file (strict: an unknown
//     key is an error naming the key and its line).
//   - Region: a region name clients put in their SigV4 scope (us-east-1...)
//     and the Storage that holds the vaults of that region. Two regions
//     with different storage are two sites; a cross-region copy moves data
//     between them.
//   - Storage: a local directory or an S3-compatible bucket (+ prefix).
//   - Credential: an access key ID and its secret access key; requests
//     signed with it are accepted.
//   - Resource: something Coffer backs up, named by an AWS-style ARN: an
//     EFS file system (a directory tree), an EBS volume (an image file or
//     block device) or an RDS database (a PostgreSQL connection string).
//   - Secret: a string that never prints (String, GoString, YAML, JSON and
//     slog all redact it); Reveal returns the value.
//   - data_dir: the root of Coffer's own state. Relative storage paths and
//     restore_root resolve against it.
//
// Loading order and precedence (highest first): command-line flags > the
// COFFER_* environment variables > the file > Default(). The caller:
//
//	cfg, err := config.Load(path)   // Default(), then the file (if path != ""), then the environment
//	// apply flags by assigning fields, e.g. cfg.Listen = *listenFlag
//	err = cfg.Resolve()             // make paths absolute (after flags: data_dir may have changed)
//	err = cfg.Validate()            // every error names the field path and the rule
//	problems := cfg.CheckResources() // bad resources are reported, not fatal
//	creds, created, err := config.LoadOrCreateCredentials(cfg.DataDir, cfg)
//
// The commented reference file is testdata/config.example.yaml.
package config
