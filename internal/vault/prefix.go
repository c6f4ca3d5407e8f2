package vault

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/coffer/coffer/internal/blob"
)

// PrefixStore is a blob.Store decorator that keeps its objects under a
// prefix of another Store: object "n" is stored as prefix + "/" + "n".
// Several PrefixStores share one inner Store (one connection pool, one
// directory root); closing a PrefixStore does not close the inner one.
type PrefixStore struct {
	inner  blob.Store
	prefix string // without trailing "/"
}

var _ blob.Store = (*PrefixStore)(nil)

// NewPrefixStore returns a Store whose objects live under prefix in inner.
// prefix must be a valid object name (elements of A-Za-z0-9._-).
func NewPrefixStore(inner blob.Store, prefix string) (*PrefixStore, error) {
	prefix = strings.Trim(prefix, "/")
	if err := blob.ValidName(prefix); err != nil {
		return nil, fmt.Errorf("vault: storage prefix %q: %w", prefix, err)
	}
	return &PrefixStore{inner: inner, prefix: prefix}, nil
}

func (p *PrefixStore) full(name string) (string, error) {
	if err := blob.ValidName(name); err != nil {
		return "", err
	}
	return p.prefix + "/" + name, nil
}

// Location returns the inner store's location followed by the prefix. A
// trailing note in parentheses (the S3 driver's endpoint) stays at the end:
// "s3://bucket/base/PREFIX (http://host:port)".
func (p *PrefixStore) Location() string {
	loc, note := p.inner.Location(), ""
	if strings.HasSuffix(loc, ")") {
		if i := strings.LastIndex(loc, " ("); i >= 0 {
			loc, note = loc[:i], loc[i:]
		}
	}
	return strings.TrimSuffix(loc, "/") + "/" + p.prefix + note
}

// Prefix returns the prefix.
func (p *PrefixStore) Prefix() string { return p.prefix }

// PrepareDirs prepares the prefixed directories in inner.
func (p *PrefixStore) PrepareDirs(ctx context.Context, prefixes []string) error {
	full := make([]string, len(prefixes))
	for i, x := range prefixes {
		n, err := p.full(x)
		if err != nil {
			return err
		}
		full[i] = n
	}
	return blob.PrepareDirs(ctx, p.inner, full)
}

// PruneDirs prunes the prefixed directories in inner; "" prunes the
// whole prefix, its own directory included.
func (p *PrefixStore) PruneDirs(ctx context.Context, prefix string) error {
	full := p.prefix
	if prefix != "" {
		n, err := p.full(prefix)
		if err != nil {
			return err
		}
		full = n
	}
	return blob.PruneDirs(ctx, p.inner, full)
}

// PutStream streams into inner under the prefixed name.
func (p *PrefixStore) PutStream(ctx context.Context, name string, size int64, r io.Reader) error {
	n, err := p.full(name)
	if err != nil {
		return err
	}
	return blob.PutStream(ctx, p.inner, n, size, r)
}

// Put implements blob.Store.
func (p *PrefixStore) Put(ctx context.Context, name string, data []byte) error {
	n, err := p.full(name)
	if err != nil {
		return err
	}
	return p.inner.Put(ctx, n, data)
}

// PutIfAbsent implements blob.Store.
func (p *PrefixStore) PutIfAbsent(ctx context.Context, name string, data []byte) error {
	n, err := p.full(name)
	if err != nil {
		return err
	}
	return p.inner.PutIfAbsent(ctx, n, data)
}

// Get implements blob.Store.
func (p *PrefixStore) Get(ctx context.Context, name string, offset, length int64) (io.ReadCloser, error) {
	n, err := p.full(name)
	if err != nil {
		return nil, err
	}
	return p.inner.Get(ctx, n, offset, length)
}

// Stat implements blob.Store; the Info names the object without the
// prefix.
func (p *PrefixStore) Stat(ctx context.Context, name string) (blob.Info, error) {
	n, err := p.full(name)
	if err != nil {
		return blob.Info{}, err
	}
	info, err := p.inner.Stat(ctx, n)
	if err != nil {
		return blob.Info{}, err
	}
	info.Name = name
	return info, nil
}

// Delete implements blob.Store.
func (p *PrefixStore) Delete(ctx context.Context, name string) error {
	n, err := p.full(name)
	if err != nil {
		return err
	}
	return p.inner.Delete(ctx, n)
}

// List implements blob.Store: names are reported without the prefix.
func (p *PrefixStore) List(ctx context.Context, prefix string, fn func(blob.Info) error) error {
	if err := blob.ValidPrefix(prefix); err != nil {
		return err
	}
	strip := p.prefix + "/"
	return p.inner.List(ctx, strip+prefix, func(info blob.Info) error {
		name, ok := strings.CutPrefix(info.Name, strip)
		if !ok {
			return nil
		}
		info.Name = name
		return fn(info)
	})
}

// Close does nothing: the inner store belongs to whoever made it.
func (p *PrefixStore) Close() error { return nil }
