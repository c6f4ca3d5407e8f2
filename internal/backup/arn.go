package backup

import (
	"strings"
)

// PartitionAWS is the only partition Coffer serves. Parsers also accept
// "aws-us-gov" and "aws-cn" so that such ARNs get a "not served" answer from
// the caller instead of a parse error.
const PartitionAWS = "aws"

var knownPartitions = map[string]bool{"aws": true, "aws-us-gov": true, "aws-cn": true}

// ARN is a parsed Amazon Resource Name:
// arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE. Resource may itself contain
// ':' and '/'.
type ARN struct {
	Partition string
	Service   string
	Region    string
	AccountID string
	Resource  string
}

// String formats the ARN.
func (a ARN) String() string {
	return "arn:" + a.Partition + ":" + a.Service + ":" + a.Region + ":" + a.AccountID + ":" + a.Resource
}

// ParseARN splits s into its six parts. It checks only the generic shape:
// the "arn" prefix, a known partition, a non-empty service and resource,
// and that region and account, when present, look like a region and a
// 12-digit account ID.
func ParseARN(s string) (ARN, error) {
	return parseARN("", s)
}

// parseARN is ParseARN with what (e.g. "backup vault ARN") for messages.
func parseARN(what, s string) (ARN, error) {
	if what == "" {
		what = "ARN"
	}
	if s == "" {
		return ARN{}, MissingParameterf("the %s is empty", what)
	}
	if len(s) > 2048 {
		return ARN{}, InvalidParameterf("the %s is longer than 2048 characters", what)
	}
	parts := strings.SplitN(s, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" {
		return ARN{}, InvalidParameterf("%q is not a valid %s: it must have the form arn:PARTITION:SERVICE:REGION:ACCOUNT_ID:RESOURCE", s, what)
	}
	a := ARN{Partition: parts[1], Service: parts[2], Region: parts[3], AccountID: parts[4], Resource: parts[5]}
	switch {
	case !knownPartitions[a.Partition]:
		return ARN{}, InvalidParameterf("%q is not a valid %s: unknown partition %q (Coffer serves %q)", s, what, a.Partition, PartitionAWS)
	case a.Service == "":
		return ARN{}, InvalidParameterf("%q is not a valid %s: the service is empty", s, what)
	case a.Region != "" && ValidateRegion(a.Region) != nil:
		return ARN{}, InvalidParameterf("%q is not a valid %s: %q is not a region name", s, what, a.Region)
	case a.AccountID != "" && ValidateAccountID(a.AccountID) != nil:
		return ARN{}, InvalidParameterf("%q is not a valid %s: the account ID must be 12 digits", s, what)
	case a.Resource == "":
		return ARN{}, InvalidParameterf("%q is not a valid %s: the resource part is empty", s, what)
	}
	return a, nil
}

// ValidateRegion checks that s looks like a region name: lowercase letters,
// digits and single hyphens, starting with a letter, at most 32 characters
// ("us-east-1", "eu-central-2", or a name Coffer's config declares such as
// "home-1"). Whether Coffer serves the region is the caller's question.
func ValidateRegion(s string) error {
	if s == "" {
		return MissingParameterf("the region is empty")
	}
	ok := len(s) <= 32 && s[0] >= 'a' && s[0] <= 'z' && s[len(s)-1] != '-' && !strings.Contains(s, "--")
	for i := 0; ok && i < len(s); i++ {
		c := s[i]
		ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'
	}
	if !ok {
		return InvalidParameterf("%q is not a valid region name", s)
	}
	return nil
}

// ValidateAccountID checks that s is a 12-digit account ID.
func ValidateAccountID(s string) error {
	if s == "" {
		return MissingParameterf("the account ID is empty")
	}
	if len(s) != 12 || !allDigits(s) {
		return InvalidParameterf("%q is not a valid account ID: it must be 12 digits", s)
	}
	return nil
}

// ValidateVaultName checks the model's pattern ^[a-zA-Z0-9\-\_]{2,50}$.
func ValidateVaultName(s string) error {
	if s == "" {
		return MissingParameterf("the backup vault name is empty")
	}
	if len(s) < 2 || len(s) > 50 || !allOf(s, isAlnum, "-_") {
		return InvalidParameterf("%q is not a valid backup vault name: it must be 2 to 50 characters of letters, digits, '-' and '_'", s)
	}
	return nil
}

