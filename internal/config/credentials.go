package config

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// CredentialsFile is the name, inside data_dir, of the file that holds the
// generated credentials.
const CredentialsFile = "credentials.json"

// credentialsJSON is the on-disk form (plain strings: Secret would redact).
type credentialsJSON struct {
	Comment     string `json:"comment,omitempty"`
	Credentials []struct {
		AccessKeyID     string `json:"access_key_id"`
		SecretAccessKey string `json:"secret_access_key"`
	} `json:"credentials"`
}

// LoadOrCreateCredentials returns the credentials the server accepts.
// If cfg has credentials (from the file or the environment) they are
// returned as they are and nothing is read or written. Otherwise it reads
// <dataDir>/credentials.json, or, if that does not exist, generates one
// random pair (access key "AKIA" + 16 upper-case letters and digits, a
// 40-character base64 secret, from crypto/rand), creates dataDir (mode
// 0700) if needed and writes the file atomically with mode 0600; created
// is then true so that the caller can print the new pair once.
//
// Two processes starting at once end up with the same pair: the file is
// published with a hard link, which fails if it already exists, and the
// loser reads the winner's file. A credentials.json readable by group or
// others is refused, as ssh refuses such keys.
func LoadOrCreateCredentials(dataDir string, cfg *Config) (creds []Credential, created bool, err error) {
	if cfg != nil && len(cfg.Credentials) > 0 {
		return cfg.Credentials, false, nil
	}
	if dataDir == "" {
		return nil, false, errors.New("config: credentials: data_dir is empty")
	}
	path := filepath.Join(dataDir, CredentialsFile)
	creds, err = readCredentials(path)
	if err == nil {
		return creds, false, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, false, err
	}
	c, err := GenerateCredential()
	if err != nil {
		return nil, false, err
	}
	won, err := writeCredentials(dataDir, path, c)
	if err != nil {
		return nil, false, err
	}
	if !won {
		creds, err = readCredentials(path)
		return creds, false, err
	}
	return []Credential{c}, true, nil
}

// GenerateCredential returns a new random access key pair.
func GenerateCredential() (Credential, error) {
	const alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	id := []byte("AKIA")
	var b [1]byte
	for len(id) < 20 {
		if _, err := rand.Read(b[:]); err != nil {
			return Credential{}, fmt.Errorf("config: generate access key: %w", err)
		}
		if b[0] >= 252 { // 252 = 7*36: reject to keep the choice uniform
			continue
		}
		id = append(id, alnum[b[0]%36])
	}
	var secret [30]byte
	if _, err := rand.Read(secret[:]); err != nil {
		return Credential{}, fmt.Errorf("config: generate secret key: %w", err)
	}
	return Credential{
		AccessKeyID:     string(id),
		SecretAccessKey: Secret(base64.StdEncoding.EncodeToString(secret[:])),
	}, nil
}

func readCredentials(path string) ([]Credential, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("config: credentials: %w", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("config: credentials: %s has mode %04o, readable by others; run: chmod 600 %s", path, fi.Mode().Perm(), path)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: credentials: %w", err)
	}
	var f credentialsJSON
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("config: credentials: %s: %w", path, err)
	}
	if len(f.Credentials) == 0 {
		return nil, fmt.Errorf("config: credentials: %s holds no credentials", path)
	}
	out := make([]Credential, 0, len(f.Credentials))
	for i, c := range f.Credentials {
		if !accessKeyIDRe.MatchString(c.AccessKeyID) || c.SecretAccessKey == "" {
			return nil, fmt.Errorf("config: credentials: %s: credentials[%d] needs an access_key_id (letters, digits, '_', '-') and a secret_access_key", path, i)
		}
		out = append(out, Credential{AccessKeyID: c.AccessKeyID, SecretAccessKey: Secret(c.SecretAccessKey)})
	}
	return out, nil
}

// writeCredentials publishes the file; won is false if another process
// published one first.
func writeCredentials(dataDir, path string, c Credential) (won bool, err error) {
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return false, fmt.Errorf("config: credentials: %w", err)
	}
	var f credentialsJSON
	f.Comment = "Coffer API credentials, generated on first start. Keep this file private."
	f.Credentials = append(f.Credentials, struct {
		AccessKeyID     string `json:"access_key_id"`
		SecretAccessKey string `json:"secret_access_key"`
	}{c.AccessKeyID, c.SecretAccessKey.Reveal()})
	data, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return false, err
	}
	data = append(data, '\n')
	tmp, err := os.CreateTemp(dataDir, ".credentials-*.tmp")
	if err != nil {
		return false, fmt.Errorf("config: credentials: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return false, fmt.Errorf("config: credentials: %w", err)
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return false, fmt.Errorf("config: credentials: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return false, fmt.Errorf("config: credentials: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return false, fmt.Errorf("config: credentials: %w", err)
	}
	if err := os.Link(tmp.Name(), path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return false, nil
		}
		// No hard links on this file system: rename (last writer wins).
		if err := os.Rename(tmp.Name(), path); err != nil {
			return false, fmt.Errorf("config: credentials: %w", err)
		}
	}
	if d, err := os.Open(dataDir); err == nil {
		_ = d.Sync() // make the new directory entry durable
		d.Close()
	}
	return true, nil
}
