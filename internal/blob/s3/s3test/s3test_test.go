package s3test

import (
	"context"
	"net/http"
	"testing"

	"github.com/minio/minio-go/v7"
)

func TestStartStopRestart(t *testing.T) {
	srv := StartServer(t)
	ctx := context.Background()
	ok, err := srv.client.BucketExists(ctx, srv.Bucket)
	if err != nil || !ok {
		t.Fatalf("BucketExists(%s): got %v, %v, want true", srv.Bucket, ok, err)
	}
	if b := srv.NewBucket(t); b == srv.Bucket {
		t.Errorf("NewBucket returned the existing bucket %s", b)
	}
	if _, err := srv.client.PutObject(ctx, srv.Bucket, "k", http.NoBody, 0, minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	srv.Stop()
	srv.Stop() // idempotent
	if _, err := http.Get(srv.URL); err == nil {
		t.Errorf("server still answers after Stop")
	}
	srv.Restart(t)
	if _, err := srv.client.StatObject(ctx, srv.Bucket, "k", minio.StatObjectOptions{}); err != nil {
		t.Errorf("object after Restart: %v", err)
	}
}
