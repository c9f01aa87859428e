//go:build linux

package demo

import "syscall"

// childAttr puts a service process in its own process group, so a Ctrl-C
// at the terminal reaches only the parent (which stops the children in
// order), and asks Linux to send it SIGTERM when the thread that started it
// ends (prctl PR_SET_PDEATHSIG): the parent's death, kill -9 included,
// leaves no orphan. Go checks after the prctl that the parent is still
// alive, so a parent dying during the start is caught too.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
}
