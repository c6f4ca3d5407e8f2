// Package bufpool pools byte buffers by power-of-two capacity, from 4 KiB
// to 64 MiB, for code that needs a whole object or chunk in memory at once
// (the repository's blob copies and group records, whole-object uploads).
//
// A buffer made per use comes from pages the process has not touched, and
// filling it faults each page in; on the development VM a fault costs
// 16-21 µs, so a 16 MiB buffer made per pack cost ~80 ms of faults (a copy
// job to S3 took ~121,000 faults for its packs without the pool, ~60,000
// with it). Pooled buffers are reused until the garbage collector empties
// the pools.
package bufpool

import (
	"math/bits"
	"sync"
)

// The classes: 4 KiB (smaller requests get it too) to 64 MiB (larger
// requests get a fresh, unpooled buffer).
const (
	minShift = 12
	minSize  = 1 << minShift
	classes  = 15
)

// pools[c] holds *[]byte of capacity minSize<<c.
var pools [classes]sync.Pool

// class returns the size class holding n bytes (possibly past the last).
func class(n int) int {
	if n <= minSize {
		return 0
	}
	return bits.Len(uint(n-1)) - minShift
}

// Get returns an empty buffer with capacity at least n.
func Get(n int) []byte {
	c := class(n)
	if c >= len(pools) {
		return make([]byte, 0, n)
	}
	if b, ok := pools[c].Get().(*[]byte); ok {
		return (*b)[:0]
	}
	return make([]byte, 0, minSize<<c)
}

// Put returns b for reuse; the caller must not use it afterwards. Buffers
// whose capacity is not a class's (not from Get, or larger than the last
// class) are dropped.
func Put(b []byte) {
	c := class(cap(b))
	if c >= len(pools) || cap(b) != minSize<<c {
		return
	}
	b = b[:0]
	pools[c].Put(&b)
}
