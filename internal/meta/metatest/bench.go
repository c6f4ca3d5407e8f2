package metatest

import (
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"

	"github.com/coffer/coffer/internal/meta"
)

// Bench runs the store benchmarks: CreateVault, GetVault and ListVaults,
// each serial and parallel (b.RunParallel, GOMAXPROCS goroutines; for
// CreateVault also 32 concurrent clients, as an API server sees), against
// stores made by open (empty; the benchmark's cleanup closes them).
func Bench(b *testing.B, open func(b *testing.B) meta.Store) {
	const preload = 1000
	fill := func(b *testing.B, s meta.Store) {
		for i := 0; i < preload; i++ {
			if _, err := s.CreateVault(ctx(), plainVault(fmt.Sprintf("pre%06d", i)), nil); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Run("CreateVault", func(b *testing.B) {
		s := open(b)
		i := 0
		for b.Loop() {
			if _, err := s.CreateVault(ctx(), plainVault(fmt.Sprintf("v%09d", i)), nil); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("CreateVaultParallel", func(b *testing.B) {
		s := open(b)
		var n atomic.Int64
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := s.CreateVault(ctx(), plainVault(fmt.Sprintf("v%09d", n.Add(1))), nil); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
	b.Run("CreateVault32Clients", func(b *testing.B) {
		s := open(b)
		var n atomic.Int64
		b.SetParallelism(max(1, 32/runtime.GOMAXPROCS(0)))
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := s.CreateVault(ctx(), plainVault(fmt.Sprintf("v%09d", n.Add(1))), nil); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
	b.Run("GetVault", func(b *testing.B) {
		s := open(b)
		fill(b, s)
		i := 0
		for b.Loop() {
			if _, err := s.GetVault(ctx(), vkey(fmt.Sprintf("pre%06d", i%preload))); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("GetVaultParallel", func(b *testing.B) {
		s := open(b)
		fill(b, s)
		var n atomic.Int64
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := s.GetVault(ctx(), vkey(fmt.Sprintf("pre%06d", n.Add(1)%preload))); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
	list := func(s meta.Store) error {
		_, _, err := s.ListVaults(ctx(), meta.VaultFilter{Region: region, AccountID: account}, meta.Page{MaxResults: 50})
		return err
	}
	b.Run("ListVaults50", func(b *testing.B) {
		s := open(b)
		fill(b, s)
		for b.Loop() {
			if err := list(s); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("ListVaults50Parallel", func(b *testing.B) {
		s := open(b)
		fill(b, s)
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := list(s); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}
