package sqlite

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/coffer/coffer/internal/backup"
	"github.com/coffer/coffer/internal/meta"
)

const (
	tRegion  = "us-east-1"
	tAccount = "123456789012"
)

func openT(t *testing.T, opts Options) *Store {
	t.Helper()
	s, err := Open(context.Background(), t.TempDir(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func tKey(name string) backup.VaultKey {
	return backup.VaultKey{Region: tRegion, AccountID: tAccount, Name: name}
}

func tVault(name string) backup.Vault {
	return backup.Vault{Name: name, Region: tRegion, AccountID: tAccount, VaultType: backup.VaultTypeBackup,
		VaultState: backup.VaultAvailable, CreationDate: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)}
}

// fillAll sets every exported field reachable from v to a non-zero value,
// allocating every pointer, slice and map.
func fillAll(v reflect.Value) {
	switch v.Kind() {
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fillAll(v.Elem())
	case reflect.Struct:
		if v.Type() == reflect.TypeFor[time.Time]() {
			v.Set(reflect.ValueOf(time.Unix(1e9, 0).UTC()))
			return
		}
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				fillAll(v.Field(i))
			}
		}
	case reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), 2, 2))
		for i := range 2 {
			fillAll(v.Index(i))
		}
	case reflect.Map:
		m := reflect.MakeMap(v.Type())
		k, e := reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
		fillAll(k)
		fillAll(e)
		m.SetMapIndex(k, e)
		v.Set(m)
	case reflect.String:
		v.SetString("x")
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(1)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(1)
	case reflect.Float32, reflect.Float64:
		v.SetFloat(1)
	}
}

// sharesMemory reports the first reference of a that b shares.
func sharesMemory(a, b reflect.Value, path string) string {
	switch a.Kind() {
	case reflect.Pointer:
		if a.IsNil() {
			return ""
		}
		if a.Pointer() == b.Pointer() {
			return path
		}
		return sharesMemory(a.Elem(), b.Elem(), "(*"+path+")")
	case reflect.Struct:
		if a.Type() == reflect.TypeFor[time.Time]() {
			return ""
		}
		for i := range a.NumField() {
			if p := sharesMemory(a.Field(i), b.Field(i), path+"."+a.Type().Field(i).Name); p != "" {
				return p
			}
		}
	case reflect.Slice:
		if a.Len() > 0 && a.Pointer() == b.Pointer() {
			return path
		}
		for i := range a.Len() {
			if p := sharesMemory(a.Index(i), b.Index(i), fmt.Sprintf("%s[%d]", path, i)); p != "" {
				return p
			}
		}
	case reflect.Map:
		if !a.IsNil() && a.Pointer() == b.Pointer() {
			return path
		}
		for _, k := range a.MapKeys() {
			if p := sharesMemory(a.MapIndex(k), b.MapIndex(k), fmt.Sprintf("%s[%v]", path, k)); p != "" {
				return p
			}
		}
	case reflect.Interface:
		if !a.IsNil() {
			return path + " (an interface: cloneVault cannot know how to copy it)"
		}
	}
	return ""
}

func TestCloneVaultSharesNothing(t *testing.T) {
	var v backup.Vault
	fillAll(reflect.ValueOf(&v).Elem())
	got := cloneVault(&v)
	if !reflect.DeepEqual(got, v) {
		t.Fatalf("cloneVault = %+v, want %+v", got, v)
	}
	if p := sharesMemory(reflect.ValueOf(got), reflect.ValueOf(v), "Vault"); p != "" {
		t.Fatalf("cloneVault: the copy shares %s with the original; copy it in cloneVault", p)
	}
}

