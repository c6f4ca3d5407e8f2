package e2e

import (
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/backup"
	"github.com/aws/aws-sdk-go-v2/service/backup/types"
)

const policy = `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":"*","Action":"backup:DeleteRecoveryPoint","Resource":"*"}]}`

// state is everything TestRestartKeepsState puts into Coffer and expects
// back after the restart.
type state struct {
	describe      map[string]*backup.DescribeBackupVaultOutput
	tags          map[string]map[string]string
	regionOptIn   map[string]bool
	regionManaged map[string]bool
	global        map[string]string
	westVaults    []string
}

func capture(t *testing.T, in *instance) state {
	t.Helper()
	ctx := context.Background()
	c := in.client("us-east-1")
	st := state{describe: map[string]*backup.DescribeBackupVaultOutput{}, tags: map[string]map[string]string{}}
	list, err := c.ListBackupVaults(ctx, &backup.ListBackupVaultsInput{})
	if err != nil {
		t.Fatalf("ListBackupVaults: %v", err)
	}
	for _, v := range list.BackupVaultList {
		name := aws.ToString(v.BackupVaultName)
		d, err := c.DescribeBackupVault(ctx, &backup.DescribeBackupVaultInput{BackupVaultName: &name})
		if err != nil {
			t.Fatalf("DescribeBackupVault %s: %v", name, err)
		}
		st.describe[name] = d
		tags, err := c.ListTags(ctx, &backup.ListTagsInput{ResourceArn: v.BackupVaultArn})
		if err != nil {
			t.Fatalf("ListTags %s: %v", name, err)
		}
		st.tags[name] = tags.Tags
	}
	rs, err := c.DescribeRegionSettings(ctx, &backup.DescribeRegionSettingsInput{})
	if err != nil {
		t.Fatal(err)
	}
	st.regionOptIn, st.regionManaged = rs.ResourceTypeOptInPreference, rs.ResourceTypeManagementPreference
	gs, err := c.DescribeGlobalSettings(ctx, &backup.DescribeGlobalSettingsInput{})
	if err != nil {
		t.Fatal(err)
	}
	st.global = gs.GlobalSettings
	west, err := in.client("us-west-2").ListBackupVaults(ctx, &backup.ListBackupVaultsInput{})
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range west.BackupVaultList {
		st.westVaults = append(st.westVaults, aws.ToString(v.BackupVaultName))
	}
	return st
}

