package blobtest

import (
	"context"
	"fmt"
	"io"
	"testing"

	"github.com/coffer/coffer/internal/blob"
)

// BenchSizes are the object sizes Benchmark measures.
var BenchSizes = []int{4 << 10, 1 << 20, 16 << 20}

// Benchmark measures Put, Get and PutIfAbsent throughput for each of
// BenchSizes on a Store from newStore (one Store per sub-benchmark, closed
// at its end).
func Benchmark(b *testing.B, newStore func(b *testing.B) blob.Store) {
	ctx := context.Background()
	for _, size := range BenchSizes {
		data := Data(uint64(size), size)
		b.Run(fmt.Sprintf("Put/%dKiB", size>>10), func(b *testing.B) {
			s := newStore(b)
			defer s.Close()
			b.SetBytes(int64(size))
			i := 0
			for b.Loop() {
				if err := s.Put(ctx, fmt.Sprintf("bench/%d", i%64), data); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
		b.Run(fmt.Sprintf("PutIfAbsent/%dKiB", size>>10), func(b *testing.B) {
			s := newStore(b)
			defer s.Close()
			b.SetBytes(int64(size))
			i := 0
			for b.Loop() {
				if err := s.PutIfAbsent(ctx, fmt.Sprintf("bench/%d", i), data); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
		b.Run(fmt.Sprintf("Get/%dKiB", size>>10), func(b *testing.B) {
			s := newStore(b)
			defer s.Close()
			if err := s.Put(ctx, "bench/get", data); err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(size))
			for b.Loop() {
				rc, err := s.Get(ctx, "bench/get", 0, -1)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := io.Copy(io.Discard, rc); err != nil {
					b.Fatal(err)
				}
				rc.Close()
			}
		})
	}
}