// TestReadsReturnCopies: what GetVault, ListVaults, UpdateVault and
// CreateVault return belongs to the caller; changing it changes nothing in
// the store.
func TestReadsReturnCopies(t *testing.T) {
	ctx := context.Background()
	s := openT(t, Options{})
	if _, err := s.CreateVault(ctx, tVault("a"), nil); err != nil {
		t.Fatal(err)
	}
	seven := int64(7)
	upd, err := s.UpdateVault(ctx, tKey("a"), func(v *backup.Vault) error {
		v.Lock = &backup.VaultLock{MinRetentionDays: &seven, AppliedAt: time.Unix(5, 0).UTC()}
		v.Notifications = &backup.VaultNotifications{SNSTopicArn: "arn:aws:sns:us-east-1:123456789012:t", Events: []string{"BACKUP_JOB_STARTED"}}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want, err := s.GetVault(ctx, tKey("a"))
	if err != nil {
		t.Fatal(err)
	}
	scribble := func(v *backup.Vault) {
		v.AccessPolicy = "changed"
		*v.Lock.MinRetentionDays = 99
		v.Notifications.Events[0] = "changed"
		v.NumberOfRecoveryPoints = 42
	}
	scribble(&upd)
	got, err := s.GetVault(ctx, tKey("a"))
	if err != nil {
		t.Fatal(err)
	}
	scribble(&got)
	list, _, err := s.ListVaults(ctx, meta.VaultFilter{Region: tRegion, AccountID: tAccount}, meta.Page{})
	if err != nil || len(list) != 1 {
		t.Fatalf("ListVaults = %v, %v", list, err)
	}
	scribble(&list[0])
	for _, read := range []func() (backup.Vault, error){
		func() (backup.Vault, error) { return s.GetVault(ctx, tKey("a")) },
		func() (backup.Vault, error) {
			vs, _, err := s.ListVaults(ctx, meta.VaultFilter{Region: tRegion, AccountID: tAccount}, meta.Page{})
			if err != nil || len(vs) != 1 {
				return backup.Vault{}, fmt.Errorf("ListVaults = %v, %v", vs, err)
			}
			return vs[0], nil
		},
	} {
		got, err := read()
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("after changing returned vaults: got %+v, want %+v", got, want)
		}
	}
}

// contents returns the cache's vaults by region/account/name, checking
// that its two indexes agree.
func contents(t *testing.T, c *vaultCache) map[string]backup.Vault {
	t.Helper()
	c.mu.RLock()
	defer c.mu.RUnlock()
	out := map[string]backup.Vault{}
	for sc, vs := range c.scopes {
		n, prev := 0, ""
		for _, ch := range vs.chunks {
			if len(ch) == 0 || len(ch) > chunkMax {
				t.Fatalf("scope %v: a chunk of %d vaults", sc, len(ch))
			}
			for _, e := range ch {
				if n > 0 && prev >= e.name {
					t.Fatalf("scope %v: %q before %q", sc, prev, e.name)
				}
				if vs.byName[e.name] != e {
					t.Fatalf("scope %v: byName[%q] is not the ordered entry", sc, e.name)
				}
				v, err := e.vault()
				if err != nil {
					t.Fatalf("scope %v: %s: %v", sc, e.name, err)
				}
				if v.Name != e.name || v.VaultType != e.vaultType || v.Shared != e.shared || v.NumberOfRecoveryPoints != e.n {
					t.Fatalf("scope %v: entry %q (%s, %v, %d) disagrees with its vault %+v", sc, e.name, e.vaultType, e.shared, e.n, v)
				}
				out[sc.region+"/"+sc.account+"/"+e.name] = *v
				prev = e.name
				n++
			}
		}
		if n != len(vs.byName) || n == 0 {
			t.Fatalf("scope %v: %d ordered, %d by name", sc, n, len(vs.byName))
		}
	}
	return out
}

// TestVaultCacheMatchesDatabase runs random concurrent vault and recovery
// point writes (many of them failing) and then compares the cache with
// the database.
func TestVaultCacheMatchesDatabase(t *testing.T) {
	ctx := context.Background()
	s := openT(t, Options{})
	names := []string{"a", "b", "c", "d", "e", "f"}
	var mu sync.Mutex
	var points []string
	errBoom := errors.New("boom")
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rnd := rand.New(rand.NewPCG(uint64(w), 1))
			for i := range 150 {
				name := names[rnd.IntN(len(names))]
				var err error
				switch rnd.IntN(6) {
				case 0:
					v := tVault(name)
					if rnd.IntN(2) == 0 {
						v.Region = "eu-west-1"
					}
					v.CreatorRequestID = fmt.Sprint("w", w, "-", i)
					_, err = s.CreateVault(ctx, v, map[string]string{"k": "v"})
				case 1:
					_, err = s.UpdateVault(ctx, tKey(name), func(v *backup.Vault) error {
						v.AccessPolicy = fmt.Sprint("policy ", w, i)
						if rnd.IntN(3) == 0 {
							return errBoom
						}
						return nil
					})
				case 2:
					err = s.DeleteVault(ctx, tKey(name))
				case 3, 4:
					arn := fmt.Sprintf("arn:aws:backup:%s:%s:recovery-point:w%d-%d", tRegion, tAccount, w, i)
					err = s.CreateRecoveryPoint(ctx, backup.RecoveryPoint{ARN: arn, VaultName: name, Region: tRegion, AccountID: tAccount,
						ResourceArn: "arn:aws:elasticfilesystem:us-east-1:123456789012:file-system/fs-1", ResourceType: backup.EFS,
						Status: backup.RecoveryPointCompleted, CreationDate: time.Unix(int64(i+1), 0).UTC()}, nil)
					if err == nil {
						mu.Lock()
						points = append(points, arn)
						mu.Unlock()
					}
				case 5:
					mu.Lock()
					var arn string
					if len(points) > 0 {
						j := rnd.IntN(len(points))
						arn = points[j]
						points = append(points[:j], points[j+1:]...)
					}
					mu.Unlock()
					if arn != "" {
						err = s.DeleteRecoveryPoint(ctx, arn)
					}
				}
				switch backup.KindOf(err) {
				case backup.KindNotFound, backup.KindAlreadyExists, backup.KindInvalidRequest:
				default:
					if err != nil && !errors.Is(err, errBoom) {
						t.Errorf("unexpected error: %v", err)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	fresh, err := s.readVaults(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got, want := contents(t, s.vaults), contents(t, fresh)
	if len(want) == 0 {
		t.Fatalf("no vault left: the test proves nothing")
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("vault cache differs from the database:\n got %+v\nwant %+v", got, want)
	}
	for k, v := range want {
		n, err := s.CountRecoveryPoints(ctx, v.Key())
		if err != nil || n != v.NumberOfRecoveryPoints {
			t.Fatalf("CountRecoveryPoints(%s) = %d, %v; want %d", k, n, err, v.NumberOfRecoveryPoints)
		}
	}
}

// TestUncommittedWritesLeaveCacheAlone: a write's cache change applies only
// when its transaction commits — not when it fails (alone or in a batch,
// rolled back to its savepoint), nor when the COMMIT itself fails.
func TestUncommittedWritesLeaveCacheAlone(t *testing.T) {
	ctx := context.Background()
	s := openT(t, Options{})
	phantom := func(name string) func(*vaultCache) {
		v := tVault(name)
		v.ARN = v.Key().ARN()
		data, err := encode(&v)
		if err != nil {
			t.Fatal(err)
		}
		return func(c *vaultCache) { c.putVault(&v, data, 0) }
	}
	errBoom := errors.New("boom")

	// Failing writes, alone and mixed with good ones in batches.
	var wg sync.WaitGroup
	for i := range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if i%2 == 0 {
				err := s.tx(ctx, func(t *wtx) error {
					t.onCommit(phantom(fmt.Sprint("phantom-", i)))
					return errBoom
				})
				if !errors.Is(err, errBoom) {
					t.Errorf("failing write = %v, want boom", err)
				}
				return
			}
			if _, err := s.CreateVault(ctx, tVault(fmt.Sprint("real-", i)), nil); err != nil {
				t.Errorf("CreateVault: %v", err)
			}
		}()
	}
	wg.Wait()

	// A COMMIT that fails: a deferred foreign key violation is only
	// reported by COMMIT.
	err := s.tx(ctx, func(t *wtx) error {
		if _, err := t.exec(`PRAGMA defer_foreign_keys = ON`); err != nil {
			return err
		}
		if _, err := t.exec(`INSERT INTO recovery_points (arn, region, account, vault_name, resource_arn, resource_type, status, created_ns, data)
			VALUES ('arn:x', ?, ?, 'no-such-vault', 'r', 'EFS', 'COMPLETED', 1, '{}')`, tRegion, tAccount); err != nil {
			return err
		}
		t.onCommit(phantom("phantom-commit"))
		return nil
	})
	if err == nil {
		t.Fatalf("a transaction violating a deferred foreign key committed")
	}

	got := contents(t, s.vaults)
	if len(got) != 16 {
		t.Errorf("cache holds %d vaults, want the 16 created", len(got))
	}
	for k := range got {
		if _, err := s.GetVault(ctx, tKey(k[len(tRegion+"/"+tAccount+"/"):])); err != nil {
			t.Errorf("GetVault(%s): %v", k, err)
		}
	}
	for _, name := range []string{"phantom-0", "phantom-30", "phantom-commit"} {
		if _, err := s.GetVault(ctx, tKey(name)); backup.KindOf(err) != backup.KindNotFound {
			t.Errorf("GetVault(%s) = %v, want NotFound: an uncommitted write reached the cache", name, err)
		}
	}
}

func TestSecondStoreOnSameFileRefused(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := Open(ctx, dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateVault(ctx, tVault("a"), nil); err != nil {
		t.Fatal(err)
	}
	if s2, err := Open(ctx, dir, Options{}); !errors.Is(err, ErrInUse) {
		if s2 != nil {
			s2.Close()
		}
		t.Fatalf("second Open of an open database = %v, want ErrInUse", err)
	}
	// The refused Open must not have disturbed the first store.
	if _, err := s.CreateVault(ctx, tVault("b"), nil); err != nil {
		t.Fatalf("CreateVault after a refused second Open: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = Open(ctx, dir, Options{})
	if err != nil {
		t.Fatalf("Open after Close: %v", err)
	}
	defer s.Close()
	vs, _, err := s.ListVaults(ctx, meta.VaultFilter{Region: tRegion, AccountID: tAccount}, meta.Page{})
	if err != nil || len(vs) != 2 {
		t.Fatalf("after reopen: %d vaults, %v; want 2", len(vs), err)
	}
}

// TestVaultCacheOrder drives the cache alone with many random inserts,
// replacements and removals (chunks split and empty) and checks every
// page of every list against a sorted reference.
func TestVaultCacheOrder(t *testing.T) {
	c := newVaultCache()
	ref := map[string]bool{}
	rnd := rand.New(rand.NewPCG(7, 7))
	for i := range 6000 {
		name := fmt.Sprintf("v%05d", rnd.IntN(3000))
		if i%3 == 2 {
			c.remove(tKey(name))
			delete(ref, name)
		} else {
			v := tVault(name)
			v.Shared = rnd.IntN(2) == 0
			data, err := encode(&v)
			if err != nil {
				t.Fatal(err)
			}
			c.putVault(&v, data, int64(i))
			ref[name] = v.Shared
		}
	}
	contents(t, c)
	var want []string
	for n := range ref {
		want = append(want, n)
	}
	slices.Sort(want)
	f := meta.VaultFilter{Region: tRegion, AccountID: tAccount}
	for _, page := range []int{1, 7, 128, 129, 5000} {
		var got []string
		after, has := "", false
		for {
			vs := c.list(nil, f, after, has, page)
			for _, e := range vs {
				got = append(got, e.name)
			}
			if len(vs) < page {
				break
			}
			after, has = vs[len(vs)-1].name, true
		}
		if !slices.Equal(got, want) {
			t.Fatalf("pages of %d: %d names, want %d (first difference near %v)", page, len(got), len(want), firstDiff(got, want))
		}
	}
	shared := true
	f.Shared = &shared
	for _, e := range c.list(nil, f, "", false, len(want)) {
		if !ref[e.name] {
			t.Fatalf("Shared filter returned %s", e.name)
		}
	}
	// A name between two existing ones, before all and after all.
	for _, after := range []string{"", "v01500x", "zzz"} {
		vs := c.list(nil, meta.VaultFilter{Region: tRegion, AccountID: tAccount}, after, after != "", 1)
		i, _ := slices.BinarySearch(want, after)
		if after != "" && i < len(want) && want[i] == after {
			i++
		}
		if i == len(want) {
			if len(vs) != 0 {
				t.Fatalf("after %q: %v, want nothing", after, vs[0].name)
			}
		} else if len(vs) != 1 || vs[0].name != want[i] {
			t.Fatalf("after %q: got %d vaults, want %s", after, len(vs), want[i])
		}
	}
}

func firstDiff(a, b []string) string {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return a[i] + " / " + b[i]
		}
	}
	return "the end"
}

// TestConcurrentReadsDecodeOnce: readers racing on vaults that were never
// read (their first read decodes them) and writers changing them agree,
// and the race detector finds nothing.
func TestConcurrentReadsDecodeOnce(t *testing.T) {
	ctx := context.Background()
	s := openT(t, Options{})
	for i := range 40 {
		if _, err := s.CreateVault(ctx, tVault(fmt.Sprintf("v%02d", i)), nil); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	for r := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				name := fmt.Sprintf("v%02d", (i*7+r)%40)
				v, err := s.GetVault(ctx, tKey(name))
				if err != nil || v.Name != name {
					t.Errorf("GetVault(%s) = %s, %v", name, v.Name, err)
					return
				}
				vs, _, err := s.ListVaults(ctx, meta.VaultFilter{Region: tRegion, AccountID: tAccount}, meta.Page{MaxResults: 10})
				if err != nil || len(vs) != 10 {
					t.Errorf("ListVaults = %d vaults, %v", len(vs), err)
					return
				}
			}
		}()
	}
	for w := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 40 {
				name := fmt.Sprintf("v%02d", i)
				if _, err := s.UpdateVault(ctx, tKey(name), func(v *backup.Vault) error {
					v.AccessPolicy = fmt.Sprint("p", w, i)
					return nil
				}); err != nil {
					t.Errorf("UpdateVault: %v", err)
					return
				}
				if err := s.CreateRecoveryPoint(ctx, backup.RecoveryPoint{ARN: fmt.Sprintf("arn:aws:backup:%s:%s:recovery-point:%d-%d", tRegion, tAccount, w, i),
					VaultName: name, Region: tRegion, AccountID: tAccount, ResourceArn: "arn:aws:elasticfilesystem:us-east-1:123456789012:file-system/fs-1",
					ResourceType: backup.EFS, Status: backup.RecoveryPointCompleted, CreationDate: time.Unix(int64(i+1), 0).UTC()}, nil); err != nil {
					t.Errorf("CreateRecoveryPoint: %v", err)
					return
				}
			}
		}()
	}
	wg.Wait()
	for i := range 40 {
		v, err := s.GetVault(ctx, tKey(fmt.Sprintf("v%02d", i)))
		if err != nil || v.NumberOfRecoveryPoints != 2 || v.AccessPolicy == "" {
			t.Fatalf("after the writers: %+v, %v; want 2 points and a policy", v, err)
		}
	}
}

