package archtest

import (
	"encoding/json"
	"io"
	"os/exec"
	"strings"
	"testing"
)

const mod = "github.com/coffer/coffer/"

// forbidden maps a package prefix to the prefixes its non-test code must not import.
var forbidden = map[string][]string{
	"internal/blob":    {"internal/repo", "internal/archive", "internal/meta", "internal/api", "internal/service", "internal/jobs", "internal/server", "internal/backup"},
	"internal/repo":    {"internal/archive", "internal/meta", "internal/api", "internal/service", "internal/jobs", "internal/server", "internal/backup"},
	"internal/archive": {"internal/meta", "internal/api", "internal/service", "internal/jobs", "internal/server"},
	"internal/backup":  {"internal/meta", "internal/api", "internal/service", "internal/jobs", "internal/server", "internal/repo", "internal/blob", "internal/archive"},
	"internal/meta":    {"internal/api", "internal/service", "internal/jobs", "internal/server", "internal/repo", "internal/blob", "internal/archive"},
	"internal/api":     {"internal/meta", "internal/service", "internal/jobs", "internal/repo", "internal/blob", "internal/archive", "internal/backup"},
	"internal/jobs":    {"internal/api", "internal/service", "internal/server"},
}

// drivers may only be imported by cmd/, by the CLI packages cmd/ delegates to, and by tests.
var drivers = []string{"internal/meta/sqlite", "internal/meta/postgres", "internal/blob/localfs", "internal/blob/s3"}

type pkg struct {
	ImportPath string
	Imports    []string
}

func TestLayering(t *testing.T) {
	out, err := exec.Command("go", "list", "-json", mod+"...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	n := 0
	for {
		var p pkg
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		n++
		rel := strings.TrimPrefix(p.ImportPath, mod)
		for _, imp := range p.Imports {
			if !strings.HasPrefix(imp, mod) {
				continue
			}
			irel := strings.TrimPrefix(imp, mod)
			for from, bans := range forbidden {
				if !within(rel, from) {
					continue
				}
				for _, ban := range bans {
					if within(irel, ban) {
						t.Errorf("%s imports %s: %s must not depend on %s", rel, irel, from, ban)
					}
				}
			}
			for _, d := range drivers {
				if within(irel, d) && !strings.HasPrefix(rel, "cmd/") && !within(rel, "internal/repocli") && !within(rel, d) && !strings.HasSuffix(rel, "test") {
					t.Errorf("%s imports the concrete driver %s: only cmd/ picks drivers", rel, irel)
				}
			}
		}
	}
	if n == 0 {
		t.Fatal("go list returned no packages")
	}
}

func within(p, prefix string) bool { return p == prefix || strings.HasPrefix(p, prefix+"/") }
