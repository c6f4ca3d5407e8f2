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
	"slices"
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
	// Any failure here (a full disk) must stop the key from being
	// published: a short key file would make the vault unopenable.
	err = tmp.Chmod(0o600)
	if err == nil {
		_, err = tmp.Write(b)
	}
	if err == nil {
		err = tmp.Sync()
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

// StoredRepoIDs returns the repository IDs named by the key objects in st
// (their plaintext part: no key is needed). A store holds one repository;
// more than one ID means key objects left by interrupted Inits. For
// housekeeping that must not need the key, such as removing a deleted
// repository's local index cache (CacheDir/<ID>).
func StoredRepoIDs(ctx context.Context, st blob.Store) ([]string, error) {
	objs, err := readKeyObjects(ctx, st)
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, o := range objs {
		if !slices.Contains(ids, o.RepoID) {
			ids = append(ids, o.RepoID)
		}
	}
	return ids, nil
}

// storedKey is a key object read from the store, with its name.
type storedKey struct {
	keyObject
	name string
}

// readKeyObjects reads the parseable key objects of st (objects removed
// meanwhile and unreadable ones are skipped).
func readKeyObjects(ctx context.Context, st blob.Store) ([]storedKey, error) {
	var names []string
	if err := st.List(ctx, keysPrefix, func(i blob.Info) error { names = append(names, i.Name); return nil }); err != nil {
		return nil, fmt.Errorf("repo: list keys in %s: %w", st.Location(), err)
	}
	var out []storedKey
	for _, n := range names {
		b, err := blob.ReadAll(ctx, st, n)
		if errors.Is(err, blob.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("repo: read %s: %w", n, err)
		}
		var ko keyObject
		if json.Unmarshal(b, &ko) == nil && ko.Version == 1 && ko.RepoID != "" {
			out = append(out, storedKey{keyObject: ko, name: n})
		}
	}
	return out, nil
}

// KeyInfo describes one key object of a repository: a copy of its data key
// wrapped by the named KEK.
type KeyInfo struct {
	// Object is the key object's name in the store ("keys/<hex>").
	Object string
	// KEKName is the name of the KEK that wraps the data key there.
	KEKName string
	// Created is when the key object was written.
	Created time.Time
}

// Keys lists the repository's key objects (those of interrupted Inits of
// another repository in the same store are left out), by creation time.
// It reads only the plaintext parts of the objects.
func (r *Repository) Keys(ctx context.Context) ([]KeyInfo, error) {
	objs, err := readKeyObjects(ctx, r.st)
	if err != nil {
		return nil, err
	}
	var out []KeyInfo
	for _, o := range objs {
		if o.RepoID == r.id {
			out = append(out, KeyInfo{Object: o.name, KEKName: o.KEKName, Created: o.Created})
		}
	}
	slices.SortFunc(out, func(a, b KeyInfo) int { return a.Created.Compare(b.Created) })
	return out, nil
}

// RemoveKey deletes the key objects wrapped by the KEK named kekName, so
// that this KEK no longer opens the repository (the second half of a
// re-keying: AddKey with the new KEK, then RemoveKey of the old one). It
// returns the number of objects deleted (0 when that KEK wraps none). It
// refuses, with ErrLastKey, to remove every key object of the repository.
// Key material that was copied elsewhere still opens the repository until
// the data key itself is changed, which RemoveKey does not do.
func (r *Repository) RemoveKey(ctx context.Context, kekName string) (int, error) {
	if err := r.writable(); err != nil {
		return 0, err
	}
	keys, err := r.Keys(ctx)
	if err != nil {
		return 0, err
	}
	var drop []string
	for _, k := range keys {
		if k.KEKName == kekName {
			drop = append(drop, k.Object)
		}
	}
	if len(drop) > 0 && len(drop) == len(keys) {
		return 0, fmt.Errorf("%w: key %q wraps the only key objects of %s", ErrLastKey, kekName, r.st.Location())
	}
	for i, n := range drop {
		if err := r.st.Delete(ctx, n); err != nil {
			return i, fmt.Errorf("repo: remove key %q: delete %s: %w", kekName, n, err)
		}
	}
	if len(drop) > 0 {
		r.log.Info("key removed", "kek", kekName, "objects", len(drop))
	}
	return len(drop), nil
}
