package redistest

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"syscall"
)

// sysProcAttr asks the kernel to SIGKILL the child when its parent dies, so a
// killed test binary leaves no redis-server behind. Linux ties this to the OS
// thread that started the child; the Go runtime keeps its threads alive for
// the life of the process unless a goroutine exits while locked to one.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}

// exited reports whether the process has exited (is a zombie or gone) without
// reaping it, by reading its state from /proc.
func exited(pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return errors.Is(err, os.ErrNotExist)
	}
	// Format: pid (comm) state ...; comm may contain spaces and parentheses.
	if i := bytes.LastIndexByte(stat, ')'); i >= 0 && i+2 < len(stat) {
		return stat[i+2] == 'Z' || stat[i+2] == 'X'
	}
	return false
}
