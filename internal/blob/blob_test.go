package blob_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/coffer/coffer/internal/blob"
	"github.com/coffer/coffer/internal/blob/mem"
)

// TestPutStreamWholeObject: a store without PutStream gets exactly the
// streamed bytes, also when buffers are reused between objects of
// different sizes; a short or long stream stores nothing.
func TestPutStreamWholeObject(t *testing.T) {
	ctx := context.Background()
	st := mem.New("test")
	sizes := []int{3 << 20, 100 << 10, 3<<20 + 17, 1 << 10, 64 << 10, 2 << 20}
	for i, n := range sizes {
		data := bytes.Repeat([]byte{byte('a' + i)}, n)
		name := "packs/" + strings.Repeat("0", i+1)
		if err := blob.PutStream(ctx, st, name, int64(n), bytes.NewReader(data)); err != nil {
			t.Fatal(err)
		}
		got, err := blob.ReadAll(ctx, st, name)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, data) {
			t.Fatalf("object %d (%d bytes): stored %d bytes that differ from the stream", i, n, len(got))
		}
	}
	for _, c := range []struct {
		size   int64
		stream int
	}{{1 << 20, 1<<20 - 1}, {1 << 20, 1<<20 + 1}} {
		err := blob.PutStream(ctx, st, "short-or-long", c.size, bytes.NewReader(make([]byte, c.stream)))
		if err == nil {
			t.Errorf("size %d, stream of %d bytes: no error", c.size, c.stream)
		}
		if _, err := st.Stat(ctx, "short-or-long"); err == nil {
			t.Errorf("size %d, stream of %d bytes: an object was stored", c.size, c.stream)
		}
	}
}
