package repo

import (
	"context"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/coffer/coffer/internal/blob"
	"github.com/coffer/coffer/internal/repo/crypto"
	"github.com/zeebo/blake3"
)

// KEK is a key-encryption key: 32 secret bytes that unwrap a repository's
// data key, and a name that identifies it (for a vault, the name its
// EncryptionKeyArn resolves to). String and GoString redact the secret.
type KEK struct {
	name string
	key  [32]byte
	ok   bool
}

// NewKEK makes a KEK from 32 bytes of key material.
func NewKEK(name string, key []byte) (KEK, error) {
	if err := validKEKName(name); err != nil {
		return KEK{}, err
	}
	if len(key) != 32 {
		return KEK{}, fmt.Errorf("repo: key %q: %d bytes of key material, want 32", name, len(key))
	}
	k := KEK{name: name, ok: true}
	copy(k.key[:], key)
	return k, nil
}

// Name returns the KEK's name.
func (k KEK) Name() string { return k.name }

// String redacts the key material.
func (k KEK) String() string { return fmt.Sprintf("KEK(%q, redacted)", k.name) }

// GoString redacts the key material.
func (k KEK) GoString() string { return k.String() }

// check is a short non-secret fingerprint that tells which KEK wrapped a key
// object, so a wrong key gets a precise message without any decryption.
func (k KEK) check() string {
	h, _ := blake3.NewKeyed(k.key[:])
	_, _ = h.WriteString("coffer kek check v1")
	return hex.EncodeToString(h.Sum(nil)[:8])
}

func validKEKName(name string) error {
	if name == "" || len(name) > 1024 || !utf8.ValidString(name) || strings.ContainsAny(name, "\x00\n\r") {
		return fmt.Errorf("repo: invalid key name %q (1 to 1024 printable characters)", name)
	}
	return nil
}

// Keystore is a directory of named KEKs, one file (mode 0600) per key.
// Names are free-form (ARNs are fine): the file name is derived from a hash
// of the name and the name is stored inside. Creating a key is atomic and
// race-free across processes.
type Keystore struct {
	dir string
}

// OpenKeystore opens (creating with mode 0700 if needed) a key store.
func OpenKeystore(dir string) (*Keystore, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("repo: keystore %s: %w", dir, err)
	}
	return &Keystore{dir: dir}, nil
}

type kekFile struct {
	Version int       `json:"version"`
	Name    string    `json:"name"`
	Key     string    `json:"key"` // base64
	Created time.Time `json:"created"`
}

func (k *Keystore) path(name string) string {
	h := blake3.Sum256([]byte("coffer kek name v1\x00" + name))
	return filepath.Join(k.dir, "kek-"+hex.EncodeToString(h[:16])+".json")
}

// Get returns the named KEK, or an error wrapping ErrKeyNotFound.
func (k *Keystore) Get(name string) (KEK, error) {
	if err := validKEKName(name); err != nil {
		return KEK{}, err
	}
	b, err := os.ReadFile(k.path(name))
	if errors.Is(err, os.ErrNotExist) {
		return KEK{}, fmt.Errorf("%w: %q in %s", ErrKeyNotFound, name, k.dir)
	}
	if err != nil {
		return KEK{}, fmt.Errorf("repo: keystore: %w", err)
	}
	var f kekFile
	if err := json.Unmarshal(b, &f); err != nil || f.Version != 1 || f.Name != name {
		return KEK{}, fmt.Errorf("repo: keystore: key file for %q is damaged", name)
	}
	raw, err := base64.StdEncoding.DecodeString(f.Key)
	if err != nil {
		return KEK{}, fmt.Errorf("repo: keystore: key file for %q is damaged", name)
	}
	return NewKEK(name, raw)
}

