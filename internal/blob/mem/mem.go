package mem

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"

	"github.com/coffer/coffer/internal/blob"
)

// Store is an in-memory blob.Store. The zero value is not usable; use New.
type Store struct {
	label string

	mu      sync.RWMutex
	objects map[string][]byte
}

var _ blob.Store = (*Store)(nil)

// New returns an empty Store. label names it in Location ("mem://label").
func New(label string) *Store {
	return &Store{label: label, objects: map[string][]byte{}}
}

// Location returns "mem://" followed by the label given to New.
func (s *Store) Location() string { return "mem://" + s.label }

func check(ctx context.Context, op, name string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("mem: %s %q: %w", op, name, err)
	}
	if err := blob.ValidName(name); err != nil {
		return fmt.Errorf("mem: %s: %w", op, err)
	}
	return nil
}

// Put stores a copy of data under name.
func (s *Store) Put(ctx context.Context, name string, data []byte) error {
	if err := check(ctx, "put", name); err != nil {
		return err
	}
	c := bytes.Clone(data)
	s.mu.Lock()
	s.objects[name] = c
	s.mu.Unlock()
	return nil
}

// PutIfAbsent stores a copy of data under name unless name is taken.
func (s *Store) PutIfAbsent(ctx context.Context, name string, data []byte) error {
	if err := check(ctx, "put-if-absent", name); err != nil {
		return err
	}
	c := bytes.Clone(data)
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.objects[name]; ok {
		return fmt.Errorf("mem: put-if-absent %q: %w", name, blob.ErrExists)
	}
	s.objects[name] = c
	return nil
}

// Get returns a reader over the requested range of the object.
func (s *Store) Get(ctx context.Context, name string, offset, length int64) (io.ReadCloser, error) {
	if err := check(ctx, "get", name); err != nil {
		return nil, err
	}
	s.mu.RLock()
	data, ok := s.objects[name]
	s.mu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("mem: get %q: %w", name, blob.ErrNotFound)
	}
	size := int64(len(data))
	if offset < 0 || offset > size {
		return nil, fmt.Errorf("mem: get %q: offset %d of a %d-byte object: %w", name, offset, size, blob.ErrInvalidRange)
	}
	end := size
	if length >= 0 && length < size-offset {
		end = offset + length
	}
	return blob.ContextReader(ctx, io.NopCloser(bytes.NewReader(data[offset:end]))), nil
}

// Stat returns the object's size.
func (s *Store) Stat(ctx context.Context, name string) (blob.Info, error) {
	if err := check(ctx, "stat", name); err != nil {
		return blob.Info{}, err
	}
	s.mu.RLock()
	data, ok := s.objects[name]
	s.mu.RUnlock()
	if !ok {
		return blob.Info{}, fmt.Errorf("mem: stat %q: %w", name, blob.ErrNotFound)
	}
	return blob.Info{Name: name, Size: int64(len(data))}, nil
}

// Delete removes the object if it exists.
func (s *Store) Delete(ctx context.Context, name string) error {
	if err := check(ctx, "delete", name); err != nil {
		return err
	}
	s.mu.Lock()
	delete(s.objects, name)
	s.mu.Unlock()
	return nil
}

// List calls fn for a snapshot of the objects under prefix, in name order.
func (s *Store) List(ctx context.Context, prefix string, fn func(blob.Info) error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("mem: list %q: %w", prefix, err)
	}
	if err := blob.ValidPrefix(prefix); err != nil {
		return fmt.Errorf("mem: list: %w", err)
	}
	s.mu.RLock()
	var infos []blob.Info
	for name, data := range s.objects {
		if strings.HasPrefix(name, prefix) {
			infos = append(infos, blob.Info{Name: name, Size: int64(len(data))})
		}
	}
	s.mu.RUnlock()
	sort.Slice(infos, func(i, j int) bool { return infos[i].Name < infos[j].Name })
	for _, info := range infos {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("mem: list %q: %w", prefix, err)
		}
		if err := fn(info); err != nil {
			return err
		}
	}
	return nil
}

// Close does nothing; the objects stay readable.
func (s *Store) Close() error { return nil }

// Len returns the number of stored objects.
func (s *Store) Len() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.objects)
}
