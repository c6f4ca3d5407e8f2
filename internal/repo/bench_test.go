package repo

import (
	"bytes"
	"context"
	"io"
	"syscall"
	"testing"
	"time"

	"github.com/coffer/coffer/internal/repo/chunker"
)

// backupStream runs the full write path over data: chunk → hash → dedup →
// compress → seal → pack → store, then Flush.
func backupStream(tb testing.TB, r *Repository, data []byte) []ID {
	ctx := context.Background()
	c := chunker.New(bytes.NewReader(data), r.ChunkerParams())
	buf := make([]byte, 0, chunker.DefaultMaxSize)
	var ids []ID
	for {
		ch, err := c.Next(buf)
		if err == io.EOF {
			break
		}
		if err != nil {
			tb.Fatal(err)
		}
		id := r.Hash(ch.Data)
		if _, err := r.SaveBlob(ctx, DataBlob, id, ch.Data); err != nil {
			tb.Fatal(err)
		}
		ids = append(ids, id)
		buf = ch.Data[:0]
	}
	if err := r.Flush(ctx); err != nil {
		tb.Fatal(err)
	}
	return ids
}

func benchBackup(b *testing.B, data []byte) {
	dir := b.TempDir()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	var cpu time.Duration
	for b.Loop() {
		b.StopTimer()
		st := openDirStore(b, b.TempDir())
		r := initRepo(b, st, Options{CacheDir: dir})
		b.StartTimer()
		c0 := cpuTime()
		backupStream(b, r, data)
		cpu += cpuTime() - c0
		b.StopTimer()
		r.Close()
		st.Close()
		b.StartTimer()
	}
	// CPU per MB is less sensitive than MB/s to other load on the machine:
	// 2 cores / (cpu-ms/MB) bounds the throughput on an idle machine.
	b.ReportMetric(float64(cpu.Milliseconds())/float64(b.N)/(float64(len(data))/1e6), "cpu-ms/MB")
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkBackupIncompressible is the full path to local disk (fsync'd
// packs) for random data.
func BenchmarkBackupIncompressible(b *testing.B) { benchBackup(b, randData(1, 256<<20)) }

// BenchmarkBackupText is the same for compressible text.
func BenchmarkBackupText(b *testing.B) { benchBackup(b, textData(1, 128<<20)) }

// BenchmarkRestore reads every chunk back with ReadPackBlobs, pack by pack.
func BenchmarkRestore(b *testing.B) {
	data := randData(2, 256<<20)
	st := openDirStore(b, b.TempDir())
	r := initRepo(b, st, Options{})
	defer r.Close()
	ids := backupStream(b, r, data)
	byPack := map[ID][]BlobLocation{}
	for _, id := range ids {
		l, _ := r.Lookup(DataBlob, id)
		byPack[l.Pack] = append(byPack[l.Pack], l)
	}
	ctx := context.Background()
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for b.Loop() {
		n := 0
		for p, locs := range byPack {
			if err := r.ReadPackBlobs(ctx, p, locs, func(_ BlobLocation, d []byte) error { n += len(d); return nil }); err != nil {
				b.Fatal(err)
			}
		}
		if n != len(data) {
			b.Fatalf("restored %d bytes, want %d", n, len(data))
		}
	}
}

// BenchmarkLoadBlob reads chunks one by one.
func BenchmarkLoadBlob(b *testing.B) {
	data := randData(3, 64<<20)
	st := openDirStore(b, b.TempDir())
	r := initRepo(b, st, Options{})
	defer r.Close()
	ids := backupStream(b, r, data)
	ctx := context.Background()
	b.SetBytes(int64(len(data)))
	var buf []byte
	for b.Loop() {
		for _, id := range ids {
			var err error
			buf, err = r.LoadBlob(ctx, DataBlob, id, buf)
			if err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkSaveBlobSmall measures the per-blob overhead (100,000 small
// files): 4 KiB text blobs through the whole pipeline.
func BenchmarkSaveBlobSmall(b *testing.B) {
	st := openDirStore(b, b.TempDir())
	r := initRepo(b, st, Options{})
	defer r.Close()
	ctx := context.Background()
	blobs := make([][]byte, 10000)
	for i := range blobs {
		blobs[i] = textData(uint64(i), 4<<10)
	}
	b.SetBytes(int64(len(blobs)) * 4 << 10)
	i := 0
	for b.Loop() {
		for _, d := range blobs {
			d[0] = byte(i) // new content each round
			d[1] = byte(i >> 8)
			if _, err := r.SaveBlob(ctx, DataBlob, r.Hash(d), d); err != nil {
				b.Fatal(err)
			}
		}
		i++
		if err := r.Flush(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCompressSeal is one worker's job for a 1 MiB chunk: the
// incompressibility test, zstd when it pays, and sealing into a pack slot.
func BenchmarkCompressSeal(b *testing.B) {
	r := initRepo(b, newMem(), Options{})
	defer r.Close()
	for _, tc := range []struct {
		name string
		data []byte
	}{{"random", randData(1, 1<<20)}, {"text", textData(1, 1<<20)}} {
		b.Run(tc.name, func(b *testing.B) {
			var wb workerBufs
			job := make([]byte, len(tc.data)+1)
			out := make([]byte, 0, len(tc.data)+1024)
			b.SetBytes(int64(len(tc.data)))
			for b.Loop() {
				copy(job[1:], tc.data)
				p := r.compress(job, &wb, true)
				out = r.aead.Seal(out[:0], p, []byte("ad"))
			}
			b.ReportMetric(float64(len(out))/float64(len(tc.data)), "ratio")
		})
	}
}