// VaultKey identifies a backup vault: names are unique per region and
// account.
type VaultKey struct {
	Region    string
	AccountID string
	Name      string
}

// ARN returns arn:aws:backup:REGION:ACCOUNT:backup-vault:NAME.
func (k VaultKey) ARN() string { return VaultARN(k.Region, k.AccountID, k.Name) }

// String returns the ARN, for messages.
func (k VaultKey) String() string { return k.ARN() }

// VaultARN formats a backup vault ARN.
func VaultARN(region, accountID, name string) string {
	return BackupARN(BackupVaultKind, region, accountID, name)
}

// ParseVaultARN parses arn:aws:backup:REGION:ACCOUNT:backup-vault:NAME.
func ParseVaultARN(s string) (VaultKey, error) {
	r, err := ParseBackupARN(BackupVaultKind, s)
	if err != nil {
		return VaultKey{}, err
	}
	if err := ValidateVaultName(r.ID); err != nil {
		return VaultKey{}, InvalidParameterf("%q is not a valid backup vault ARN: %s", s, messageOf(err))
	}
	return VaultKey{Region: r.Region, AccountID: r.AccountID, Name: r.ID}, nil
}

// BackupARNKind is the resource-type word of an arn:aws:backup ARN.
type BackupARNKind string

// Resource kinds of the backup service's own ARNs.
const (
	BackupVaultKind        BackupARNKind = "backup-vault"
	BackupPlanKind         BackupARNKind = "backup-plan"
	RecoveryPointKind      BackupARNKind = "recovery-point"
	LegalHoldKind          BackupARNKind = "legal-hold"
	FrameworkKind          BackupARNKind = "framework"
	ReportPlanKind         BackupARNKind = "report-plan"
	RestoreTestingPlanKind BackupARNKind = "restore-testing-plan"
)

var backupARNNames = map[BackupARNKind]string{
	BackupVaultKind:        "backup vault ARN",
	BackupPlanKind:         "backup plan ARN",
	RecoveryPointKind:      "recovery point ARN",
	LegalHoldKind:          "legal hold ARN",
	FrameworkKind:          "framework ARN",
	ReportPlanKind:         "report plan ARN",
	RestoreTestingPlanKind: "restore testing plan ARN",
}

// BackupRef is a parsed arn:aws:backup:REGION:ACCOUNT:KIND:ID.
type BackupRef struct {
	Partition string
	Region    string
	AccountID string
	Kind      BackupARNKind
	ID        string
}

// ARN formats the reference.
func (r BackupRef) ARN() string {
	return ARN{Partition: r.Partition, Service: "backup", Region: r.Region, AccountID: r.AccountID, Resource: string(r.Kind) + ":" + r.ID}.String()
}

// BackupARN formats arn:aws:backup:REGION:ACCOUNT:KIND:ID.
func BackupARN(kind BackupARNKind, region, accountID, id string) string {
	return "arn:aws:backup:" + region + ":" + accountID + ":" + string(kind) + ":" + id
}

// ParseBackupARN parses an ARN of the backup service whose resource is
// KIND:ID, checking that region and account are present and that ID is
// non-empty and made of [A-Za-z0-9._-] (plan, hold and framework IDs, vault
// names). Use the specific parsers (ParseVaultARN, ParseRecoveryPointARN)
// for stricter checks.
func ParseBackupARN(kind BackupARNKind, s string) (BackupRef, error) {
	what := backupARNNames[kind]
	if what == "" {
		what = string(kind) + " ARN"
	}
	expected := "arn:aws:backup:REGION:ACCOUNT_ID:" + string(kind) + ":ID"
	a, err := parseARN(what, s)
	if err != nil {
		return BackupRef{}, expectShape(err, expected)
	}
	id, ok := strings.CutPrefix(a.Resource, string(kind)+":")
	switch {
	case a.Service != "backup":
		return BackupRef{}, InvalidParameterf("%q is not a valid %s: the service must be \"backup\" (expected %s)", s, what, expected)
	case !ok:
		return BackupRef{}, InvalidParameterf("%q is not a valid %s: the resource must start with %q (expected %s)", s, what, string(kind)+":", expected)
	case a.Region == "" || a.AccountID == "":
		return BackupRef{}, InvalidParameterf("%q is not a valid %s: region and account ID are required (expected %s)", s, what, expected)
	case id == "" || len(id) > 1024 || !allOf(id, isAlnum, "-_."):
		return BackupRef{}, InvalidParameterf("%q is not a valid %s: the ID must be letters, digits, '-', '_' and '.' (expected %s)", s, what, expected)
	}
	return BackupRef{Partition: a.Partition, Region: a.Region, AccountID: a.AccountID, Kind: kind, ID: id}, nil
}

