//go:build !linux

package redistest

import "syscall"

// sysProcAttr has no parent-death signal outside Linux; Main still stops
// every child on a normal exit.
func sysProcAttr() *syscall.SysProcAttr { return nil }

// exited cannot tell without reaping the child here, so it reports false and
// startup failures surface as a readiness timeout instead.
func exited(pid int) bool { return false }
