package service

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/coffer/coffer/internal/api/backupapi"
	"github.com/coffer/coffer/internal/archive"
	"github.com/coffer/coffer/internal/backup"
	"github.com/coffer/coffer/internal/connector"
	"github.com/coffer/coffer/internal/repo"
	"github.com/coffer/coffer/internal/vault"
)

// Restore jobs (StartRestoreJob) recover a recovery point into a new
// resource or, for file systems, into a new directory of an existing one.
// What a restore does is driven by its Metadata map; key names are matched
// case-insensitively (AWS documents them so for restore testing) and
// recorded under their canonical spelling: what GetRestoreJobMetadata
// returns is the request's map after that, with the defaults and the
// choices Coffer made filled in. Keys Coffer does not know are kept as
// given and ignored.
//
// EFS (a directory tree):
//
//	file-system-id   the file system to restore into when newFileSystem is
//	                 false (default: the backed-up one); with a new file
//	                 system it is set to the new one's ID
//	newFileSystem    "true": a new directory under restore_root, registered
//	                 as a new resource fs-<17 hex> (CreatedResourceArn);
//	                 "false": into the file system named by file-system-id.
//	                 Default "true".
//	ItemsToRestore   a JSON list of 1 to 5 paths relative to the file
//	                 system's root ("/dir/file"); only those files or
//	                 subtrees are restored, with their parent directories
//	CreationToken    1 to 64 characters: a second restore with the same
//	                 token reuses the file system the first one created
//	                 instead of creating another (idempotent creation)
//	Encrypted        "true" or "false"; KmsKeyId requires "true"
//	KmsKeyId         a KMS key ARN, alias ARN, key ID or alias/NAME
//	PerformanceMode  generalPurpose or maxIO
//
// Encrypted, KmsKeyId and PerformanceMode are validated and recorded with
// the new file system (backup.Resource.Options); Coffer does not encrypt
// restored files on disk (the vault's data is encrypted in storage). As in
// AWS, every EFS restore writes into a new aws-backup-restore_<timestamp>
// directory at the file system's root, also for a new file system, and
// never overwrites anything; a restore that fails leaves what it wrote
// under aws-backup-failed-restore_<timestamp> instead.
//
// EBS (a volume image): a new image file, registered as a new resource
// vol-<17 hex>. volumePath (Coffer's key) names the image file to create:
// an absolute path that does not exist, in an existing directory; default
// <restore_root>/<volume ID>.img. volumeSize (GiB) may make the volume
// larger than the backed-up one (the extra space is a hole); a smaller
// size is refused. availabilityZone, encrypted, kmsKeyId, iops,
// throughput and volumeType are validated and recorded.
//
// RDS (a PostgreSQL database): a new database on the server of the
// backed-up database, registered as a new resource (ARN
// arn:aws:rds:REGION:ACCOUNT:db:<dbInstanceIdentifier>). dbInstanceIdentifier
// (or DBInstanceIdentifier) is required and must name no existing
// resource; dbName is the new database's name (default the identifier)
// and must not exist on the server. The other RDS keys AWS defines are
// accepted and ignored; engine, when given, must be postgres.
const (
	mdFileSystemID    = "file-system-id"
	mdNewFileSystem   = "newFileSystem"
	mdItemsToRestore  = "ItemsToRestore"
	mdEncrypted       = "Encrypted"
	mdKmsKeyID        = "KmsKeyId"
	mdPerformanceMode = "PerformanceMode"
	mdCreationToken   = "CreationToken"

	mdVolumePath       = "volumePath"
	mdVolumeSize       = "volumeSize"
	mdVolumeType       = "volumeType"
	mdVolumeEncrypted  = "encrypted"
	mdVolumeKmsKeyID   = "kmsKeyId"
	mdIops             = "iops"
	mdThroughput       = "throughput"
	mdAvailabilityZone = "availabilityZone"

	mdDBInstanceIdentifier = "dbInstanceIdentifier"
	mdDBName               = "dbName"
	mdEngine               = "engine"
)

