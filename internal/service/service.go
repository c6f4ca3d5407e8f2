package service

//go:generate go run ../../cmd/apigen -coverage -model ../../model/backup-2018-11-15.service.json -service . -out coverage_gen.go

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/coffer/coffer/internal/api/backupapi"
	"github.com/coffer/coffer/internal/backup"
	"github.com/coffer/coffer/internal/clock"
	"github.com/coffer/coffer/internal/meta"
)

// Deps is what a Service needs. Store, AccountID, Regions and
// DefaultRegion are required; the rest has defaults. Add new dependencies
// here as fields with a zero value that New can default or reject.
type Deps struct {
	// Store holds all metadata.
	Store meta.Store
	// Clock tells the time (creation dates, vault lock dates). Default
	// clock.Real{}.
	Clock clock.Clock
	// Logger receives the service's own records: vault lock changes and
	// vault deletions at info (an operator's audit trail). Default: discard.
	Logger *slog.Logger
	// AccountID is the 12-digit account every ARN carries.
	AccountID string
	// Regions are the served regions; DefaultRegion is one of them.
	Regions       []string
	DefaultRegion string
	// CallerRegion returns the region a request addressed (its SigV4
	// credential scope), ok == false when the request carried none; then
	// DefaultRegion is used. Nil: always DefaultRegion. cmd/coffer passes
	// a function over server.IdentityFrom.
	CallerRegion func(ctx context.Context) (region string, ok bool)
	// MaxVaultsPerRegion, when positive, refuses a CreateBackupVault
	// beyond that many vaults in a region with LimitExceededException
	// (AWS's default quota is 300). Zero: no limit. The check is not
	// atomic with the create: concurrent creates may overshoot by the
	// number of concurrent calls.
	MaxVaultsPerRegion int
	// Data is what the operations that move data need: the job runner,
	// the vault repositories, the resources and their connectors
	// (datadeps.go). Its zero value leaves those operations answering
	// ServiceUnavailableException.
	Data DataDeps
}

// Service implements backupapi.Service. Operations it does not define
// answer 501 through the embedded Unimplemented. It is safe for concurrent
// use.
type Service struct {
	backupapi.Unimplemented

	store   meta.Store
	clock   clock.Clock
	log     *slog.Logger
	account string
	// regions holds the served regions; regionList is them in order, for
	// messages.
	regions       map[string]bool
	regionList    []string
	defaultRegion string
	callerRegion  func(context.Context) (string, bool)
	maxVaults     int
	// defaultKeys caches DefaultKeyARN per served region.
	defaultKeys map[string]string
	// data holds Deps.Data with defaults (datadeps.go).
	data dataDeps
}

var _ backupapi.Service = (*Service)(nil)

