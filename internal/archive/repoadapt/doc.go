// Package repoadapt adapts the repository engine (*repo.Repository) to
// archive.Repo, the interface the archive layer is written against, and
// supplies the tree decoder the engine's Check and GC need (TreeRefs).
//
// Vocabulary: an Adapter wraps one open Repository; it owns nothing and
// closing it is the caller's business (close the Repository).
package repoadapt