// Restore limits.
const (
	// maxItemsToRestore is the API reference's limit on ItemsToRestore.
	maxItemsToRestore = 5
	// maxRestoreMetadataBytes is AWS's limit on the whole restore metadata
	// (200 KB).
	maxRestoreMetadataBytes = 200 << 10
	// restoreBytesPerMinute estimates ExpectedCompletionTimeMinutes.
	restoreBytesPerMinute = 6 << 30
)

// restoreKeys are the metadata keys each type knows, canonical spelling.
var restoreKeys = map[backup.ResourceType][]string{
	backup.EFS: {mdFileSystemID, mdNewFileSystem, mdItemsToRestore, mdEncrypted, mdKmsKeyID, mdPerformanceMode, mdCreationToken},
	backup.EBS: {mdVolumePath, mdVolumeSize, mdVolumeType, mdVolumeEncrypted, mdVolumeKmsKeyID, mdIops, mdThroughput, mdAvailabilityZone},
	backup.RDS: {mdDBInstanceIdentifier, mdDBName, mdEngine, "dbInstanceClass", "engineVersion", "multiAz", "deletionProtection",
		"publiclyAccessible", "allocatedStorage", "availabilityZones", "dbParameterGroupName", "dbSubnetGroupName",
		"enableCloudwatchLogsExports", "enableIamDatabaseAuthentication", "iops", "licensemodel", "optionGroupName",
		"port", "storageType", "vpcSecurityGroupIds", "kmsKeyId", "storageEncrypted"},
}

// restorePlan is a restore's metadata, checked and with defaults filled
// in. It is derived again from the job's stored metadata when the job
// runs, so it holds nothing that is not in the metadata.
type restorePlan struct {
	typ backup.ResourceType
	md  map[string]string // canonical keys; what GetRestoreJobMetadata returns

	// EFS
	newFS         bool
	fsID          string   // the target file system (in place)
	items         []string // snapshot-relative include paths
	creationToken string

	// EBS
	volumePath string
	volumeSize int64 // bytes, 0: the snapshot's

	// RDS
	dbID, dbName string
}

// parseRestoreMetadata normalises and checks md for type t without
// looking at anything outside it. sourceID is the backed-up resource's ID
// (the default file-system-id); sourceSize the backed-up data's size.
func parseRestoreMetadata(t backup.ResourceType, md map[string]string, sourceID string, sourceSize int64) (*restorePlan, error) {
	size := 0
	for k, v := range md {
		size += len(k) + len(v)
	}
	if size > maxRestoreMetadataBytes {
		return nil, backup.InvalidParameterf("Invalid value for Metadata: %d bytes; the restore metadata must not exceed %d bytes", size, maxRestoreMetadataBytes)
	}
	p := &restorePlan{typ: t, md: map[string]string{}}
	canon := map[string]string{}
	for _, k := range restoreKeys[t] {
		canon[strings.ToLower(k)] = k
	}
	seen := map[string]string{}
	for k, v := range md {
		c := k
		if ck, ok := canon[strings.ToLower(k)]; ok {
			c = ck
		}
		if prev, dup := seen[c]; dup {
			return nil, backup.InvalidParameterf("Invalid value for Metadata: keys %q and %q are the same key (restore metadata keys are case-insensitive)", prev, k)
		}
		seen[c] = k
		p.md[c] = v
	}
	var err error
	switch t {
	case backup.EFS:
		err = p.parseEFS(sourceID)
	case backup.EBS:
		err = p.parseEBS(sourceSize)
	case backup.RDS:
		err = p.parseRDS()
	default:
		err = backup.CheckSupportedResourceType(t)
	}
	if err != nil {
		return nil, err
	}
	return p, nil
}

func parseBool(key, v string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, backup.InvalidParameterf("Invalid value for Metadata %s: %q; use \"true\" or \"false\"", key, v)
}

