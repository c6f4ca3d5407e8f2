package main

import (
	"bytes"
	"flag"
	"os"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the README's API coverage section from the code")

const (
	readmePath     = "../../README.md"
	coverageBegin  = "<!-- api-coverage:begin (generated: coffer api-coverage --markdown; refresh: go test ./cmd/coffer -run TestReadmeAPICoverage -update) -->\n"
	coverageEnd    = "<!-- api-coverage:end -->"
	coverageFormat = "README.md has no section between %q and %q"
)

// TestReadmeAPICoverage keeps the README's table of implemented operations
// equal to what the code implements (service.Implemented). With -update it
// rewrites the section.
func TestReadmeAPICoverage(t *testing.T) {
	data, err := os.ReadFile(readmePath)
	if err != nil {
		t.Fatal(err)
	}
	begin := bytes.Index(data, []byte(coverageBegin))
	end := bytes.Index(data, []byte(coverageEnd))
	if begin < 0 || end < begin {
		t.Fatalf(coverageFormat, coverageBegin, coverageEnd)
	}
	got := string(data[begin+len(coverageBegin) : end])
	want := coverageMarkdown()
	if got == want {
		return
	}
	if *update {
		out := append([]byte{}, data[:begin+len(coverageBegin)]...)
		out = append(out, want...)
		out = append(out, data[end:]...)
		if err := os.WriteFile(readmePath, out, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	gl, wl := strings.Split(got, "\n"), strings.Split(want, "\n")
	for i := 0; i < len(gl) || i < len(wl); i++ {
		var g, w string
		if i < len(gl) {
			g = gl[i]
		}
		if i < len(wl) {
			w = wl[i]
		}
		if g != w {
			t.Fatalf("README.md API coverage is stale at line %d of the section:\n got: %s\nwant: %s\nrun: go test ./cmd/coffer -run TestReadmeAPICoverage -update", i+1, g, w)
		}
	}
}

func TestAPICoverageCommand(t *testing.T) {
	var out, errb bytes.Buffer
	if rc := apiCoverage(nil, &out, &errb); rc != 0 {
		t.Fatalf("got exit %d (%s), want 0", rc, errb.String())
	}
	n, total := coverageTotals()
	if total != 108 || n < 20 {
		t.Errorf("got %d of %d implemented, want at least 20 of 108", n, total)
	}
	for _, want := range []string{"CreateBackupVault", "PUT /backup-vaults/{backupVaultName}", "implemented", "not implemented (501)", "operations implemented"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q", want)
		}
	}
	out.Reset()
	if rc := apiCoverage([]string{"--markdown"}, &out, &errb); rc != 0 || out.String() != coverageMarkdown() {
		t.Errorf("--markdown: got exit %d and a different table", rc)
	}
	if rc := apiCoverage([]string{"extra"}, &out, &errb); rc != 2 {
		t.Errorf("got exit %d for an extra argument, want 2", rc)
	}
}

func TestClientAddr(t *testing.T) {
	cases := map[string]string{
		"127.0.0.1:8765": "127.0.0.1:8765",
		"0.0.0.0:80":     "127.0.0.1:80",
		"[::]:80":        "[::1]:80",
		":80":            "127.0.0.1:80",
		"[::1]:9":        "[::1]:9",
		"host:1":         "host:1",
	}
	for in, want := range cases {
		if got := clientAddr(in); got != want {
			t.Errorf("clientAddr(%q): got %q, want %q", in, got, want)
		}
	}
}