// PlanARN formats arn:aws:backup:REGION:ACCOUNT:backup-plan:ID.
func PlanARN(region, accountID, planID string) string {
	return BackupARN(BackupPlanKind, region, accountID, planID)
}

// ParsePlanARN parses a backup plan ARN and returns its reference (ID is
// the plan ID).
func ParsePlanARN(s string) (BackupRef, error) { return ParseBackupARN(BackupPlanKind, s) }

// RecoveryPointFormat says which service's ARN names a recovery point; it
// follows from the resource type (see NewRecoveryPointARN).
type RecoveryPointFormat int

// Recovery point ARN formats.
const (
	// RecoveryPointBackup: arn:aws:backup:R:A:recovery-point:<lowercase uuid>
	// (EFS and every fully managed type).
	RecoveryPointBackup RecoveryPointFormat = iota + 1
	// RecoveryPointEBSSnapshot: arn:aws:ec2:R::snapshot/snap-<17 hex>; the
	// account field is empty.
	RecoveryPointEBSSnapshot
	// RecoveryPointRDSSnapshot: arn:aws:rds:R:A:snapshot:awsbackup:job-<uuid>.
	RecoveryPointRDSSnapshot
)

// RecoveryPointRef is a parsed recovery point ARN.
type RecoveryPointRef struct {
	ARN       string
	Partition string
	Region    string
	// AccountID is empty for EBS snapshots: their ARN has no account.
	AccountID string
	Format    RecoveryPointFormat
	// ID is the last part: the uuid, "snap-…", or "awsbackup:job-…".
	ID string
	// ResourceType is what the format implies: EBS for snapshots, RDS for
	// RDS snapshots, "" for backup-service points (look the point up).
	ResourceType ResourceType
}

const recoveryPointShapes = "arn:aws:backup:REGION:ACCOUNT_ID:recovery-point:ID, arn:aws:ec2:REGION::snapshot/snap-ID or arn:aws:rds:REGION:ACCOUNT_ID:snapshot:awsbackup:job-ID"

// ParseRecoveryPointARN parses any of the three recovery point ARN formats
// Coffer issues. Backup-service IDs are accepted in any [A-Za-z0-9._-] form
// (AWS uses other shapes for S3 and DynamoDB points); snapshots are checked
// strictly.
func ParseRecoveryPointARN(s string) (RecoveryPointRef, error) {
	const what = "recovery point ARN"
	a, err := parseARN(what, s)
	if err != nil {
		return RecoveryPointRef{}, expectShape(err, recoveryPointShapes)
	}
	bad := func(why string) (RecoveryPointRef, error) {
		return RecoveryPointRef{}, InvalidParameterf("%q is not a valid %s: %s (expected %s)", s, what, why, recoveryPointShapes)
	}
	if a.Region == "" {
		return bad("the region is empty")
	}
	ref := RecoveryPointRef{ARN: s, Partition: a.Partition, Region: a.Region, AccountID: a.AccountID}
	switch a.Service {
	case "backup":
		id, ok := strings.CutPrefix(a.Resource, "recovery-point:")
		if !ok || id == "" || !allOf(id, isAlnum, "-_.") {
			return bad("the resource must be recovery-point:ID")
		}
		if a.AccountID == "" {
			return bad("the account ID is empty")
		}
		ref.Format, ref.ID = RecoveryPointBackup, id
	case "ec2":
		id, ok := strings.CutPrefix(a.Resource, "snapshot/")
		if !ok || !IsSnapshotID(id) {
			return bad("the resource must be snapshot/snap- followed by 8 or 17 hex digits")
		}
		ref.Format, ref.ID, ref.ResourceType = RecoveryPointEBSSnapshot, id, EBS
	case "rds":
		id, ok := strings.CutPrefix(a.Resource, "snapshot:")
		uuid, ok2 := strings.CutPrefix(id, "awsbackup:job-")
		if !ok || !ok2 || !IsUUID(uuid) {
			return bad("the resource must be snapshot:awsbackup:job- followed by a UUID")
		}
		if a.AccountID == "" {
			return bad("the account ID is empty")
		}
		ref.Format, ref.ID, ref.ResourceType = RecoveryPointRDSSnapshot, id, RDS
	default:
		return bad("service " + a.Service + " does not name recovery points")
	}
	return ref, nil
}