// checkKMSKey accepts a KMS key or alias ARN, a key ID or alias/NAME.
func checkKMSKey(key, v string) error {
	if strings.HasPrefix(v, "arn:") {
		if _, err := backup.ParseKMSKeyARN(v); err != nil {
			return backup.InvalidParameterf("Invalid value for Metadata %s: %s", key, errMessage(err))
		}
		return nil
	}
	name, alias := strings.CutPrefix(v, "alias/")
	ok := name != "" && len(name) <= 256
	for _, c := range name {
		ok = ok && (c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || (alias && (c == '_' || c == '/')))
	}
	if !ok {
		return backup.InvalidParameterf("Invalid value for Metadata %s: %q is not a KMS key ARN, alias ARN, key ID or alias/NAME", key, v)
	}
	return nil
}

func (p *restorePlan) parseEFS(sourceID string) error {
	md := p.md
	p.newFS = true
	if v, ok := md[mdNewFileSystem]; ok {
		b, err := parseBool(mdNewFileSystem, v)
		if err != nil {
			return err
		}
		p.newFS = b
	}
	md[mdNewFileSystem] = strconv.FormatBool(p.newFS)
	if !p.newFS {
		p.fsID = md[mdFileSystemID]
		if p.fsID == "" {
			p.fsID = sourceID
			md[mdFileSystemID] = sourceID
		}
		if !backup.IsFileSystemID(p.fsID) {
			return backup.InvalidParameterf("Invalid value for Metadata file-system-id: %q is not a file system ID (fs- followed by 8 or 17 hex digits)", p.fsID)
		}
	}
	encrypted := false
	if v, ok := md[mdEncrypted]; ok {
		b, err := parseBool(mdEncrypted, v)
		if err != nil {
			return err
		}
		encrypted = b
		md[mdEncrypted] = strconv.FormatBool(b)
	}
	if k := md[mdKmsKeyID]; k != "" {
		if !encrypted {
			return backup.InvalidParameterf("Invalid value for Metadata: KmsKeyId requires Encrypted to be \"true\"")
		}
		if err := checkKMSKey(mdKmsKeyID, k); err != nil {
			return err
		}
	}
	if v, ok := md[mdPerformanceMode]; ok && v != "generalPurpose" && v != "maxIO" {
		return backup.InvalidParameterf("Invalid value for Metadata PerformanceMode: %q; use generalPurpose or maxIO", v)
	}
	if v, ok := md[mdCreationToken]; ok {
		if v == "" || len(v) > 64 {
			return backup.InvalidParameterf("Invalid value for Metadata CreationToken: it must be 1 to 64 characters")
		}
		if p.newFS {
			p.creationToken = v
		}
	}
	if v, ok := md[mdItemsToRestore]; ok {
		items, err := parseItems(v)
		if err != nil {
			return err
		}
		p.items = items
	}
	return nil
}

// parseItems parses ItemsToRestore: a JSON list of 1 to 5 distinct paths
// relative to the file system's root, each with or without a leading "/".
// It returns them relative to the snapshot root ("a/b"). Paths are checked
// for form only here; ValidateIncludes checks them against the snapshot.
func parseItems(v string) ([]string, error) {
	var list []string
	if err := json.Unmarshal([]byte(v), &list); err != nil {
		return nil, backup.InvalidParameterf("Invalid value for Metadata ItemsToRestore: it must be a JSON list of paths such as [\"/dir/file\"]: %v", err)
	}
	if len(list) == 0 {
		return nil, backup.InvalidParameterf("Invalid value for Metadata ItemsToRestore: the list is empty; omit ItemsToRestore to restore everything")
	}
	if len(list) > maxItemsToRestore {
		return nil, backup.InvalidParameterf("Invalid value for Metadata ItemsToRestore: %d paths; at most %d may be restored at once", len(list), maxItemsToRestore)
	}
	out := make([]string, 0, len(list))
	for _, raw := range list {
		rel := strings.TrimPrefix(raw, "/")
		bad := func(why string) ([]string, error) {
			return nil, backup.InvalidParameterf("Invalid value for Metadata ItemsToRestore: path %q %s", raw, why)
		}
		switch {
		case rel == "" || rel == ".":
			return bad("names the root; omit ItemsToRestore to restore everything")
		case strings.HasPrefix(rel, "/"):
			return bad("is not relative to the file system's root")
		case strings.ContainsRune(rel, 0):
			return bad("contains a NUL byte")
		}
		for _, part := range strings.Split(strings.TrimSuffix(rel, "/"), "/") {
			switch part {
			case "..":
				return bad("escapes the file system's root (\"..\")")
			case ".", "":
				return bad("is not a clean path (empty or \".\" element)")
			}
		}
		rel = strings.TrimSuffix(rel, "/")
		if slices.Contains(out, rel) {
			return bad("is listed twice")
		}
		out = append(out, rel)
	}
	return out, nil
}

