package mem_test

import (
	"testing"

	"github.com/coffer/coffer/internal/blob"
	"github.com/coffer/coffer/internal/blob/blobtest"
	"github.com/coffer/coffer/internal/blob/mem"
)

func TestConformance(t *testing.T) {
	blobtest.Run(t, func(t *testing.T) blob.Store { return mem.New(t.Name()) })
}

func BenchmarkStore(b *testing.B) {
	blobtest.Benchmark(b, func(b *testing.B) blob.Store { return mem.New(b.Name()) })
}