// ResourceRef is a parsed resource ARN.
type ResourceRef struct {
	ARN       string
	Partition string
	Region    string
	AccountID string
	Type      ResourceType
	// ID is the resource's own ID: "fs-…", "vol-…", the RDS DB identifier,
	// a bucket or table name.
	ID string
}

// Supported returns nil when Coffer can back up and restore this type, and
// otherwise an InvalidParameter error saying so.
func (r ResourceRef) Supported() error {
	if r.Type.Supported() {
		return nil
	}
	return InvalidParameterf("resource type %s (%s) is not supported by Coffer; supported types are %s", r.Type, r.ARN, supportedList())
}

const resourceShapes = "arn:aws:elasticfilesystem:REGION:ACCOUNT_ID:file-system/fs-ID, arn:aws:ec2:REGION:ACCOUNT_ID:volume/vol-ID or arn:aws:rds:REGION:ACCOUNT_ID:db:NAME"

// ParseResourceARN parses the ARN of a protected resource and works out its
// type. EFS, EBS and RDS ARNs are checked strictly (see IsFileSystemID,
// IsVolumeID, ValidateDBIdentifier); the other types AWS Backup knows are
// recognised by service and resource prefix so that the caller can say
// "not supported by Coffer" (ResourceRef.Supported). Anything else is an
// InvalidParameter error.
func ParseResourceARN(s string) (ResourceRef, error) {
	const what = "resource ARN"
	a, err := parseARN(what, s)
	if err != nil {
		return ResourceRef{}, expectShape(err, resourceShapes)
	}
	bad := func(why string) (ResourceRef, error) {
		return ResourceRef{}, InvalidParameterf("%q is not a valid %s: %s (expected %s)", s, what, why, resourceShapes)
	}
	ref := ResourceRef{ARN: s, Partition: a.Partition, Region: a.Region, AccountID: a.AccountID}
	needRegionAccount := func() bool { return a.Region != "" && a.AccountID != "" }
	res := a.Resource
	switch a.Service {
	case "elasticfilesystem":
		id, ok := strings.CutPrefix(res, "file-system/")
		if !ok {
			return bad("an EFS resource must be file-system/fs-ID")
		}
		if !IsFileSystemID(id) {
			return bad("the file system ID must be fs- followed by 8 or 17 hex digits")
		}
		if !needRegionAccount() {
			return bad("region and account ID are required")
		}
		ref.Type, ref.ID = EFS, id
		return ref, nil
	case "ec2":
		if id, ok := strings.CutPrefix(res, "volume/"); ok {
			if !IsVolumeID(id) {
				return bad("the volume ID must be vol- followed by 8 or 17 hex digits")
			}
			if !needRegionAccount() {
				return bad("region and account ID are required")
			}
			ref.Type, ref.ID = EBS, id
			return ref, nil
		}
		if id, ok := strings.CutPrefix(res, "instance/"); ok && id != "" {
			ref.Type, ref.ID = EC2, id
			return ref, nil
		}
		if strings.HasPrefix(res, "snapshot/") {
			return bad("this is an EBS snapshot (a recovery point ARN), not a resource; use the volume's ARN")
		}
		return bad("an EC2 resource must be volume/vol-ID or instance/i-ID")
	case "rds":
		if name, ok := strings.CutPrefix(res, "db:"); ok {
			if err := ValidateDBIdentifier(name); err != nil {
				return bad(messageOf(err))
			}
			if !needRegionAccount() {
				return bad("region and account ID are required")
			}
			ref.Type, ref.ID = RDS, name
			return ref, nil
		}
		if name, ok := strings.CutPrefix(res, "cluster:"); ok && name != "" {
			ref.Type, ref.ID = Aurora, name
			return ref, nil
		}
		if strings.HasPrefix(res, "snapshot:") {
			return bad("this is an RDS snapshot (a recovery point ARN), not a resource; use the database's ARN")
		}
		return bad("an RDS resource must be db:NAME")
	}
	// Recognised but unsupported types.
	prefixes := []struct {
		service, prefix string
		t               ResourceType
	}{
		{"dynamodb", "table/", DynamoDB},
		{"s3", "", S3},
		{"fsx", "file-system/", FSx},
		{"storagegateway", "gateway/", StorageGateway},
		{"redshift", "cluster:", Redshift},
		{"timestream", "database/", Timestream},
		{"eks", "cluster/", EKS},
		{"cloudformation", "stack/", CloudFormation},
		{"backup-gateway", "vm/", VirtualMachine},
		{"ssm-sap", "HANA/", SAPHANA},
		{"docdb", "", DocumentDB},
		{"neptune-db", "", Neptune},
	}
	for _, p := range prefixes {
		if a.Service == p.service && strings.HasPrefix(res, p.prefix) && len(res) > len(p.prefix) {
			ref.Type, ref.ID = p.t, res[len(p.prefix):]
			return ref, nil
		}
	}
	return bad("service " + a.Service + " with resource " + strings.SplitN(res, "/", 2)[0] + " is not a resource AWS Backup protects")
}