// GetOrCreate returns the named KEK, creating it with fresh random key
// material if it does not exist. Concurrent callers get the same key.
func (k *Keystore) GetOrCreate(name string) (KEK, error) {
	kek, err := k.Get(name)
	if !errors.Is(err, ErrKeyNotFound) {
		return kek, err
	}
	key := crypto.RandomKey()
	b, _ := json.Marshal(kekFile{Version: 1, Name: name, Key: base64.StdEncoding.EncodeToString(key[:]), Created: time.Now().UTC()})
	tmp, err := os.CreateTemp(k.dir, ".tmp-kek-*")
	if err != nil {
		return KEK{}, fmt.Errorf("repo: keystore: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err == nil {
		_, err = tmp.Write(b)
		if err == nil {
			err = tmp.Sync()
		}
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return KEK{}, fmt.Errorf("repo: keystore: %w", err)
	}
	// link(2) publishes the complete file only if the name is free.
	if err := os.Link(tmp.Name(), k.path(name)); err != nil && !errors.Is(err, os.ErrExist) {
		return KEK{}, fmt.Errorf("repo: keystore: %w", err)
	}
	if d, err := os.Open(k.dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return k.Get(name)
}

// List returns the names of the stored keys.
func (k *Keystore) List() ([]string, error) {
	ents, err := os.ReadDir(k.dir)
	if err != nil {
		return nil, fmt.Errorf("repo: keystore: %w", err)
	}
	var out []string
	for _, e := range ents {
		if !strings.HasPrefix(e.Name(), "kek-") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(k.dir, e.Name()))
		if err != nil {
			continue
		}
		var f kekFile
		if json.Unmarshal(b, &f) == nil && f.Name != "" {
			out = append(out, f.Name)
		}
	}
	return out, nil
}

// keyObject is stored in plaintext under keys/<id>: it holds the data key
// sealed under a KEK.
type keyObject struct {
	Version  int       `json:"version"`
	RepoID   string    `json:"repo_id"`
	KEKName  string    `json:"kek_name"`
	KEKCheck string    `json:"kek_check"`
	Alg      string    `json:"alg"`
	DataKey  string    `json:"data_key"` // base64 of sealed 32 bytes
	Created  time.Time `json:"created"`
}

const keysPrefix = "keys/"

func keyAD(repoID string) []byte { return []byte("coffer data key v1\x00" + repoID) }

func wrapDataKey(kek KEK, repoID string, dataKey []byte, now time.Time) ([]byte, error) {
	a, err := crypto.NewAEAD(kek.key[:])
	if err != nil {
		return nil, err
	}
	ko := keyObject{
		Version: 1, RepoID: repoID, KEKName: kek.name, KEKCheck: kek.check(), Alg: "xaes-256-gcm",
		DataKey: base64.StdEncoding.EncodeToString(a.Seal(nil, dataKey, keyAD(repoID))),
		Created: now.UTC(),
	}
	return json.MarshalIndent(ko, "", "  ")
}

type unwrapped struct {
	dataKey []byte
	repoID  string
	object  string
}

// unwrapKeys returns the data key of every key object the KEK opens (more
// than one only after an interrupted Init), or ErrWrongKey naming the keys
// that would open the repository.
func unwrapKeys(ctx context.Context, st blob.Store, kek KEK) ([]unwrapped, error) {
	if !kek.ok {
		return nil, fmt.Errorf("%w: no key given", ErrWrongKey)
	}
	var names []string
	if err := st.List(ctx, keysPrefix, func(i blob.Info) error { names = append(names, i.Name); return nil }); err != nil {
		return nil, fmt.Errorf("repo: list keys in %s: %w", st.Location(), err)
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("%w: %s has no key objects", ErrNotRepository, st.Location())
	}
	a, err := crypto.NewAEAD(kek.key[:])
	if err != nil {
		return nil, err
	}
	var out []unwrapped
	var others []string
	for _, n := range names {
		b, err := blob.ReadAll(ctx, st, n)
		if errors.Is(err, blob.ErrNotFound) {
			continue // removed meanwhile (an Init that lost a race)
		}
		if err != nil {
			return nil, fmt.Errorf("repo: read %s: %w", n, err)
		}
		var ko keyObject
		if err := json.Unmarshal(b, &ko); err != nil || ko.Version != 1 {
			others = append(others, n+" (unreadable)")
			continue
		}
		if subtle.ConstantTimeCompare([]byte(ko.KEKCheck), []byte(kek.check())) != 1 {
			others = append(others, fmt.Sprintf("%q", ko.KEKName))
			continue
		}
		sealed, err := base64.StdEncoding.DecodeString(ko.DataKey)
		if err != nil {
			return nil, fmt.Errorf("%w: key object %s is damaged", ErrCorrupt, n)
		}
		dk, err := a.Open(nil, sealed, keyAD(ko.RepoID))
		if err != nil || len(dk) != 32 {
			return nil, fmt.Errorf("%w: key object %s matches key %q but does not decrypt: it is damaged", ErrCorrupt, n, kek.name)
		}
		out = append(out, unwrapped{dataKey: dk, repoID: ko.RepoID, object: n})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: key %q does not open the repository at %s (its data key is wrapped by %s)",
			ErrWrongKey, kek.name, st.Location(), strings.Join(others, ", "))
	}
	return out, nil
}

// AddKey wraps the repository's data key under another KEK as well, so that
// either key opens it (for example to re-key a vault: add the new key, then
// delete the old key object). Adding a KEK that already opens the
// repository does nothing.
func (r *Repository) AddKey(ctx context.Context, kek KEK) error {
	if err := r.writable(); err != nil {
		return err
	}
	if !kek.ok {
		return errors.New("repo: add key: no key given")
	}
	if got, err := unwrapKeys(ctx, r.st, kek); err == nil {
		for _, u := range got {
			if u.repoID == r.id && subtle.ConstantTimeCompare(u.dataKey, r.dataKey) == 1 {
				return nil
			}
		}
	} else if !errors.Is(err, ErrWrongKey) {
		return err
	}
	ko, err := wrapDataKey(kek, r.id, r.dataKey, r.clk.Now())
	if err != nil {
		return err
	}
	if err := r.st.PutIfAbsent(ctx, keysPrefix+randomHex(16), ko); err != nil {
		return fmt.Errorf("repo: add key: %w", err)
	}
	return nil
}
