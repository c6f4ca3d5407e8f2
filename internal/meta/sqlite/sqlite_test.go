package sqlite_test

import (
	"context"
	"testing"

	"github.com/coffer/coffer/internal/meta"
	"github.com/coffer/coffer/internal/meta/metatest"
	"github.com/coffer/coffer/internal/meta/sqlite"
)

func open(tb testing.TB, dir string) *sqlite.Store {
	s, err := sqlite.Open(context.Background(), dir, sqlite.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	metatest.Run(t,
		func(t *testing.T) meta.Store { return open(t, t.TempDir()) },
		metatest.WithReopen(func(t *testing.T, s meta.Store) meta.Store {
			path := s.(*sqlite.Store).Path()
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			s2, err := sqlite.OpenFile(context.Background(), path, sqlite.Options{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s2.Close() })
			return s2
		}))
}

func BenchmarkStore(b *testing.B) {
	metatest.Bench(b, func(b *testing.B) meta.Store { return open(b, b.TempDir()) })
}
