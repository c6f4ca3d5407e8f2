package bench

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"time"
)

// Dataset describes a generated data set.
type Dataset struct {
	Dir   string
	Bytes int64
	Files int
}

var words = []string{
	"the", "of", "and", "to", "in", "is", "backup", "restore", "vault", "snapshot", "chunk", "pack",
	"index", "key", "encrypt", "compress", "coffer", "data", "file", "directory", "tree", "blob",
	"repository", "server", "client", "request", "response", "error", "retry", "storage", "object",
	"bucket", "region", "copy", "job", "plan", "schedule", "lifecycle", "retention", "policy",
	"func", "return", "if", "err", "nil", "struct", "type", "package", "import", "context",
	"2024-01-01T00:00:00Z", "INFO", "WARN", "DEBUG", "user_id=", "status=200", "latency_ms=",
	"{", "}", "(", ")", ";", "=", ":=", "//", "#", "-", "*", "0", "1", "42", "1000", "3.14159",
}

// textBlock returns n bytes of text-like content (log lines, prose, code).
func textBlock(rng *rand.Rand, n int) []byte {
	b := make([]byte, 0, n+64)
	line := 0
	for len(b) < n {
		w := words[rng.IntN(len(words))]
		if rng.IntN(50) == 0 {
			w = fmt.Sprintf("%x", rng.Uint64())
		}
		b = append(b, w...)
		line += len(w) + 1
		if line > 60+rng.IntN(40) {
			b = append(b, '\n')
			line = 0
		} else {
			b = append(b, ' ')
		}
	}
	return b[:n]
}

func randomBlock(rng *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := 0; i+8 <= n; i += 8 {
		v := rng.Uint64()
		b[i], b[i+1], b[i+2], b[i+3] = byte(v), byte(v>>8), byte(v>>16), byte(v>>24)
		b[i+4], b[i+5], b[i+6], b[i+7] = byte(v>>32), byte(v>>40), byte(v>>48), byte(v>>56)
	}
	for i := n &^ 7; i < n; i++ {
		b[i] = byte(rng.Uint32())
	}
	return b
}

func newRand(seed uint64, stream uint64) *rand.Rand {
	return rand.New(rand.NewPCG(seed, stream))
}

// Generate writes a data set of about size bytes into dir (created; it
// must not exist). The same seed and size always give the same bytes.
func Generate(dir string, seed uint64, size int64) (*Dataset, error) {
	if err := os.Mkdir(dir, 0o755); err != nil {
		return nil, err
	}
	ds := &Dataset{Dir: dir}
	write := func(rel string, data []byte) error {
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			return err
		}
		ds.Bytes += int64(len(data))
		ds.Files++
		return nil
	}
	rng := newRand(seed, 1)

	// Small text-like files: ~45%.
	textBudget := size * 45 / 100
	for i := 0; textBudget > 0; i++ {
		n := int(min(textBudget, int64(512+rng.IntN(32<<10))))
		if rng.IntN(20) == 0 {
			n = int(min(textBudget, int64(64<<10+rng.IntN(448<<10))))
		}
		rel := fmt.Sprintf("src/proj%02d/pkg%02d/file%05d.txt", i%37, (i/37)%23, i)
		if err := write(rel, textBlock(rng, n)); err != nil {
			return nil, err
		}
		textBudget -= int64(n)
	}
	// Large incompressible files: ~35%, in 4 files.
	bigBudget := size * 35 / 100
	var bigs []string
	for i := 0; i < 4; i++ {
		n := int(bigBudget / 4)
		rel := fmt.Sprintf("media/video%d.bin", i)
		if err := write(rel, randomBlock(newRand(seed, uint64(100+i)), n)); err != nil {
			return nil, err
		}
		bigs = append(bigs, rel)
	}
	// Exact duplicates: ~10% (one big file copied, plus a text subtree).
	dupBudget := size * 10 / 100
	src, err := os.ReadFile(filepath.Join(dir, bigs[0]))
	if err != nil {
		return nil, err
	}
	if int64(len(src)) > dupBudget {
		src = src[:dupBudget]
	}
	if err := write("archive/video0-copy.bin", src); err != nil {
		return nil, err
	}
	// Shifted duplicates: ~10%, a big file with bytes inserted.
	shift, err := os.ReadFile(filepath.Join(dir, bigs[1]))
	if err != nil {
		return nil, err
	}
	if int64(len(shift)) > size*10/100 {
		shift = shift[:size*10/100]
	}
	ins := append([]byte("inserted header bytes\n"), shift[:len(shift)/2]...)
	ins = append(ins, []byte("-- inserted in the middle --")...)
	ins = append(ins, shift[len(shift)/2:]...)
	if err := write("archive/video1-shifted.bin", ins); err != nil {
		return nil, err
	}
	return ds, nil
}

