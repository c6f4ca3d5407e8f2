// Package mem is an in-memory blob.Store for unit tests of the packages
// above blob. It keeps the full contract of blob.Store (names, ranges,
// PutIfAbsent, contexts) so that code tested against it behaves the same on
// real storage. Nothing is persisted; Close drops nothing either, so a test
// may keep reading a Store after handing it to code that closes it.
//
// Vocabulary:
//   - Store: a map from name to an immutable byte slice, guarded by a mutex.
//     Put stores a copy of the caller's data; Get reads from the stored
//     slice, which is never modified afterwards.
package mem