func TestRestartKeepsState(t *testing.T) {
	dir := t.TempDir()
	in := start(t, dir)
	if !strings.Contains(in.banner, "generated now") {
		t.Errorf("first start banner does not say the credentials were generated:\n%s", in.banner)
	}
	ctx := context.Background()
	c := in.client("us-east-1")
	must := func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	for i := range 5 {
		must(c.CreateBackupVault(ctx, &backup.CreateBackupVaultInput{
			BackupVaultName: aws.String(fmt.Sprintf("keep-%d", i)),
			BackupVaultTags: map[string]string{"index": fmt.Sprint(i), "purpose": "restart"},
		}))
	}
	must(c.CreateBackupVault(ctx, &backup.CreateBackupVaultInput{BackupVaultName: aws.String("keyed"),
		EncryptionKeyArn: aws.String("arn:aws:kms:us-east-1:111122223333:alias/mine"), CreatorRequestId: aws.String("req-keyed")}))
	must(c.PutBackupVaultLockConfiguration(ctx, &backup.PutBackupVaultLockConfigurationInput{BackupVaultName: aws.String("keep-0"), MinRetentionDays: aws.Int64(7), MaxRetentionDays: aws.Int64(90)}))
	must(c.PutBackupVaultLockConfiguration(ctx, &backup.PutBackupVaultLockConfigurationInput{BackupVaultName: aws.String("keep-1"), MinRetentionDays: aws.Int64(1), ChangeableForDays: aws.Int64(3)}))
	must(c.PutBackupVaultAccessPolicy(ctx, &backup.PutBackupVaultAccessPolicyInput{BackupVaultName: aws.String("keep-2"), Policy: aws.String(policy)}))
	must(c.PutBackupVaultNotifications(ctx, &backup.PutBackupVaultNotificationsInput{BackupVaultName: aws.String("keep-3"),
		SNSTopicArn: aws.String("arn:aws:sns:us-east-1:111122223333:topic"), BackupVaultEvents: []types.BackupVaultEvent{"BACKUP_JOB_FAILED", "COPY_JOB_FAILED"}}))
	must(c.UpdateRegionSettings(ctx, &backup.UpdateRegionSettingsInput{ResourceTypeOptInPreference: map[string]bool{"RDS": false}}))
	must(c.UpdateGlobalSettings(ctx, &backup.UpdateGlobalSettingsInput{GlobalSettings: map[string]string{"isCrossAccountBackupEnabled": "true"}}))
	must(in.client("us-west-2").CreateBackupVault(ctx, &backup.CreateBackupVaultInput{BackupVaultName: aws.String("west")}))

	before := capture(t, in)
	key, secret := in.env["AWS_ACCESS_KEY_ID"], in.env["AWS_SECRET_ACCESS_KEY"]
	in.stop(t)

	again := start(t, dir)
	if again.env["AWS_ACCESS_KEY_ID"] != key || again.env["AWS_SECRET_ACCESS_KEY"] != secret {
		t.Errorf("credentials changed across the restart: %s -> %s", key, again.env["AWS_ACCESS_KEY_ID"])
	}
	if !strings.Contains(again.banner, "from "+filepath.Join(dir, "credentials.json")) {
		t.Errorf("restart banner does not name the credentials file:\n%s", again.banner)
	}
	// The old credentials, as the client kept them, still work.
	in.endpoint = again.endpoint
	after := capture(t, in)

	if len(after.describe) != 6 {
		t.Errorf("got %d vaults after restart, want 6", len(after.describe))
	}
	for name, b := range before.describe {
		a := after.describe[name]
		if a == nil {
			t.Errorf("vault %s is gone after restart", name)
			continue
		}
		if got, want := fmt.Sprintf("%+v", describeFields(a)), fmt.Sprintf("%+v", describeFields(b)); got != want {
			t.Errorf("vault %s changed across restart:\n got %s\nwant %s", name, got, want)
		}
		if !maps.Equal(after.tags[name], before.tags[name]) {
			t.Errorf("vault %s tags: got %v, want %v", name, after.tags[name], before.tags[name])
		}
	}
	if d := after.describe["keep-1"]; d == nil || d.LockDate == nil || !aws.ToBool(d.Locked) {
		t.Errorf("compliance lock lost: %+v", d)
	}
	if !maps.Equal(after.regionOptIn, before.regionOptIn) || after.regionOptIn["RDS"] || !maps.Equal(after.regionManaged, before.regionManaged) {
		t.Errorf("region settings: got %v %v, want %v %v", after.regionOptIn, after.regionManaged, before.regionOptIn, before.regionManaged)
	}
	if !maps.Equal(after.global, before.global) || after.global["isCrossAccountBackupEnabled"] != "true" {
		t.Errorf("global settings: got %v, want %v", after.global, before.global)
	}
	if !slices.Equal(after.westVaults, []string{"west"}) {
		t.Errorf("us-west-2 vaults: got %v, want [west]", after.westVaults)
	}
	c = in.client("us-east-1")
	p, err := c.GetBackupVaultAccessPolicy(ctx, &backup.GetBackupVaultAccessPolicyInput{BackupVaultName: aws.String("keep-2")})
	if err != nil || aws.ToString(p.Policy) != policy {
		t.Errorf("access policy: got %q, %v", aws.ToString(p.Policy), err)
	}
	n, err := c.GetBackupVaultNotifications(ctx, &backup.GetBackupVaultNotificationsInput{BackupVaultName: aws.String("keep-3")})
	if err != nil || len(n.BackupVaultEvents) != 2 || aws.ToString(n.SNSTopicArn) != "arn:aws:sns:us-east-1:111122223333:topic" {
		t.Errorf("notifications: got %+v, %v", n, err)
	}
	// CreatorRequestId idempotency survives too.
	if _, err := c.CreateBackupVault(ctx, &backup.CreateBackupVaultInput{BackupVaultName: aws.String("keyed"), CreatorRequestId: aws.String("req-keyed")}); err != nil {
		t.Errorf("retried create after restart: %v", err)
	}
	again.stop(t)
}