// Mutate changes about fraction of the data set's bytes, reproducibly:
// half by rewriting or appending to small files and adding new ones, half
// by overwriting regions of large files; it also deletes a few files.
// It returns the number of bytes written.
func Mutate(dir string, seed uint64, fraction float64) (int64, error) {
	files, total, err := regularFiles(dir)
	if err != nil {
		return 0, err
	}
	var small, large []string
	for _, f := range files {
		if f.size >= 1<<20 {
			large = append(large, f.path)
		} else {
			small = append(small, f.path)
		}
	}
	rng := newRand(seed, 999)
	budget := int64(float64(total) * fraction)
	var written int64
	// Small files: rewrite, append, add; delete a few.
	for written < budget/2 && len(small) > 0 {
		p := small[rng.IntN(len(small))]
		switch rng.IntN(3) {
		case 0:
			fi, err := os.Stat(p)
			if err != nil {
				continue // deleted earlier
			}
			data := textBlock(rng, int(fi.Size()))
			if err := os.WriteFile(p, data, 0o644); err != nil {
				return written, err
			}
			written += int64(len(data))
		case 1:
			f, err := os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0)
			if err != nil {
				continue
			}
			data := textBlock(rng, 1024+rng.IntN(8192))
			_, err = f.Write(data)
			f.Close()
			if err != nil {
				return written, err
			}
			written += int64(len(data))
		case 2:
			data := textBlock(rng, 512+rng.IntN(16<<10))
			np := filepath.Join(filepath.Dir(p), fmt.Sprintf("new-%d.txt", rng.Uint32()))
			if err := os.WriteFile(np, data, 0o644); err != nil {
				return written, err
			}
			written += int64(len(data))
		}
	}
	for i := 0; i < 5 && len(small) > 10; i++ {
		_ = os.Remove(small[rng.IntN(len(small))])
	}
	// Large files: overwrite 256 KiB regions.
	for written < budget && len(large) > 0 {
		p := large[rng.IntN(len(large))]
		f, err := os.OpenFile(p, os.O_WRONLY, 0)
		if err != nil {
			return written, err
		}
		fi, _ := f.Stat()
		n := int64(256 << 10)
		off := rng.Int64N(max(fi.Size()-n, 1))
		_, err = f.WriteAt(randomBlock(rng, int(n)), off)
		f.Close()
		if err != nil {
			return written, err
		}
		written += n
	}
	return written, nil
}

// MutateFiles changes about fraction of the data set's bytes as whole
// files, reproducibly: files picked at random (each at most once, none
// larger than what is left of the budget) get new content of the same size
// and kind (text-like under 1 MiB, random above). It is the change a copy or
// backup can move in proportion to its size, where Mutate's scattered
// overwrites dirty whole chunks around each write. It returns the number of
// bytes written.
func MutateFiles(dir string, seed uint64, fraction float64) (int64, error) {
	files, total, err := regularFiles(dir)
	if err != nil {
		return 0, err
	}
	rng := newRand(seed, 1234)
	rng.Shuffle(len(files), func(i, j int) { files[i], files[j] = files[j], files[i] })
	budget := int64(float64(total) * fraction)
	var written int64
	for _, f := range files {
		if written+f.size > budget {
			continue
		}
		var data []byte
		if f.size >= 1<<20 {
			data = randomBlock(rng, int(f.size))
		} else {
			data = textBlock(rng, int(f.size))
		}
		if err := os.WriteFile(f.path, data, 0o644); err != nil {
			return written, err
		}
		written += f.size
	}
	return written, nil
}

// Stamps are the size and modification time of each regular file under a
// directory, taken before a change to find the files it touched.
type Stamps map[string]stamp

type stamp struct {
	size  int64
	mtime time.Time
}

// Stamp records the regular files under dir.
func Stamp(dir string) (Stamps, error) {
	s := Stamps{}
	err := filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if fi.Mode().IsRegular() {
			s[p] = stamp{fi.Size(), fi.ModTime()}
		}
		return nil
	})
	return s, err
}

// Changed counts the regular files under dir that are new since s was
// taken or differ from it in size or modification time, and their total
// size: what a file-level incremental backup (AWS Backup's for EFS copies
// each changed file whole) would move.
func (s Stamps) Changed(dir string) (files int, bytes int64, err error) {
	now, err := Stamp(dir)
	if err != nil {
		return 0, 0, err
	}
	for p, st := range now {
		if old, ok := s[p]; !ok || old.size != st.size || !old.mtime.Equal(st.mtime) {
			files++
			bytes += st.size
		}
	}
	return files, bytes, nil
}

type fileInfo struct {
	path string
	size int64
}

// regularFiles lists the regular files under dir sorted by path, and their
// total size.
func regularFiles(dir string) ([]fileInfo, int64, error) {
	var files []fileInfo
	var total int64
	err := filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if fi.Mode().IsRegular() {
			total += fi.Size()
			files = append(files, fileInfo{p, fi.Size()})
		}
		return nil
	})
	sort.Slice(files, func(i, j int) bool { return files[i].path < files[j].path })
	return files, total, err
}

// ManyFiles writes n small files (about 100 per directory) under dir for
// the 100,000-file tree benchmark.
func ManyFiles(dir string, seed uint64, n int) error {
	rng := newRand(seed, 7)
	for i := 0; i < n; i++ {
		d := filepath.Join(dir, fmt.Sprintf("d%03d", i/1000), fmt.Sprintf("s%02d", i/100%10))
		if i%100 == 0 {
			if err := os.MkdirAll(d, 0o755); err != nil {
				return err
			}
		}
		if err := os.WriteFile(filepath.Join(d, fmt.Sprintf("file-%06d.txt", i)), textBlock(rng, 200+rng.IntN(3000)), 0o644); err != nil {
			return err
		}
	}
	return nil
}
