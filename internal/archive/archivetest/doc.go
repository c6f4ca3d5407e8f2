// Package archivetest holds helpers for tests of backup and restore, for
// this module's packages: a tree digest that compares two directory trees
// by paths, bytes, modes, owners, times, symlink targets, hard-link groups,
// xattrs and sparseness; a generator of awkward test trees; and MemRepo, an
// in-memory archive.Repo.
package archivetest
