package s3

import (
	"context"
	"testing"

	"github.com/coffer/coffer/internal/blob"
	"github.com/coffer/coffer/internal/blob/blobtest"
	"github.com/coffer/coffer/internal/blob/s3/s3test"
)

func newStore(t testing.TB, srv *s3test.Server, bucket, prefix string) *Store {
	t.Helper()
	s, err := New(context.Background(), Options{
		Endpoint:  srv.URL,
		Bucket:    bucket,
		Prefix:    prefix,
		Region:    srv.Region,
		AccessKey: srv.AccessKey,
		SecretKey: Secret(srv.SecretKey),
	})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s
}

func TestConformance(t *testing.T) {
	srv := s3test.StartServer(t)
	blobtest.Run(t, func(t *testing.T) blob.Store { return newStore(t, srv, srv.NewBucket(t), "") })
}

func TestConformanceWithPrefix(t *testing.T) {
	srv := s3test.StartServer(t)
	blobtest.Run(t, func(t *testing.T) blob.Store { return newStore(t, srv, srv.NewBucket(t), "coffer/store1") })
}

func BenchmarkStore(b *testing.B) {
	srv := s3test.StartServer(b)
	blobtest.Benchmark(b, func(b *testing.B) blob.Store { return newStore(b, srv, srv.NewBucket(b), "") })
}