// ResourceARN formats the ARN of a supported resource: EFS
// arn:aws:elasticfilesystem:R:A:file-system/ID, EBS arn:aws:ec2:R:A:volume/ID,
// RDS arn:aws:rds:R:A:db:ID. It returns "" for other types.
func ResourceARN(t ResourceType, region, accountID, id string) string {
	switch t {
	case EFS:
		return "arn:aws:elasticfilesystem:" + region + ":" + accountID + ":file-system/" + id
	case EBS:
		return "arn:aws:ec2:" + region + ":" + accountID + ":volume/" + id
	case RDS:
		return "arn:aws:rds:" + region + ":" + accountID + ":db:" + id
	}
	return ""
}

// ResourceTypeOf returns the resource type of a resource ARN.
func ResourceTypeOf(arn string) (ResourceType, error) {
	r, err := ParseResourceARN(arn)
	if err != nil {
		return "", err
	}
	return r.Type, nil
}

// RoleRef is a parsed IAM role ARN, arn:aws:iam::ACCOUNT:role/PATH/NAME.
type RoleRef struct {
	Partition string
	AccountID string
	// Path is "/" or "/a/b/".
	Path string
	Name string
}

const roleShape = "arn:aws:iam::ACCOUNT_ID:role/NAME or arn:aws:iam::ACCOUNT_ID:role/PATH/NAME"

// ParseRoleARN parses an IAM role ARN: empty region, 12-digit account,
// resource role/[PATH/]NAME where NAME is 1 to 64 of [A-Za-z0-9+=,.@_-]
// and each path element is printable ASCII without '/'.
func ParseRoleARN(s string) (RoleRef, error) {
	const what = "IAM role ARN"
	a, err := parseARN(what, s)
	if err != nil {
		return RoleRef{}, expectShape(err, roleShape)
	}
	bad := func(why string) (RoleRef, error) {
		return RoleRef{}, InvalidParameterf("%q is not a valid %s: %s (expected %s)", s, what, why, roleShape)
	}
	switch {
	case a.Service != "iam":
		return bad("the service must be \"iam\"")
	case a.Region != "":
		return bad("IAM ARNs have no region")
	case a.AccountID == "":
		return bad("the account ID is empty")
	}
	rest, ok := strings.CutPrefix(a.Resource, "role/")
	if !ok {
		return bad("the resource must start with \"role/\"")
	}
	if len(rest) > 512+64 {
		return bad("the role path and name are too long")
	}
	i := strings.LastIndexByte(rest, '/')
	path, name := "/", rest
	if i >= 0 {
		path, name = "/"+rest[:i+1], rest[i+1:]
		for _, el := range strings.Split(rest[:i], "/") {
			if el == "" || !allOf(el, func(c byte) bool { return c > 0x20 && c < 0x7f }, "") {
				return bad("the role path has an empty or non-printable element")
			}
		}
	}
	if name == "" || len(name) > 64 || !allOf(name, isAlnum, "+=,.@_-") {
		return bad("the role name must be 1 to 64 of letters, digits and +=,.@_-")
	}
	return RoleRef{Partition: a.Partition, AccountID: a.AccountID, Path: path, Name: name}, nil
}

