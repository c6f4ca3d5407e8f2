package connector

import (
	"fmt"
	"slices"

	"github.com/coffer/coffer/internal/backup"
	"github.com/coffer/coffer/internal/config"
)

// Inventory is the set of resources declared in the configuration that
// Coffer serves. It is immutable and safe for concurrent use.
type Inventory struct {
	byARN map[string]backup.Resource
	arns  []string
}

// NewInventory builds the inventory from the configuration's resources
// entries. An entry is served when its ARN parses as an EFS, EBS or RDS
// resource ARN of a served region and the configured account, it is not a
// duplicate, and it has the field its type needs (path, path or device,
// dsn). Every problem config.CheckResources finds is returned for the
// caller to report (a path that does not exist yet does not keep an entry
// from being served: each backup checks its source again and fails with
// the cause).
func NewInventory(cfg *config.Config) (*Inventory, []config.ResourceProblem) {
	inv := &Inventory{byARN: map[string]backup.Resource{}}
	problems := cfg.CheckResources()
	for i, r := range cfg.Resources {
		ref, err := backup.ParseResourceARN(r.ARN)
		bad := func(why string) {
			for _, p := range problems {
				if p.Index == i {
					return // already reported
				}
			}
			problems = append(problems, config.ResourceProblem{Index: i, ARN: r.ARN, Problem: why})
		}
		if err != nil {
			bad(err.Error())
			continue
		}
		if err := ref.Supported(); err != nil {
			bad(err.Error())
			continue
		}
		if _, ok := cfg.Region(ref.Region); !ok || ref.AccountID != cfg.AccountID || ref.Partition != backup.PartitionAWS {
			bad("region, account or partition not served")
			continue
		}
		if _, dup := inv.byARN[r.ARN]; dup {
			bad("duplicate ARN")
			continue
		}
		var target string
		switch ref.Type {
		case backup.EFS:
			target = r.Path
		case backup.EBS:
			target = r.Path
			if r.Device != "" {
				target = r.Device
			}
		case backup.RDS:
			target = r.DSN.Reveal()
		}
		if target == "" {
			bad(fmt.Sprintf("no %s target (path, device or dsn)", ref.Type))
			continue
		}
		name := r.Name
		if name == "" {
			name = ref.ID
		}
		inv.byARN[r.ARN] = backup.Resource{
			ARN: r.ARN, Type: ref.Type, Region: ref.Region, AccountID: ref.AccountID,
			ID: ref.ID, Name: name, Target: target, Origin: "config",
		}
		inv.arns = append(inv.arns, r.ARN)
	}
	slices.Sort(inv.arns)
	slices.SortStableFunc(problems, func(a, b config.ResourceProblem) int { return a.Index - b.Index })
	return inv, problems
}

// NewInventoryOf returns an inventory holding exactly rs (for tests and
// tools).
func NewInventoryOf(rs ...backup.Resource) *Inventory {
	inv := &Inventory{byARN: map[string]backup.Resource{}}
	for _, r := range rs {
		if _, dup := inv.byARN[r.ARN]; !dup {
			inv.arns = append(inv.arns, r.ARN)
		}
		inv.byARN[r.ARN] = r
	}
	slices.Sort(inv.arns)
	return inv
}

// Get returns the declared resource with that ARN.
func (inv *Inventory) Get(arn string) (backup.Resource, bool) {
	if inv == nil {
		return backup.Resource{}, false
	}
	r, ok := inv.byARN[arn]
	return r, ok
}

// All returns the declared resources ordered by ARN.
func (inv *Inventory) All() []backup.Resource {
	if inv == nil {
		return nil
	}
	out := make([]backup.Resource, len(inv.arns))
	for i, a := range inv.arns {
		out[i] = inv.byARN[a]
	}
	return out
}