// describeFields is the comparable part of a DescribeBackupVault answer.
func describeFields(d *backup.DescribeBackupVaultOutput) []any {
	return []any{aws.ToString(d.BackupVaultName), aws.ToString(d.BackupVaultArn), aws.ToTime(d.CreationDate).UnixMilli(),
		aws.ToString(d.CreatorRequestId), aws.ToString(d.EncryptionKeyArn), d.EncryptionKeyType, d.VaultType, d.VaultState,
		d.NumberOfRecoveryPoints, aws.ToBool(d.Locked), d.MinRetentionDays != nil, aws.ToInt64(d.MinRetentionDays),
		aws.ToInt64(d.MaxRetentionDays), aws.ToTime(d.LockDate).UnixMilli()}
}

// TestKillMidTraffic SIGKILLs Coffer while clients create vaults, restarts
// it on the same data directory and checks that the database opens and
// every vault whose create was acknowledged is there.
func TestKillMidTraffic(t *testing.T) {
	dir := t.TempDir()
	in := start(t, dir)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var (
		mu    sync.Mutex
		acked []string
		sent  atomic.Int64
		wg    sync.WaitGroup
	)
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := in.client("us-east-1")
			for i := 0; ctx.Err() == nil; i++ {
				name := fmt.Sprintf("kill-%d-%d", w, i)
				sent.Add(1)
				_, err := c.CreateBackupVault(ctx, &backup.CreateBackupVaultInput{BackupVaultName: &name, BackupVaultTags: map[string]string{"w": fmt.Sprint(w)}})
				if err == nil {
					mu.Lock()
					acked = append(acked, name)
					mu.Unlock()
				}
			}
		}()
	}
	// Let traffic run, then kill without warning.
	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		n := len(acked)
		mu.Unlock()
		if n >= 200 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	in.kill(t)
	cancel()
	wg.Wait()
	if len(acked) == 0 {
		t.Fatalf("no create was acknowledged before the kill (%d sent)", sent.Load())
	}
	if _, err := os.Stat(filepath.Join(dir, "coffer.db")); err != nil {
		t.Fatal(err)
	}

	again := start(t, dir)
	c := again.client("us-east-1")
	have := map[string]bool{}
	p := backup.NewListBackupVaultsPaginator(c, &backup.ListBackupVaultsInput{})
	for p.HasMorePages() {
		out, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatalf("ListBackupVaults after the kill: %v", err)
		}
		for _, v := range out.BackupVaultList {
			have[aws.ToString(v.BackupVaultName)] = true
		}
	}
	missing := 0
	for _, name := range acked {
		if !have[name] {
			missing++
			if missing <= 5 {
				t.Errorf("acknowledged vault %s is missing after SIGKILL and restart", name)
			}
		}
	}
	t.Logf("%d creates sent, %d acknowledged, %d vaults after restart, %d acknowledged missing", sent.Load(), len(acked), len(have), missing)
	// The restarted server takes writes as usual.
	if _, err := c.CreateBackupVault(context.Background(), &backup.CreateBackupVaultInput{BackupVaultName: aws.String("after-kill")}); err != nil {
		t.Errorf("create after restart: %v", err)
	}
	again.stop(t)
}
