// Package retry is a blob.Store decorator that retries transient failures
// with capped exponential backoff and jitter.
//
// Vocabulary:
//   - Transient error: one that wraps blob.ErrUnavailable and none of the
//     other sentinels, while the call's context is still live. Only these
//     are retried (Options.Retryable can narrow or widen that). ErrNotFound,
//     ErrExists, ErrNoSpace, ErrInvalidName, ErrInvalidRange and context
//     errors are returned at once.
//   - Attempt: one call to the inner store. An operation makes at most
//     Options.MaxAttempts attempts and stops early when the next wait would
//     end more than Options.MaxElapsed after the first attempt started. When
//     it gives up, the error says so and still wraps the last error (so
//     errors.Is(err, blob.ErrUnavailable) holds).
//   - Backoff: the wait before attempt n+1 is
//     min(MaxBackoff, InitialBackoff * Multiplier^(n-1)), of which a
//     fraction Jitter is replaced by a uniformly random amount (so waits of
//     concurrent clients spread out). Waits use Options.Clock, so tests with
//     a fake clock run instantly; a cancelled context ends a wait at once.
//
// Per operation:
//   - Put, Stat, Delete: retried as they are (all idempotent).
//   - PutIfAbsent: after an attempt failed with a transient error, the write
//     may have reached the storage anyway (the acknowledgement was lost). If
//     a later attempt then gets ErrExists, the stored object is read back
//     and, when it equals data byte for byte, the call succeeds. This is
//     sound because callers put unique content into claim objects (a lock
//     holds a random nonce); two racers writing identical bytes would both
//     be told they won.
//   - Get: the Get call is retried until a reader is handed out, and reads
//     are restartable: when a read fails transiently, the reader re-opens
//     the object at the first byte not yet returned and goes on, with the
//     same attempt budget (reset whenever a read makes progress). This
//     assumes the object is not replaced during the read, which holds for
//     Coffer's immutable, content-addressed objects.
//   - List: retried; names already passed to fn by a failed attempt are not
//     passed again (the decorator remembers every listed name for the
//     duration of the call).
package retry
