// Package service is Coffer's hand-written implementation of the AWS
// Backup API: it turns the generated API shapes (package backupapi) into
// domain work (package backup) over the metadata store (package meta), and
// domain errors back into the modeled AWS exceptions.
//
// Vocabulary:
//
//   - Service: the type that implements backupapi.Service. It embeds
//     backupapi.Unimplemented, so every operation it does not define
//     answers 501 NotImplementedException naming the operation; the
//     operations it defines are listed in Implemented (coverage_gen.go,
//     written by `go generate` from the methods in this package).
//   - Deps: what a Service needs from the outside — the store, the clock,
//     the logger, the account, the served regions and how to learn the
//     region of a call. New checks them once.
//   - Call region: the region a request addressed, taken from its SigV4
//     credential scope (Deps.CallerRegion); the default region when the
//     request carried none (authentication off). Every name a request uses
//     (a vault name, a settings scope) is resolved in that region and in
//     the configured account.
//   - Served region: a region of the configuration. An ARN that names
//     another region is answered with ResourceNotFoundException naming it;
//     an ARN of another account names nothing Coffer holds, so it is not
//     found either.
//   - Translation table: apiError (errors.go) maps each backup error Kind to
//     one modeled exception. Every method returns its errors through it.
//     Errors without a Kind (a store failure, a bug) pass through
//     untranslated; the generated handler logs them and answers 500
//     InternalFailure without their text, so no SQL or I/O detail ever
//     reaches a caller.
//   - Default key: the KMS key ARN a vault reports when it was created
//     without EncryptionKeyArn: arn:aws:kms:REGION:ACCOUNT:key/ID with an ID
//     derived from the account and region, so it is the same for every
//     vault of a region and across restarts (DefaultKeyARN).
//
// Files: service.go (Service, Deps, New, call context), errors.go (the
// translation table), vaults.go (create/describe/list/delete),
// vaultconfig.go (access policy, notifications, vault lock), tags.go,
// settings.go (supported types, region and global settings). Job, recovery
// point, copy and restore operations live in files of their own.
package service
