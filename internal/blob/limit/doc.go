// Package limit is a blob.Store decorator that bounds how many operations
// run at once against the inner store and counts the bytes and operations
// that pass through it, for statistics and benchmarks.
//
// Vocabulary:
//   - Read slot: held by Get from the call until the returned reader is
//     closed (so an unclosed reader keeps its slot: always close readers),
//     and by Stat for the call. At most Options.Reads slots exist.
//   - Write slot: held by Put, PutIfAbsent and Delete for the call. At most
//     Options.Writes slots exist.
//   - Waiting for a slot honours the context: a cancelled wait fails with
//     the context's error and never reaches the inner store.
//   - List takes no slot: its callback may call the store again, and a
//     listing that held a slot while its callback waited for another would
//     deadlock.
//   - Counters: bytes returned by readers, bytes of successful writes, and
//     completed operations by kind (see Stats). Options.OnRead and
//     Options.OnWrite are called with the same byte counts as they happen,
//     to feed rate meters.
package limit