// TestCorruptRowIsAnErrorOfItsOwn: a vault row whose JSON does not decode
// fails the reads that return it with an Internal error; the store opens
// and the other vaults read fine.
func TestCorruptRowIsAnErrorOfItsOwn(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := Open(ctx, dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"bad", "good"} {
		if _, err := s.CreateVault(ctx, tVault(n), nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.tx(ctx, func(t *wtx) error {
		_, err := t.exec(`UPDATE vaults SET data = '{"name": 12' WHERE name = 'bad'`)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err = Open(ctx, dir, Options{})
	if err != nil {
		t.Fatalf("Open with a corrupt vault row: %v", err)
	}
	defer s.Close()
	if _, err := s.GetVault(ctx, tKey("bad")); backup.KindOf(err) != backup.KindInternal {
		t.Errorf("GetVault(bad) = %v, want Internal", err)
	}
	if _, _, err := s.ListVaults(ctx, meta.VaultFilter{Region: tRegion, AccountID: tAccount}, meta.Page{}); backup.KindOf(err) != backup.KindInternal {
		t.Errorf("ListVaults over a corrupt row = %v, want Internal", err)
	}
	if v, err := s.GetVault(ctx, tKey("good")); err != nil || v.Name != "good" {
		t.Errorf("GetVault(good) = %+v, %v", v, err)
	}
}
