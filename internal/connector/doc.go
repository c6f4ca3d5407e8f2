// Package connector defines how Coffer reads the resources it backs up and
// writes the resources it restores, one Connector per resource type, and
// the inventory of resources declared in the configuration.
//
// Vocabulary:
//
//   - Resource: a backup.Resource — an ARN, a type, and a Target: a
//     directory (EFS), an image file or block device (EBS), or a PostgreSQL
//     connection string (RDS). Targets are never logged (connection strings
//     hold passwords).
//   - Source: reads a resource into a repository as one committed snapshot
//     (Backup), incrementally against a parent snapshot where the type
//     allows; Check says whether the resource can be read now.
//   - Target: writes a snapshot into a new resource (Restore): a directory,
//     a new image file, a new database.
//   - Connector: a Source and a Target for one type. Implementations:
//     connector/dir (EFS), connector/volume (EBS), connector/postgres (RDS).
//     A Set holds one per type.
//   - Inventory: the declared resources (config resources:), by ARN. Entries
//     that cannot be served (malformed or unsupported ARN, region or account
//     not served, duplicates, no target) are left out and reported; an entry
//     whose path or database is merely unavailable at start is served and
//     reported (each backup checks its source again).
//
// Errors: connectors wrap ErrUnavailable (the resource cannot be read now),
// ErrSourceFailed (reading failed part way; nothing was committed),
// ErrTargetExists and ErrNotSupported, with messages that name the resource
// and the cause — the text a failed job shows as its StatusMessage.
//
// Adding a resource type: implement Connector in a new subpackage, add it to
// the Set cmd/coffer builds, and teach backup.ParseResourceARN its ARN.
package connector
