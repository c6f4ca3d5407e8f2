package s3test

import "syscall"

// sysProcAttr kills the server when the test process dies, so that a
// crashed or killed test never leaves a versitygw behind.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
