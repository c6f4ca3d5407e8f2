// Package archtest holds tests about the shape of the code base itself: which
// package may import which. Arrows point down only:
//
//	cmd/*                      picks concrete drivers and wires everything
//	internal/server, service   HTTP and the API contract
//	internal/jobs              runs jobs
//	internal/archive           resources <-> repositories (backup, restore, copy)
//	internal/repo              deduplicating, encrypting repository
//	internal/blob              storage (local disk, S3)
//
// Storage never imports the API, the metadata store or the job runner; the
// engines never see API shapes; only cmd imports concrete store drivers.
package archtest
