package connector_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/coffer/coffer/internal/backup"
	"github.com/coffer/coffer/internal/config"
	"github.com/coffer/coffer/internal/connector"
)

func TestInventoryServesGoodEntriesAndReportsBadOnes(t *testing.T) {
	dir := t.TempDir()
	img := filepath.Join(dir, "vol.img")
	if err := os.WriteFile(img, make([]byte, 4096), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	cfg.DataDir = dir
	if err := cfg.Resolve(); err != nil {
		t.Fatal(err)
	}
	efs := "arn:aws:elasticfilesystem:us-east-1:111122223333:file-system/fs-0123456789abcdef0"
	later := "arn:aws:elasticfilesystem:us-west-2:111122223333:file-system/fs-0123456789abcdef1"
	ebs := "arn:aws:ec2:us-east-1:111122223333:volume/vol-0123456789abcdef0"
	rds := "arn:aws:rds:us-east-1:111122223333:db:shop"
	cfg.Resources = []config.Resource{
		{ARN: efs, Path: dir, Name: "home"},
		{ARN: later, Path: filepath.Join(dir, "not-yet")}, // served, reported
		{ARN: ebs, Path: img},
		{ARN: rds, DSN: "postgres://u:secret@127.0.0.1:1/shop"},
		{ARN: "arn:aws:dynamodb:us-east-1:111122223333:table/t", Path: dir},                                   // unsupported type
		{ARN: "arn:aws:elasticfilesystem:eu-west-1:111122223333:file-system/fs-0123456789abcdef2", Path: dir}, // region not served
		{ARN: efs, Path: dir},                                                                                 // duplicate
		{ARN: "not-an-arn", Path: dir},                                                                        // malformed
		{ARN: "arn:aws:rds:us-east-1:111122223333:db:nodsn"},                                                  // no target
	}
	inv, problems := connector.NewInventory(cfg)
	var arns []string
	for _, r := range inv.All() {
		arns = append(arns, r.ARN)
	}
	want := []string{ebs, efs, later, rds}
	if strings.Join(arns, " ") != strings.Join(want, " ") {
		t.Errorf("got served %v, want %v", arns, want)
	}
	r, ok := inv.Get(efs)
	if !ok || r.Type != backup.EFS || r.ID != "fs-0123456789abcdef0" || r.Name != "home" || r.Target != dir || r.Region != "us-east-1" {
		t.Errorf("got %+v", r)
	}
	if r, _ := inv.Get(rds); r.Target != "postgres://u:secret@127.0.0.1:1/shop" || r.Name != "shop" {
		t.Errorf("got RDS resource %+v", r)
	}
	reported := map[int]bool{}
	for _, p := range problems {
		reported[p.Index] = true
		if strings.Contains(p.String(), "secret") {
			t.Errorf("problem %q shows the DSN's password", p)
		}
	}
	for _, i := range []int{1, 4, 5, 6, 7, 8} {
		if !reported[i] {
			t.Errorf("resources[%d] (%s) is not reported; got %v", i, cfg.Resources[i].ARN, problems)
		}
	}
	for _, i := range []int{0, 2, 3} {
		if reported[i] {
			t.Errorf("resources[%d] is reported, want it clean", i)
		}
	}
}
