// Package fault is a blob.Store decorator that injects failures by rule, for
// tests of everything built on blob: transient outages, a full disk, lost
// acknowledgements, torn and corrupted objects, bit rot on read, latency.
// It is deterministic: given the same Seed and the same sequence of calls it
// injects the same faults.
//
// Vocabulary:
//   - Op: a set of operations a Rule applies to (OpPut, OpGet, OpRead, ...).
//     OpGet is the Get call itself; OpRead is reading from the reader a Get
//     returned. A zero Op means every operation.
//   - Rule: which calls to hit (Ops, a name Prefix and an optional Match
//     function, After, Times, Probability) and what happens to them (Kind,
//     Err, Keep, Offset, Latency). Rules are checked in order; the first
//     one that fires decides the call's fate. The reader kinds (FlipByte,
//     Truncate, ReadFail) need OpRead in Ops; the write kinds need OpPut
//     or OpPutIfAbsent; elsewhere they act like Pass.
//   - Firing: a rule fires on a matching call once After matching calls have
//     passed, at most Times times (0: no limit), each time with Probability
//     (0 or 1: always), drawn from the Store's seeded random source. For
//     OpRead rules the decision is made when Get returns the reader.
//   - Kind: the effect. Errors default to blob.ErrUnavailable.
//     Fail          the call fails before it reaches the inner store.
//     FailAfter     the call takes effect, then fails (a lost acknowledgement:
//     the object is stored but the caller sees an error).
//     TornWrite     Put/PutIfAbsent store only the first Keep bytes, then fail
//     (a crash in the middle of a write on storage that is not atomic).
//     TruncateWrite Put/PutIfAbsent store only the first Keep bytes and report
//     success (silent corruption).
//     CorruptWrite  Put/PutIfAbsent store the data with the byte at Offset
//     flipped (the last byte if Offset is past the end) and report success.
//     FlipByte      the reader returns the byte at object offset Offset
//     flipped (no effect when the range does not cover it).
//     Truncate      the reader ends (io.EOF) after Keep bytes.
//     ReadFail      the reader fails with Err after Keep bytes. Fail and
//     FailAfter do the same in an OpRead rule.
//     Pass          nothing but the rule's Latency.
//   - Latency: a wait on the Store's Clock before the call proceeds (any
//     Kind); it honours the call's context.
//
// The contract checks come first: a cancelled context or an invalid name
// fails the call as the inner store would, before any rule is consulted.
//
// Examples:
//
//	f := fault.New(mem.New("t"), fault.Options{Seed: 1})
//	// The third Put under "packs/" fails as if the disk were full.
//	f.AddRule(fault.Rule{Ops: fault.OpPut, Prefix: "packs/", After: 2, Times: 1, Kind: fault.Fail, Err: blob.ErrNoSpace})
//	// 20% of all calls fail transiently.
//	f.AddRule(fault.Rule{Probability: 0.2, Kind: fault.Fail})
//	// The next index read returns a corrupted byte.
//	f.AddRule(fault.Rule{Ops: fault.OpRead, Prefix: "index/", Times: 1, Kind: fault.FlipByte, Offset: 10})
//	// A crash in the middle of writing a pack, on non-atomic storage.
//	f.AddRule(fault.Rule{Ops: fault.OpPut, Prefix: "packs/", Times: 1, Kind: fault.TornWrite, Keep: 100})
//	// The storage goes away entirely, then comes back.
//	f.SetRules(fault.Rule{Kind: fault.Fail}); ...; f.Clear()
//
// Fired reports how often each rule has fired, by rule index, so a test can
// check that the fault it meant to inject really happened.
package fault
