// Package s3test starts a real S3-compatible server, versitygw with its
// POSIX backend, for tests of the S3 driver and of anything built on it.
//
//	srv := s3test.StartServer(t)           // stopped in t.Cleanup
//	store, err := s3.New(ctx, s3.Options{
//		Endpoint:  srv.URL,
//		Bucket:    srv.Bucket,
//		AccessKey: srv.AccessKey,
//		SecretKey: s3.Secret(srv.SecretKey),
//		Region:    srv.Region,
//	})
//
// Vocabulary:
//   - Binary: the versitygw executable. Binary looks in $COFFER_VERSITYGW,
//     then PATH, then $GOBIN and $(go env GOPATH)/bin, and when it finds none
//     runs "go install github.com/versity/versitygw/cmd/versitygw@v1.8.0"
//     once per machine (a file lock keeps parallel test binaries from
//     installing twice; the first install takes a few minutes). When the
//     binary cannot be found or installed the test is skipped, unless the CI
//     environment variable is set, in which case it fails.
//   - Server: one versitygw process on 127.0.0.1 and a free port, serving a
//     temporary directory, with generated root credentials. It starts in
//     about 0.1 s. Stop kills it and Restart starts it again on the same
//     port and directory, for outage tests.
//   - Bucket: a bucket on the Server; StartServer creates one and NewBucket
//     creates more, each empty and with a unique name.
package s3test
