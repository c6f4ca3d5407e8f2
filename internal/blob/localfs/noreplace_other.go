//go:build !linux

package localfs

// renameNoReplace moves tmp to final unless final exists, atomically, with
// link+unlink.
func renameNoReplace(tmp, final string) error { return linkNoReplace(tmp, final) }