func (p *restorePlan) parseEBS(sourceSize int64) error {
	md := p.md
	if v, ok := md[mdVolumePath]; ok {
		if !filepath.IsAbs(v) || filepath.Clean(v) != v {
			return backup.InvalidParameterf("Invalid value for Metadata volumePath: %q must be a clean absolute path", v)
		}
		p.volumePath = v
	}
	if v, ok := md[mdVolumeSize]; ok {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1 || n > 64<<10 {
			return backup.InvalidParameterf("Invalid value for Metadata volumeSize: %q; give the size in GiB, 1 to 65536", v)
		}
		p.volumeSize = n << 30
	}
	if p.volumeSize > 0 && p.volumeSize <= (sourceSize+(1<<30-1))&^(1<<30-1) {
		// The backed-up size rounded up to whole GiB (what the recovery
		// point's restore metadata reports) is the backed-up volume
		// itself, restored exactly.
		p.volumeSize = 0
	}
	for _, k := range []string{mdIops, mdThroughput} {
		if v, ok := md[k]; ok {
			if n, err := strconv.ParseInt(v, 10, 64); err != nil || n < 1 {
				return backup.InvalidParameterf("Invalid value for Metadata %s: %q must be a positive integer", k, v)
			}
		}
	}
	if v, ok := md[mdVolumeType]; ok && !slices.Contains([]string{"gp2", "gp3", "io1", "io2", "st1", "sc1", "standard"}, v) {
		return backup.InvalidParameterf("Invalid value for Metadata volumeType: %q; use gp2, gp3, io1, io2, st1, sc1 or standard", v)
	}
	encrypted := false
	if v, ok := md[mdVolumeEncrypted]; ok {
		b, err := parseBool(mdVolumeEncrypted, v)
		if err != nil {
			return err
		}
		encrypted = b
		md[mdVolumeEncrypted] = strconv.FormatBool(b)
	}
	if k := md[mdVolumeKmsKeyID]; k != "" {
		if !encrypted {
			return backup.InvalidParameterf("Invalid value for Metadata: kmsKeyId requires encrypted to be \"true\"")
		}
		if err := checkKMSKey(mdVolumeKmsKeyID, k); err != nil {
			return err
		}
	}
	return nil
}

func (p *restorePlan) parseRDS() error {
	md := p.md
	p.dbID = md[mdDBInstanceIdentifier]
	if p.dbID == "" {
		return backup.MissingParameterf("Metadata dbInstanceIdentifier is required: the identifier of the new database (it must not name an existing one)")
	}
	if err := backup.ValidateDBIdentifier(p.dbID); err != nil {
		return backup.InvalidParameterf("Invalid value for Metadata dbInstanceIdentifier: %s", errMessage(err))
	}
	p.dbName = md[mdDBName]
	if p.dbName == "" {
		p.dbName = p.dbID
		md[mdDBName] = p.dbID
	}
	if !validDatabaseName(p.dbName) {
		return backup.InvalidParameterf("Invalid value for Metadata dbName: %q; use 1 to 63 letters, digits, '_' and '-', not starting with a digit", p.dbName)
	}
	if e, ok := md[mdEngine]; ok && e != "postgres" {
		return backup.InvalidParameterf("Invalid value for Metadata engine: %q; Coffer restores PostgreSQL databases (engine postgres)", e)
	}
	return nil
}