// New checks d and returns the Service.
func New(d Deps) (*Service, error) {
	var errs []error
	if d.Store == nil {
		errs = append(errs, errors.New("service: Deps.Store is required"))
	}
	if err := backup.ValidateAccountID(d.AccountID); err != nil {
		errs = append(errs, fmt.Errorf("service: Deps.AccountID: %w", err))
	}
	if len(d.Regions) == 0 {
		errs = append(errs, errors.New("service: Deps.Regions needs at least one region"))
	}
	for _, r := range d.Regions {
		if err := backup.ValidateRegion(r); err != nil {
			errs = append(errs, fmt.Errorf("service: Deps.Regions: %w", err))
		}
	}
	if !slices.Contains(d.Regions, d.DefaultRegion) {
		errs = append(errs, fmt.Errorf("service: Deps.DefaultRegion %q is not one of Deps.Regions", d.DefaultRegion))
	}
	if d.MaxVaultsPerRegion < 0 {
		errs = append(errs, errors.New("service: Deps.MaxVaultsPerRegion is negative"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	s := &Service{
		store:         d.Store,
		clock:         d.Clock,
		log:           d.Logger,
		account:       d.AccountID,
		regions:       make(map[string]bool, len(d.Regions)),
		regionList:    slices.Clone(d.Regions),
		defaultRegion: d.DefaultRegion,
		callerRegion:  d.CallerRegion,
		maxVaults:     d.MaxVaultsPerRegion,
	}
	if s.clock == nil {
		s.clock = clock.Real{}
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.defaultKeys = make(map[string]string, len(d.Regions))
	for _, r := range d.Regions {
		s.regions[r] = true
		s.defaultKeys[r] = s.DefaultKeyARN(r)
	}
	if err := s.initData(d.Data); err != nil {
		return nil, err
	}
	return s, nil
}

// AccountID returns the account the service answers as.
func (s *Service) AccountID() string { return s.account }

// region returns the call region: the SigV4 scope's region, or the default
// region when the request carried none. A region that is not served (only
// possible with authentication off: the verifier refuses it otherwise) is
// an InvalidRequest error.
func (s *Service) region(ctx context.Context) (string, error) {
	if s.callerRegion == nil {
		return s.defaultRegion, nil
	}
	r, ok := s.callerRegion(ctx)
	if !ok || r == "" {
		return s.defaultRegion, nil
	}
	if !s.regions[r] {
		return "", backup.InvalidRequestf("region %s is not served by this Coffer endpoint; served regions: %s", r, s.regionNames())
	}
	return r, nil
}

func (s *Service) regionNames() string {
	out := ""
	for i, r := range s.regionList {
		if i > 0 {
			out += ", "
		}
		out += r
	}
	return out
}

// vaultKey returns the key of the vault called name in the call region.
func (s *Service) vaultKey(ctx context.Context, name string) (backup.VaultKey, error) {
	region, err := s.region(ctx)
	if err != nil {
		return backup.VaultKey{}, err
	}
	return backup.VaultKey{Region: region, AccountID: s.account, Name: name}, nil
}

// checkServed returns nil when an ARN's region and account name something
// this endpoint can hold, and a NotFound error naming what is not served
// otherwise. what describes the ARN for the message ("backup vault").
func (s *Service) checkServed(arn, region, account, what string) error {
	if region != "" && !s.regions[region] {
		return backup.NotFoundf("%s %s not found: region %s is not served by this Coffer endpoint (served regions: %s)", what, arn, region, s.regionNames())
	}
	if account != "" && account != s.account {
		return backup.NotFoundf("%s %s not found: account %s is not served by this Coffer endpoint (its account is %s)", what, arn, account, s.account)
	}
	return nil
}

// now returns the clock's time in UTC, at the millisecond precision of the
// wire format, so that what a create returns equals what a describe
// returns later.
func (s *Service) now() time.Time {
	return s.clock.Now().UTC().Truncate(time.Millisecond)
}

// DefaultKeyARN returns the KMS key ARN reported for vaults of region
// created without EncryptionKeyArn. Its key ID is a UUID derived from the
// account and region: the same for every such vault of the region, across
// restarts and nodes.
func (s *Service) DefaultKeyARN(region string) string {
	if k, ok := s.defaultKeys[region]; ok {
		return k
	}
	sum := sha256.Sum256([]byte("coffer/default-kms-key/" + s.account + "/" + region))
	b := sum[:16]
	b[6] = b[6]&0x0f | 0x40 // version 4 layout, so it looks like a KMS key ID
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b)
	id := h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
	return "arn:aws:kms:" + region + ":" + s.account + ":key/" + id
}

// page converts the API's MaxResults and NextToken into a store page.
func page(maxResults *int32, nextToken *string) meta.Page {
	var p meta.Page
	if maxResults != nil {
		p.MaxResults = int(*maxResults)
	}
	if nextToken != nil {
		p.NextToken = *nextToken
	}
	return p
}

// optString returns nil for "" and &s otherwise (for optional output
// members).
func optString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// optTime returns nil for the zero time and &t otherwise.
func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// str returns *p, or "" for nil.
func str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}