// ValidateIAMRoleARN checks s with ParseRoleARN and, on failure, returns an
// error whose message names field (the request member, e.g. "IamRoleArn").
func ValidateIAMRoleARN(field, s string) error {
	_, err := ParseRoleARN(s)
	return ForField(field, err)
}

// KMSKeyRef is a parsed KMS key or alias ARN.
type KMSKeyRef struct {
	Partition string
	Region    string
	AccountID string
	// KeyID is set for arn:aws:kms:R:A:key/ID.
	KeyID string
	// Alias is set for arn:aws:kms:R:A:alias/NAME (without "alias/").
	Alias string
}

const kmsShape = "arn:aws:kms:REGION:ACCOUNT_ID:key/KEY_ID or arn:aws:kms:REGION:ACCOUNT_ID:alias/NAME"

// ParseKMSKeyARN parses a KMS key ARN (key/ID) or alias ARN (alias/NAME).
func ParseKMSKeyARN(s string) (KMSKeyRef, error) {
	const what = "KMS key ARN"
	a, err := parseARN(what, s)
	if err != nil {
		return KMSKeyRef{}, expectShape(err, kmsShape)
	}
	bad := func(why string) (KMSKeyRef, error) {
		return KMSKeyRef{}, InvalidParameterf("%q is not a valid %s: %s (expected %s)", s, what, why, kmsShape)
	}
	if a.Service != "kms" {
		return bad("the service must be \"kms\"")
	}
	if a.Region == "" || a.AccountID == "" {
		return bad("region and account ID are required")
	}
	ref := KMSKeyRef{Partition: a.Partition, Region: a.Region, AccountID: a.AccountID}
	if id, ok := strings.CutPrefix(a.Resource, "key/"); ok {
		if id == "" || len(id) > 256 || !allOf(id, isAlnum, "-") {
			return bad("the key ID must be letters, digits and '-'")
		}
		ref.KeyID = id
		return ref, nil
	}
	if name, ok := strings.CutPrefix(a.Resource, "alias/"); ok {
		if name == "" || len(name) > 256 || !allOf(name, isAlnum, "/_-") {
			return bad("the alias must be letters, digits and /_-")
		}
		ref.Alias = name
		return ref, nil
	}
	return bad("the resource must be key/ID or alias/NAME")
}

const snsShape = "arn:aws:sns:REGION:ACCOUNT_ID:TOPIC"

// ParseSNSTopicARN parses arn:aws:sns:REGION:ACCOUNT:TOPIC and returns the
// generic ARN.
func ParseSNSTopicARN(s string) (ARN, error) {
	const what = "SNS topic ARN"
	a, err := parseARN(what, s)
	if err != nil {
		return ARN{}, expectShape(err, snsShape)
	}
	if a.Service != "sns" || a.Region == "" || a.AccountID == "" || len(a.Resource) > 256 || !allOf(a.Resource, isAlnum, "-_.") {
		return ARN{}, InvalidParameterf("%q is not a valid %s (expected %s)", s, what, snsShape)
	}
	return a, nil
}

// expectShape appends "(expected SHAPE)" to an InvalidParameter message.
func expectShape(err error, shape string) error {
	e, ok := err.(*Error)
	if !ok || e.Kind != KindInvalidParameter {
		return err
	}
	c := *e
	c.Message += " (expected " + shape + ")"
	return &c
}

func isAlnum(c byte) bool {
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
}

func isLowerHex(c byte) bool { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') }

func allDigits(s string) bool {
	return allOf(s, func(c byte) bool { return c >= '0' && c <= '9' }, "")
}

// allOf reports whether every byte of s satisfies class or is in extra.
func allOf(s string, class func(byte) bool, extra string) bool {
	for i := 0; i < len(s); i++ {
		if !class(s[i]) && strings.IndexByte(extra, s[i]) < 0 {
			return false
		}
	}
	return true
}

// messageOf returns a *Error's message, or err.Error() for other errors.
func messageOf(err error) string {
	if e, ok := err.(*Error); ok {
		return e.Message
	}
	return err.Error()
}