// validDatabaseName is the PostgreSQL connector's rule for new database
// names (checked again by the connector), so that a bad name is refused
// before the job is accepted.
func validDatabaseName(s string) bool {
	if s == "" || len(s) > 63 || (s[0] >= '0' && s[0] <= '9') {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// restoreRequest is the part of a StartRestoreJob request that an
// idempotent retry must repeat exactly (RequestHash).
type restoreRequest struct {
	RecoveryPoint, Role, Type string
	Metadata                  map[string]string
	CopyTags                  bool
}

func (r *restoreRequest) hash() string {
	b, _ := json.Marshal(r) // maps marshal with sorted keys
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:16])
}

// StartRestoreJob accepts a restore of a recovery point and returns at
// once; the job runs in the background and is followed with
// DescribeRestoreJob. Everything that can be checked before anything is
// written is checked here (the metadata, ItemsToRestore against the
// snapshot, the target file system, a free database name); what can only
// fail while writing (a full or unwritable target) makes the job FAILED
// with the cause.
//
// Decisions where AWS is silent:
//   - The recovery point must be in the call region (ResourceNotFound
//     naming its region otherwise) and usable (COMPLETED or AVAILABLE);
//     any other status → InvalidRequestException naming it.
//   - ResourceType, when given, must be EFS, EBS or RDS
//     (InvalidParameterValueException naming them) and the recovery
//     point's type.
//   - IdempotencyToken as for backup jobs: the same token with the same
//     parameters within Deps.Data.IdempotencyTTL returns the first job;
//     with different parameters → InvalidRequestException.
//   - CopySourceTagsToRestoredResource copies the recovery point's tags
//     (the tags Coffer holds from backup time) to the created resource.
func (s *Service) StartRestoreJob(ctx context.Context, in *backupapi.StartRestoreJobInput) (*backupapi.StartRestoreJobOutput, error) {
	out, err := s.startRestoreJob(ctx, in)
	return out, apiError(err)
}

