// Package awsproto is the hand-written rest-json runtime that the generated
// API layer (package backupapi) uses: the error envelope, timestamp codecs,
// query and path helpers. It knows the AWS wire protocol, not the Backup
// service.
package awsproto
