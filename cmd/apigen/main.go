// Command apigen generates the Go API layer of Coffer (package backupapi)
// from the pinned AWS Backup service model, and reports which operations a
// Service implementation covers. It uses the standard library only.
//
// Generate (run by go generate in internal/api/backupapi):
//
//	apigen -model M.service.json -paginators M.paginators.json [-patches patches.json] -out DIR [-pkg backupapi]
//
// writes DIR/*_gen.go and DIR/validation_gen_test.go. Files are gofmt'ed and
// depend only on the inputs, so running apigen twice gives identical bytes.
// patches.json is a JSON Patch (RFC 6902) applied to the model before
// generation; each operation may carry a "comment" saying why.
//
// Coverage:
//
//	apigen -coverage [-model M.service.json] -service DIR [-type Service] -out FILE
//
// e.g. from the repository root:
//
//	go run ./cmd/apigen -coverage -service internal/service -out internal/service/coverage_gen.go
//
// parses the Go files of the package in DIR, finds methods of the type named
// by -type (value or pointer receiver) whose names are operations of the
// model, and writes FILE with var Implemented = map[string]bool{...} holding
// every operation (true when implemented), in the scanned package.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "apigen:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("apigen", flag.ContinueOnError)
	modelPath := fs.String("model", "model/backup-2018-11-15.service.json", "service model JSON (botocore service-2 format)")
	pagPath := fs.String("paginators", "", "paginators JSON (optional)")
	patchPath := fs.String("patches", "", "JSON Patch file applied to the model (optional; a missing file is an error)")
	out := fs.String("out", "", "output directory (generate) or file (coverage)")
	pkg := fs.String("pkg", "backupapi", "package name of the generated code")
	coverage := fs.Bool("coverage", false, "coverage mode: scan a Service implementation")
	svcDir := fs.String("service", "", "coverage: directory of the package to scan")
	typeName := fs.String("type", "Service", "coverage: name of the implementing type")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *modelPath == "" || *out == "" {
		return fmt.Errorf("-model and -out must not be empty")
	}
	m, err := LoadModel(*modelPath, *pagPath, *patchPath)
	if err != nil {
		return err
	}
	if *coverage {
		if *svcDir == "" {
			return fmt.Errorf("-coverage needs -service")
		}
		src, err := Coverage(m, *svcDir, *typeName, filepath.Base(*out))
		if err != nil {
			return err
		}
		return writeIfChanged(*out, src)
	}
	files, err := Generate(m, *pkg)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	for _, f := range files {
		if err := writeIfChanged(filepath.Join(*out, f.Name), f.Data); err != nil {
			return err
		}
	}
	return removeStale(*out, files)
}

// writeIfChanged keeps file times stable when nothing changed.
func writeIfChanged(path string, data []byte) error {
	if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, data) {
		return nil
	}
	return os.WriteFile(path, data, 0o644)
}

// removeStale deletes generated files apigen no longer produces.
func removeStale(dir string, files []File) error {
	keep := map[string]bool{}
	for _, f := range files {
		keep[f.Name] = true
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		name := e.Name()
		if keep[name] || !(strings.HasSuffix(name, "_gen.go") || strings.HasSuffix(name, "_gen_test.go")) {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return err
		}
		if bytes.HasPrefix(data, []byte(header)) {
			if err := os.Remove(filepath.Join(dir, name)); err != nil {
				return err
			}
		}
	}
	return nil
}