func (s *Service) startRestoreJob(ctx context.Context, in *backupapi.StartRestoreJobInput) (*backupapi.StartRestoreJobOutput, error) {
	if err := s.needJobs(); err != nil {
		return nil, err
	}
	region, err := s.region(ctx)
	if err != nil {
		return nil, err
	}
	arn := str(in.RecoveryPointArn)
	if arn == "" {
		return nil, backup.MissingParameterf("RecoveryPointArn is required")
	}
	if in.Metadata == nil {
		return nil, backup.MissingParameterf("Metadata is required: the restore metadata map (see GetRecoveryPointRestoreMetadata)")
	}
	ref, err := backup.ParseRecoveryPointARN(arn)
	if err != nil {
		return nil, backup.ForField("RecoveryPointArn", err)
	}
	if err := s.checkServed(arn, ref.Region, ref.AccountID, "recovery point"); err != nil {
		return nil, err
	}
	if ref.Region != region {
		return nil, backup.NotFoundf("recovery point %s not found in region %s: it is in region %s; send the request to that region", arn, region, ref.Region)
	}
	if t := str(in.ResourceType); t != "" {
		if err := backup.CheckSupportedResourceType(backup.ResourceType(t)); err != nil {
			return nil, backup.ForField("ResourceType", err)
		}
	}
	role := str(in.IamRoleArn)
	if role != "" {
		if err := s.checkRole(role); err != nil {
			return nil, err
		}
	}
	rp, err := s.store.GetRecoveryPoint(ctx, arn)
	if err != nil {
		if backup.KindOf(err) == backup.KindNotFound {
			return nil, backup.NotFoundf("recovery point %s not found", arn)
		}
		return nil, err
	}
	if rp.Region != region || rp.AccountID != s.account {
		return nil, backup.NotFoundf("recovery point %s not found in region %s", arn, region)
	}
	if !rp.Status.Usable() {
		return nil, backup.InvalidRequestf("recovery point %s is %s; only COMPLETED recovery points can be restored", arn, rp.Status)
	}
	if rp.Engine.SnapshotID == "" {
		return nil, backup.InvalidRequestf("recovery point %s holds no data Coffer can restore", arn)
	}
	if t := backup.ResourceType(str(in.ResourceType)); t != "" && t != rp.ResourceType {
		return nil, backup.InvalidParameterf("Invalid value for ResourceType: %s, but recovery point %s is a backup of an %s resource", t, arn, rp.ResourceType)
	}
	if _, err := s.data.Connectors.Get(rp.ResourceType); err != nil {
		return nil, err
	}
	sourceID := ""
	if r, err := backup.ParseResourceARN(rp.ResourceArn); err == nil {
		sourceID = r.ID
	}
	plan, err := parseRestoreMetadata(rp.ResourceType, in.Metadata, sourceID, rp.Engine.LogicalBytes)
	if err != nil {
		return nil, err
	}
	if err := s.checkRestoreTarget(ctx, region, rp, plan); err != nil {
		return nil, err
	}

	copyTags := in.CopySourceTagsToRestoredResource != nil && *in.CopySourceTagsToRestoredResource
	req := restoreRequest{RecoveryPoint: arn, Role: role, Type: string(rp.ResourceType), Metadata: plan.md, CopyTags: copyTags}
	hash := req.hash()
	token := str(in.IdempotencyToken)
	now := s.now()
	j := backup.Job{
		ID:               s.data.IDs.JobID(),
		Kind:             backup.RestoreJob,
		Region:           region,
		AccountID:        s.account,
		State:            backup.JobPending,
		CreationDate:     now,
		ResourceArn:      rp.ResourceArn,
		ResourceType:     rp.ResourceType,
		ResourceName:     rp.ResourceName,
		IamRoleArn:       role,
		IdempotencyToken: token,
		RequestHash:      hash,
		Restore: &backup.RestoreDetails{
			RecoveryPointArn:                 rp.ARN,
			BackupVaultArn:                   rp.VaultArn,
			RecoveryPointCreationDate:        rp.CreationDate,
			Metadata:                         plan.md,
			CopySourceTagsToRestoredResource: copyTags,
			ExpectedCompletionTimeMinutes:    expectedRestoreMinutes(rp),
		},
	}
	stored, created, err := s.data.Jobs.Submit(ctx, j, s.data.IdempotencyTTL)
	if err != nil {
		return nil, err
	}
	if err := s.checkSubmitted(stored, created, backup.RestoreJob, token, hash); err != nil {
		return nil, err
	}
	return &backupapi.StartRestoreJobOutput{RestoreJobId: &stored.ID}, nil
}

// expectedRestoreMinutes estimates a restore's duration from the size of
// the backed-up data (at least one minute).
func expectedRestoreMinutes(rp backup.RecoveryPoint) int64 {
	n := max(rp.Engine.LogicalBytes, rp.BackupSizeInBytes)
	return max(1, (n+restoreBytesPerMinute-1)/restoreBytesPerMinute)
}

