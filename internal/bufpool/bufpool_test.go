package bufpool

import "testing"

// TestGetPut: Get's capacity is the class's (n rounded up to a power of
// two, at least 4 KiB), or exactly n past the last class; Put accepts only
// class capacities.
func TestGetPut(t *testing.T) {
	for _, c := range []struct{ n, cap int }{
		{0, 4 << 10}, {1, 4 << 10}, {4 << 10, 4 << 10}, {4<<10 + 1, 8 << 10},
		{1 << 20, 1 << 20}, {16<<20 + 100, 32 << 20}, {64 << 20, 64 << 20}, {64<<20 + 1, 64<<20 + 1},
	} {
		b := Get(c.n)
		if len(b) != 0 || cap(b) != c.cap {
			t.Errorf("Get(%d): len %d cap %d, want 0 and %d", c.n, len(b), cap(b), c.cap)
		}
		Put(append(b, 1))
	}
	if class(64<<20+1) < len(pools) {
		t.Errorf("a request past 64 MiB falls in a pooled class")
	}
	Put(make([]byte, 5000)) // not a class capacity: dropped
	if b := Get(5000); cap(b) != 8<<10 {
		t.Errorf("Get(5000) after Put of a 5000-byte buffer: cap %d, want 8192", cap(b))
	}
}
