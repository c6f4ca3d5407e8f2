// Package vault maps backup vaults to their repositories in storage and
// keeps them open.
//
// Vocabulary:
//
//   - Region storage: the root blob.Store of one served region (a local
//     directory or an S3 bucket and prefix, from the config; cmd/coffer
//     builds it, wrapped in the retry decorator). The Manager owns these.
//   - Vault repository: one repo.Repository per vault, under the prefix
//     Prefix(v) = "vaults/<name>/<vault creation time in Unix ms>" of its
//     region's storage (a PrefixStore over the region store). The creation
//     time makes a vault deleted and created again with the same name a new,
//     empty repository; the old one's data stays until removed by hand.
//   - Key: each repository's data key is wrapped by a key-encryption key
//     (KEK) from the keystore in the data directory, named KeyName(v) = the
//     vault's EncryptionKeyArn. The keystore plays KMS: a KMS key ARN Coffer
//     has not seen gets fresh key material on first use. Vaults sharing a
//     KMS key share a KEK, never a data key. Disaster recovery needs the
//     storage and the keystore file of that ARN.
//   - Deduplication domain: every repository a Manager creates is a member
//     of the domain keyed by DomainKeyName in the keystore: vaults share the
//     key that names chunks (and the chunker seed), never a data key. A
//     copy between two vaults then moves chunks as stored, re-encrypted but
//     not decompressed or re-hashed, and skips the chunks the destination
//     already holds. What it reveals: nothing to a reader of the storage
//     (chunk IDs exist only inside sealed pack trailers and index objects,
//     so identical data in two vaults cannot be correlated without both
//     vaults' data keys); whoever holds two vaults' KEKs, and can read both
//     anyway, can match their chunks. Repositories created before the domain existed keep
//     their own ID key; copies to and from them re-identify every chunk.
//   - Repo: an open vault repository handed out by Manager.Open; valid until
//     Manager.Close, never closed by its users. Repo.Archive adapts it to
//     archive.Repo for the engines (backup, restore, copy).
//
// How to open a vault's repository (backup, copy, restore jobs):
//
//	v, err := store.GetVault(ctx, key)           // meta
//	r, err := vaults.Open(ctx, v)                // created on first use
//	res, err := archive.BackupDir(ctx, r.Archive, dir, opts)
//	rp.Engine = r.EngineRef(res.ID.String())     // recorded in the recovery point
//
// A copy's destination that does not exist yet can adopt the source's
// chunker parameters with OpenWith(ctx, dst, OpenOptions{ChunkerParams: &p})
// so that later backups into it deduplicate against the copied data. After
// an error for which NeedsReopen is true, call Invalidate(r) so that the
// next Open opens the repository again. Manager.GC collects one vault's
// unreferenced data (after snapshots were deleted).
package vault
