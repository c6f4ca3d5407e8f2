// Package blobtest is the conformance suite for blob.Store: the contract of
// package blob in executable form. A driver's or decorator's test file is a
// few lines:
//
//	func TestConformance(t *testing.T) {
//		blobtest.Run(t, func(t *testing.T) blob.Store {
//			s, err := localfs.New(context.Background(), localfs.Options{Root: t.TempDir()})
//			if err != nil {
//				t.Fatal(err)
//			}
//			return s
//		})
//	}
//
// Vocabulary:
//   - Factory: the newStore function given to Run. It returns a new, empty
//     Store for one subtest. Subtests run in parallel, so the factory must be
//     safe for concurrent use. The suite closes every Store it gets; the
//     factory must not (it may register t.Cleanup for other resources such
//     as a temporary directory or bucket).
//   - Case: one subtest of Run, named after the part of the contract it
//     checks (RoundTrip, Ranges, PutIfAbsentRace, ...).
//
// Benchmark measures Put, PutIfAbsent and Get throughput with the same
// kind of factory, for comparing drivers and decorators.
//
// Names used by the suite never make one object's name a directory prefix of
// another's ("a" and "a/b"), which file-system drivers cannot store.
package blobtest
