// Package repocli implements `coffer repo`, the low-level command line over
// one repository: init, backup (a directory, a stream from stdin, a volume
// image), snapshots, ls, restore, verify, gc, stats, forget and copy to a
// second repository. It is also the disaster-recovery path: given only a
// vault's storage location and its key material it lists the recovery
// points stored there (snapshots with their Meta) and restores one, with no
// metadata database.
//
// Vocabulary:
//   - Location: where a repository lives: --repo DIR (local disk) or the
//     --s3-* flags (an S3-compatible bucket and prefix). The copy
//     destination has the same flags with a "to-" prefix.
//   - Key material: the key-encryption key (KEK) that unwraps the
//     repository's data key: a named key in a key store directory
//     (--keystore DIR --key NAME), or a key file (--key-file FILE, a key
//     store file). Environment variables: COFFER_REPO, COFFER_KEYSTORE,
//     COFFER_KEY, COFFER_KEY_FILE, COFFER_S3_ENDPOINT, COFFER_S3_BUCKET,
//     COFFER_S3_PREFIX, COFFER_S3_REGION, AWS_ACCESS_KEY_ID,
//     AWS_SECRET_ACCESS_KEY.
//   - Snapshot reference: a full 64-digit ID, a unique hex prefix of one,
//     or "latest" (the newest snapshot, optionally of --path).
//
// Exit status: 0 success, 1 failure, 2 usage error, 3 a backup committed
// with warnings (files skipped or changed while read).
package repocli