// checkRestoreTarget checks, before the job is accepted, what the plan
// needs outside the request: the include paths exist in the snapshot, the
// target file system exists, the volume path is free, the database name is
// free.
func (s *Service) checkRestoreTarget(ctx context.Context, region string, rp backup.RecoveryPoint, p *restorePlan) error {
	switch p.typ {
	case backup.EFS:
		if p.newFS {
			if s.data.RestoreRoot == "" {
				return backup.InvalidRequestf("this Coffer endpoint has no restore_root configured; restore into an existing file system (newFileSystem false) instead")
			}
		} else {
			if _, err := s.lookupResource(ctx, backup.ResourceARN(backup.EFS, region, s.account, p.fsID), region); err != nil {
				if backup.KindOf(err) == backup.KindNotFound {
					return backup.NotFoundf("file system %s (Metadata file-system-id) not found in region %s: it is neither declared in Coffer's configuration nor created by a restore", p.fsID, region)
				}
				return err
			}
		}
		if len(p.items) > 0 {
			return s.checkItems(ctx, rp, p.items)
		}
	case backup.EBS:
		if p.volumePath == "" && s.data.RestoreRoot == "" {
			return backup.InvalidRequestf("this Coffer endpoint has no restore_root configured; give the new volume's image path as Metadata volumePath")
		}
		if p.volumeSize > 0 && p.volumeSize < rp.Engine.LogicalBytes {
			return backup.InvalidParameterf("Invalid value for Metadata volumeSize: %d GiB is smaller than the backed-up volume (%d bytes)", p.volumeSize>>30, rp.Engine.LogicalBytes)
		}
		if p.volumePath != "" {
			if _, err := os.Lstat(p.volumePath); err == nil {
				return backup.InvalidParameterf("Invalid value for Metadata volumePath: %s exists; a restore creates a new volume and never overwrites one", p.volumePath)
			}
			if fi, err := os.Stat(filepath.Dir(p.volumePath)); err != nil || !fi.IsDir() {
				return backup.InvalidParameterf("Invalid value for Metadata volumePath: the directory %s does not exist", filepath.Dir(p.volumePath))
			}
		}
	case backup.RDS:
		newARN := backup.ResourceARN(backup.RDS, region, s.account, p.dbID)
		if _, err := s.lookupResource(ctx, newARN, region); err == nil {
			return backup.InvalidParameterf("Invalid value for Metadata dbInstanceIdentifier: database %s already exists (%s); choose a new identifier", p.dbID, newARN)
		} else if backup.KindOf(err) != backup.KindNotFound {
			return err
		}
		src, err := s.restoreSource(ctx, rp)
		if err != nil {
			return err
		}
		conn, err := s.data.Connectors.Get(backup.RDS)
		if err != nil {
			return err
		}
		if tc, ok := conn.(connector.TargetChecker); ok {
			cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			err := tc.CheckTarget(cctx, connector.RestoreRequest{Target: src.Target, Database: p.dbName})
			cancel()
			if errors.Is(err, connector.ErrTargetExists) {
				return backup.InvalidParameterf("Invalid value for Metadata dbName: database %q already exists on the server of %s; choose a new name", p.dbName, rp.ResourceArn)
			}
			// Other errors (a server that does not answer now) are the
			// job's to report.
		}
	}
	return nil
}

// restoreSource returns the backed-up resource of a recovery point (a
// declared one or one created by a restore), wherever its region: an RDS
// restore creates its database on that resource's server.
func (s *Service) restoreSource(ctx context.Context, rp backup.RecoveryPoint) (backup.Resource, error) {
	ref, err := backup.ParseResourceARN(rp.ResourceArn)
	if err != nil {
		return backup.Resource{}, backup.InvalidRequestf("recovery point %s names resource %s, which Coffer cannot restore to", rp.ARN, rp.ResourceArn)
	}
	r, err := s.lookupResource(ctx, rp.ResourceArn, ref.Region)
	if err != nil {
		if backup.KindOf(err) == backup.KindNotFound {
			return backup.Resource{}, backup.InvalidRequestf("the database server of recovery point %s is unknown: its resource %s is no longer declared in Coffer's configuration, so Coffer does not know where to create the new database", rp.ARN, rp.ResourceArn)
		}
		return backup.Resource{}, err
	}
	return r, nil
}

