//go:build unix && !linux

package demo

import "syscall"

// childAttr puts a service process in its own process group, so a Ctrl-C
// at the terminal reaches only the parent. Without Linux's parent-death
// signal, the child's end of its stdin pipe is what tells it that the
// parent died (see shop.Config.ExitOnStdinEOF).
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
