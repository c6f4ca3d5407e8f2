package bench

import (
	"os"
	"runtime"
	"syscall"
	"testing"
)

// TestMinorFaults: touching fresh pages counts as minor faults of this
// process (Linux).
func TestMinorFaults(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("reads /proc")
	}
	before, err := MinorFaults(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	b, err := syscall.Mmap(-1, 0, 256<<12, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Munmap(b)
	for i := 0; i < len(b); i += 4096 {
		b[i] = 1
	}
	after, err := MinorFaults(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if after-before < 200 {
		t.Errorf("touching 256 fresh pages: %d minor faults counted, want at least 200", after-before)
	}
	if _, err := MinorFaults(-1); err == nil {
		t.Error("MinorFaults(-1): no error")
	}
}
