// Package e2e holds Coffer's end-to-end tests: they build the coffer binary,
// start `coffer serve` on 127.0.0.1 in a temp data directory, read the
// credentials it prints, and drive it with real clients — the AWS CLI,
// aws-sdk-go-v2 and (when installed) boto3 — across restarts and kills.
//
// Vocabulary:
//
//   - Binary: the coffer executable built once per test run (TestMain).
//   - Instance: one running `coffer serve` process with its banner (endpoint
//     and the exported credentials) and its stderr log.
//   - Stop: SIGTERM, then wait for a clean exit (graceful shutdown). Kill:
//     SIGKILL, no shutdown at all.
//
// The package has no non-test code besides this comment.
package e2e