// checkItems resolves ItemsToRestore in the recovery point's snapshot,
// loading only the trees on their paths: a path that does not exist, or
// that passes through a symlink, is refused.
func (s *Service) checkItems(ctx context.Context, rp backup.RecoveryPoint, items []string) error {
	vr, snap, err := s.openRecoveryPoint(ctx, rp)
	if err != nil {
		return err
	}
	err = archive.ValidateIncludes(ctx, vr.Archive, snap, items)
	if err == nil {
		return nil
	}
	var pe *archive.PathError
	if errors.As(err, &pe) && (errors.Is(err, archive.ErrPathNotFound) || errors.Is(err, archive.ErrInvalidPath)) {
		why := "does not exist in recovery point " + rp.ARN
		if errors.Is(err, archive.ErrInvalidPath) {
			why = "is not a valid path: " + strings.TrimPrefix(pe.Err.Error(), archive.ErrInvalidPath.Error()+": ")
		}
		return backup.InvalidParameterf("Invalid value for Metadata ItemsToRestore: path %q %s", "/"+pe.Path, why)
	}
	return unavailable(err, "the data of recovery point %s cannot be read now; try again later", rp.ARN)
}

// openRecoveryPoint opens the repository holding a recovery point's data
// and returns its snapshot ID.
func (s *Service) openRecoveryPoint(ctx context.Context, rp backup.RecoveryPoint) (*vault.Repo, archive.ID, error) {
	key := backup.VaultKey{Region: rp.Region, AccountID: rp.AccountID, Name: rp.VaultName}
	v, err := s.store.GetVault(ctx, key)
	if err != nil {
		if backup.KindOf(err) == backup.KindNotFound {
			return nil, archive.ID{}, backup.NotFoundf("backup vault %s of recovery point %s not found", key.Name, rp.ARN)
		}
		return nil, archive.ID{}, err
	}
	vr, err := s.data.Vaults.Open(ctx, v)
	if err != nil {
		return nil, archive.ID{}, unavailable(err, "the storage of backup vault %s cannot be opened; try again later", v.Name)
	}
	if rp.Engine.Repository != "" && rp.Engine.Repository != vr.ID {
		return nil, archive.ID{}, backup.InvalidRequestf("the data of recovery point %s is in repository %s, not in the storage of backup vault %s", rp.ARN, rp.Engine.Repository, v.Name)
	}
	id, err := repo.ParseID(rp.Engine.SnapshotID)
	if err != nil {
		return nil, archive.ID{}, backup.InvalidRequestf("recovery point %s has a malformed snapshot ID", rp.ARN)
	}
	return vr, archive.ID(id), nil
}

// restoreDirName is the directory an EFS restore writes into at the file
// system's root, as AWS names it: aws-backup-restore_2022-09-06T00-03-13-832Z.
func restoreDirName(t time.Time) string {
	return restoreDirPrefix + t.UTC().Format("2006-01-02T15-04-05-000Z")
}

// Names of the directories EFS restores create at a file system's root.
const (
	restoreDirPrefix       = "aws-backup-restore_"
	failedRestoreDirPrefix = "aws-backup-failed-restore_"
)

// failedRestoreDir returns where a failed restore's directory is moved.
func failedRestoreDir(dir string) string {
	base := filepath.Base(dir)
	return filepath.Join(filepath.Dir(dir), failedRestoreDirPrefix+strings.TrimPrefix(base, restoreDirPrefix))
}

// derivedID returns a resource ID (prefix + 17 hex digits) derived from a
// job ID, so that every attempt of the job, and the cleanup after a crash,
// name the same resource.
func derivedID(prefix, jobID string) string {
	sum := sha256.Sum256([]byte("coffer/restore/" + jobID))
	return prefix + hex.EncodeToString(sum[:])[:17]
}

// stagingDatabase is the staging database name of an RDS restore job.
func stagingDatabase(jobID string) string {
	return "coffer_restore_" + strings.ToLower(strings.ReplaceAll(jobID, "-", ""))
}
